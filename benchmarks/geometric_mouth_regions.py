"""Why the mirrored astronaut's mouth reads short: the renderer, or the landmarker and the region it reads.

For the six portraits of ``benchmarks/geometric_accuracy.py`` it renders the mouth sweep (0 .. 0.5) and reads the
opening (``motionkit.eval.geometric.mouth_opening``, less the photo's own) with the face stack's mesh network
(``--mesh 468``, the default, or the refined ``478``) on the same frames four ways:

- ``detected``: from a fresh face detection per frame (the region of ``measure_accuracy``, the accuracy table's);
- ``flipped``: the frames flipped left-right, each detected afresh: the same pixels, mirrored (by
  ``test_rendering_commutes_with_mirroring`` these are the frames the renderer draws for the flipped photo with the
  flipped landmarks), so any difference from ``detected`` is the landmarker's;
- ``one step``: from the region of the landmarks read in the detector's region (one step of a tracker);
- ``own region``: the network's square region placed from the frame's true landmarks (the renderer's deformed
  vertices, ``FaceRegion.from_landmarks``: where a tracker that had followed the face would look);
- ``photo region``: the region of the unmoved photo's landmarks (a tracker that did not follow the jaw).

It also prints how far the landmarker's points on the flipped photo lie from its flipped points on the photo
(``mirror_landmarks``): the two portraits' geometry, the renderer's input, differs by that much.

``--config`` renders with other :class:`~motionkit.geometric.GeometricConfig` settings (JSON), as the docs' table of
mouth settings does.

Usage: PYTHONPATH=. python benchmarks/geometric_mouth_regions.py [--mesh 478] [--config JSON]
(docs/geometric.md, Accuracy, mouth, has its figures).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from geometric_accuracy import PHOTOS

from motionkit.eval.face import LandmarkFaceAnalyzer
from motionkit.eval.geometric import MOUTH_SWEEP, mirror_landmarks, mouth_opening
from motionkit.eval.metrics import pearson
from motionkit.face.roi import FaceRegion
from motionkit.geometric import GeometricConfig, GeometricRenderer, PortraitGeometry
from motionkit.geometric.axes import MOUTH, PARAMETERS
from motionkit.geometric.motion import guarded_positions
from motionkit.geometric.topology import LIPS_INNER_LOWER, LIPS_INNER_UPPER, MESH_POINTS, MOUTH_CORNERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mesh", choices=("468", "478"), default="468", help="the mesh reading the frames")
    parser.add_argument(
        "--config", type=json.loads, default={}, help="GeometricConfig settings, e.g. '{\"interior_lighten\": 1.0}'"
    )
    args = parser.parse_args()
    geometry_reader = LandmarkFaceAnalyzer()
    stack = LandmarkFaceAnalyzer(refined=args.mesh == "478").stack
    renderer = GeometricRenderer(GeometricConfig(**args.config))
    values = np.zeros((len(MOUTH_SWEEP), PARAMETERS))
    values[:, MOUTH] = MOUTH_SWEEP
    sweep = np.asarray(MOUTH_SWEEP)
    mouth = [*LIPS_INNER_UPPER, *LIPS_INNER_LOWER, *MOUTH_CORNERS]

    def located(frame: np.ndarray, region: FaceRegion) -> np.ndarray:
        return np.asarray(stack.landmarker.locate(frame, [region])[0].points)

    def detected(frame: np.ndarray) -> np.ndarray:
        return located(frame, FaceRegion.from_detection(stack.detect_array(frame)[0]))

    print(
        f"settings {args.config}; frames read by the {args.mesh}-point mesh; mouth r, readings for {list(MOUTH_SWEEP)}"
    )
    for name, load in PHOTOS.items():
        photo = load()
        landmarks = np.asarray(geometry_reader.landmarks(photo[None])[0])
        flipped_photo = np.ascontiguousarray(photo[:, ::-1])
        twin = mirror_landmarks(geometry_reader.landmarks(flipped_photo[None])[0], photo.shape[1])
        offset = np.linalg.norm(twin[:, :2] - landmarks[:MESH_POINTS, :2], axis=1)
        print(
            f"{name}: landmarks of the flipped photo, flipped back, from the photo's: mean {offset.mean():.2f} px, "
            f"max {offset.max():.2f}, mouth mean {offset[mouth].mean():.2f}"
        )
        portrait = renderer.encode_portrait(photo, geometry=PortraitGeometry(landmarks))
        frames = renderer.render_frames(portrait, values)
        own = [guarded_positions(portrait.mesh, v, renderer.config)[0][:MESH_POINTS] for v in values]
        photo_region = FaceRegion.from_landmarks(landmarks)
        readings = {
            "detected": [detected(frame) for frame in frames],
            "flipped": [detected(np.ascontiguousarray(frame[:, ::-1])) for frame in frames],
            "one step": [located(frame, FaceRegion.from_landmarks(detected(frame))) for frame in frames],
            "own region": [located(frame, FaceRegion.from_landmarks(o)) for frame, o in zip(frames, own, strict=True)],
            "photo region": [located(frame, photo_region) for frame in frames],
        }
        for way, points in readings.items():
            opening = mouth_opening(np.stack(points))
            opening = opening - opening[0]
            print(f"    {way:12s} r {pearson(sweep, opening):.3f}  {np.round(opening, 3).tolist()}")


if __name__ == "__main__":
    main()
