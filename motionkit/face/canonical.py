"""The canonical 3-D face: the mean, mirror-symmetric face mesh in a frontal frame, and the mesh's mirror pairs.

MediaPipe's wheel ships the face-geometry code but not its canonical model, so motionkit derives its own from the
landmark network itself, once (``python -m motionkit.face.canonical``; the result ships as
``assets/canonical_face.safetensors``):

1. Run detection + landmarks on each real photo (scikit-image's astronaut, matplotlib's Grace Hopper) and on its
   left-right mirror image; map the mirror image's points back (``x -> W - x``).
2. Mirror pairs: landmark ``i`` of the mirror image lands on the original's anatomical twin of ``i``; the optimal
   assignment (Hungarian, on distances) gives the permutation ``mirror``, checked to be an involution.
3. Relabel each mirrored mesh by ``mirror``; align all meshes by generalised Procrustes (similarity) and average.
4. Symmetrise: the mirror plane's normal ``n`` is the principal direction of ``p_i - p_mirror(i)``; the model is the
   mean of the shape and its reflection ``(I - 2 n n^T)`` relabelled by ``mirror``.
5. Frame (camera axes: ``x`` right, ``y`` up, ``z`` towards the viewer): ``x = n`` (towards the subject's left eye),
   ``y`` = chin (152) -> forehead (10) made orthogonal to ``x``, ``z = x cross y``; origin at the centroid; unit: the
   outer eye-corner (33-263) distance.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from motionkit.errors import FaceNotFoundError
from motionkit.face.pose import CAMERA_FROM_IMAGE, similarity_fit
from motionkit.face.weights import ASSETS
from motionkit.io.tensors import read_tensors, write_tensors

CANONICAL_FILE = "canonical_face.safetensors"
"""The canonical face in :data:`~motionkit.face.weights.ASSETS`: ``points`` (468, 3), ``mirror`` (468,)."""

FOREHEAD, CHIN = 10, 152
"""Mesh landmarks on the face's vertical midline (top of the forehead, bottom of the chin)."""

RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
"""The outer eye corners (the subject's right, then left): their distance is the canonical unit."""

PROCRUSTES_ROUNDS = 5
"""Generalised Procrustes iterations (the mean stops moving after two or three)."""


@dataclass(frozen=True)
class CanonicalFace:
    """``points`` (468, 3) in the camera frame and canonical units; ``mirror`` (468,) the mirror-twin permutation."""

    points: np.ndarray
    mirror: np.ndarray


@cache
def canonical_face() -> CanonicalFace:
    """The shipped canonical face."""
    tensors = read_tensors(
        ASSETS / CANONICAL_FILE,
        what="canonical face model",
        fix="reinstall motionkit or run python -m motionkit.face.canonical",
    )
    return CanonicalFace(tensors["points"].double().numpy(), tensors["mirror"].long().numpy())


def mirror_permutation(points: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """The permutation ``m`` with ``mirrored[i] ~ points[m[i]]`` (both (N, 3) in the same image frame)."""
    from scipy.optimize import linear_sum_assignment

    cost = np.linalg.norm(mirrored[:, None, :2] - points[None, :, :2], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    permutation = cols[np.argsort(rows)]
    if not np.array_equal(permutation[permutation], np.arange(len(points))):
        raise ValueError("the mirror assignment is not an involution; use sharper, more frontal photos")
    return permutation


def derive(meshes: list[tuple[np.ndarray, np.ndarray]]) -> CanonicalFace:
    """The canonical face from pairs (landmarks of a photo, landmarks of its mirror image mapped back), pixels."""
    mirror = mirror_permutation(*meshes[0])
    shapes = []
    for points, mirrored in meshes:
        shapes += [points * CAMERA_FROM_IMAGE, mirrored[mirror] * CAMERA_FROM_IMAGE]
    mean = shapes[0]
    for _ in range(PROCRUSTES_ROUNDS):
        aligned = []
        for shape in shapes:
            scale, rotation, translation = similarity_fit(shape, mean)
            aligned.append(scale * shape @ rotation.T + translation)
        mean = np.mean(aligned, axis=0)
    mean = mean - mean.mean(axis=0)
    difference = mean - mean[mirror]
    normal = np.linalg.eigh(difference.T @ difference)[1][:, -1]
    if normal @ (mean[LEFT_EYE_OUTER] - mean[RIGHT_EYE_OUTER]) < 0:
        normal = -normal
    reflection = np.eye(3) - 2 * np.outer(normal, normal)
    symmetric = (mean + (mean @ reflection.T)[mirror]) / 2
    up = symmetric[FOREHEAD] - symmetric[CHIN]
    up = up - (up @ normal) * normal
    up /= np.linalg.norm(up)
    axes = np.stack([normal, up, np.cross(normal, up)])
    points = (symmetric - symmetric.mean(axis=0)) @ axes.T
    points /= np.linalg.norm(points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER])
    return CanonicalFace(points, mirror)


def _photo_meshes() -> list[tuple[np.ndarray, np.ndarray]]:
    import matplotlib.cbook
    import skimage.data

    from motionkit.face.detector import FaceDetector
    from motionkit.face.landmarks import FaceLandmarker
    from motionkit.face.roi import FaceRegion
    from motionkit.face.sampling import image_tensor
    from motionkit.io.image import load_image

    detector, landmarker = FaceDetector(), FaceLandmarker()

    def mesh(image: np.ndarray) -> np.ndarray:
        faces = detector.detect(image_tensor(image))
        if not faces:
            raise FaceNotFoundError("no face in a canonical-model photo")
        return landmarker.locate(image, [FaceRegion.from_detection(faces[0])])[0].points

    photos = [
        skimage.data.astronaut(),
        load_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
    ]
    pairs = []
    for photo in photos:
        flipped = mesh(np.ascontiguousarray(photo[:, ::-1]))
        flipped[:, 0] = photo.shape[1] - flipped[:, 0]
        pairs.append((mesh(photo), flipped))
    return pairs


def main(argv: list[str] | None = None) -> None:
    """``python -m motionkit.face.canonical``: derive the canonical face and write it into the package's assets."""
    argparse.ArgumentParser(description=__doc__.split("\n", 1)[0]).parse_args(argv)
    face = derive(_photo_meshes())
    tensors = {"points": torch.from_numpy(face.points).float(), "mirror": torch.from_numpy(face.mirror).int()}
    write_tensors(ASSETS / CANONICAL_FILE, tensors, {"derivation": "motionkit.face.canonical"})
    paired = int((face.mirror != np.arange(len(face.mirror))).sum())
    print(f"wrote {ASSETS / CANONICAL_FILE}: {len(face.points)} points, {paired} in mirror pairs")


if __name__ == "__main__":
    main()
