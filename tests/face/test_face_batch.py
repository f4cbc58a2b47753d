"""The batched face stack: many frames through two network calls give what one frame at a time gives."""

from __future__ import annotations

import numpy as np
import pytest

from motionkit.errors import ShapeError
from motionkit.face.roi import FaceRegion
from motionkit.face.stack import Face, FaceStack

BATCH_TOLERANCE = 1e-4
"""Landmark difference allowed between a batch and single calls, as a fraction of the region's side: the same float32
arithmetic, only grouped differently by the convolution kernels for another batch size (relative rounding ~1e-6 per
layer over ~100 layers, on coordinates of the order of the 192-px crop; measured ~1e-6)."""


def _frames(images: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Real faces of two sizes, a shifted copy, a face-free frame and a drawn face."""
    astronaut = images["astronaut"]
    return [
        astronaut,
        images["grace_hopper"],
        np.roll(astronaut, 7, axis=1),
        np.full((300, 200, 3), 90, dtype=np.uint8),
        images["synthetic"],
    ]


def _assert_same_faces(batched: list[Face], single: list[Face]) -> None:
    assert len(batched) == len(single)
    for one, other in zip(batched, single):
        side = other.landmarks.region.side
        assert np.abs(one.points - other.points).max() <= BATCH_TOLERANCE * side
        assert one.landmarks.presence == pytest.approx(other.landmarks.presence, abs=1e-5)
        assert one.detection is not None
        assert other.detection is not None
        assert np.allclose(one.detection.box, other.detection.box, atol=BATCH_TOLERANCE * side)
        assert one.pose.yaw == pytest.approx(other.pose.yaw, abs=1e-2)


def test_a_batch_of_frames_equals_one_frame_at_a_time(stack: FaceStack, images: dict[str, np.ndarray]) -> None:
    frames = _frames(images)
    batched = stack.faces_batch(frames)
    assert len(batched) == len(frames)
    assert [len(faces) for faces in batched][:4] == [1, 1, 1, 0]  # the blank frame keeps its (empty) place
    for faces, frame in zip(batched, frames):
        _assert_same_faces(faces, stack.faces(frame))


def test_an_array_of_frames_equals_the_list(stack: FaceStack, images: dict[str, np.ndarray]) -> None:
    astronaut = images["astronaut"]
    video = np.stack([astronaut, np.roll(astronaut, 4, axis=0), astronaut[:, ::-1]])
    from_array = stack.faces_batch(video)
    from_list = stack.faces_batch(list(video))
    for a, b in zip(from_array, from_list):
        assert len(a) == len(b) == 1
        assert np.array_equal(a[0].points, b[0].points)
    with pytest.raises(ShapeError, match=r"\(N, H, W, 3\)"):
        stack.faces_batch(astronaut)


def test_regions_of_several_images_in_one_landmark_call(stack: FaceStack, images: dict[str, np.ndarray]) -> None:
    pairs = []
    for name in ("astronaut", "grace_hopper"):
        detection = stack.detect(images[name])[0]
        pairs.append((images[name], FaceRegion.from_detection(detection)))
    batched = stack.landmarker.locate_batch(pairs)
    for mesh, (image, region) in zip(batched, pairs):
        single = stack.landmarker.locate(image, [region])[0]
        assert mesh.region == region
        assert np.abs(mesh.points - single.points).max() <= BATCH_TOLERANCE * region.side
    assert stack.landmarker.locate_batch([]) == []
    assert stack.detector.detect_batch([]) == []
