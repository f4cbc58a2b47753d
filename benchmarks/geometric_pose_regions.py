"""Why the geometric renderer's pitch reads short: the region the landmark network reads, or the network itself.

For the portraits of ``benchmarks/geometric_accuracy.py`` it renders the pose sweeps of
``motionkit.eval.geometric.POSE_SWEEP`` (yaw +/-10, +/-20; pitch and roll +/-7.5, +/-15 degrees) and reads each
request's head pose (``projected_pose`` with the photo's own mesh, and the 3-D ``relative_pose``) from the face
stack's mesh network (``--mesh 468``, the default, or the refined ``478``) four ways:

- ``detected``: the frame from a fresh face detection (the region of ``measure_accuracy``'s fresh reading);
- ``video``: as the face stack reads a video (``motionkit.face.tracking.FaceTracker``, unsmoothed, as
  ``LandmarkFaceAnalyzer.landmarks`` reads frames): a smooth ramp from the photo to the request
  (``motionkit.eval.geometric.ramp``, ``--ramp`` frames), each frame's region from the previous frame's landmarks,
  the last frame read (it prints how many times the tracker had to detect: 1 is the first frame only); ``--hold``
  frames of the request may follow the ramp;
- ``video, zero``: the same landmarks fitted with the mesh the tracker reads on the photo itself as a video of as
  many frames (its zero: the tracker's region feedback settles a little away from a fresh detection's);
- ``own region``: the network's region placed on the frame's true landmarks (the renderer's deformed vertices,
  ``FaceRegion.from_landmarks``): an oracle, for diagnosis only;
- ``photo region``: the region of the unmoved photo's landmarks (a tracker that did not follow the head).

Beside them: the turn of the renderer's own vertices read the same way with the renderer's geometry (``vertices``:
what a perfect 2-D landmarker would read), and the pose a still photo tracked over as many frames reads against a
fresh detection. ``follows`` is the share of the vertices' displacement (over the rigid upper face, centred) that
each reading's landmarks follow.

Usage: PYTHONPATH=. python benchmarks/geometric_pose_regions.py [--mesh 478] [--ramp 12] [--photos ...]
(docs/geometric.md, Accuracy, pitch, has its figures).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from geometric_accuracy import PHOTOS

from motionkit.eval.face import LandmarkFaceAnalyzer
from motionkit.eval.geometric import (
    POSE_SWEEP,
    RAMP_FRAMES,
    PoseAccuracy,
    projected_pose,
    ramp,
    relative_pose,
    rigid_points,
)
from motionkit.face.roi import FaceRegion
from motionkit.face.tracking import FaceTracker
from motionkit.geometric import GeometricRenderer, PortraitGeometry
from motionkit.geometric.axes import PARAMETERS
from motionkit.geometric.motion import guarded_positions
from motionkit.geometric.topology import MESH_POINTS

AXES = ("yaw", "pitch", "roll")
WAYS = ("vertices", "detected", "video", "video, zero", "own region", "photo region")


def followed(
    zero: np.ndarray, read: np.ndarray, geometry: np.ndarray, vertices: np.ndarray, rigid: np.ndarray
) -> float:
    """The share of the vertices' displacement the landmarks follow: with ``c`` centring over the ``rigid`` points,
    ``<c(read - zero), c(vertices - geometry)> / |c(vertices - geometry)|^2`` (1: they move exactly as the mesh
    does; ``zero`` is the reading's photo landmarks, ``geometry`` the renderer's)."""
    moved, seen = vertices[rigid, :2] - geometry[rigid, :2], read[rigid, :2] - zero[rigid, :2]
    moved, seen = moved - moved.mean(axis=0), seen - seen.mean(axis=0)
    return float((moved * seen).sum() / (moved**2).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mesh", choices=("468", "478"), default="468", help="the mesh reading the frames")
    parser.add_argument("--ramp", type=int, default=RAMP_FRAMES, help="frames of the video reading's ramp")
    parser.add_argument("--hold", type=int, default=0, help="frames of the request held after the ramp")
    parser.add_argument("--photos", nargs="+", choices=list(PHOTOS), default=list(PHOTOS), help="portraits")
    args = parser.parse_args()
    geometry_reader = LandmarkFaceAnalyzer()
    reader = LandmarkFaceAnalyzer(refined=args.mesh == "478")
    stack = reader.stack
    renderer = GeometricRenderer()
    print(f"frames read by the {args.mesh}-point mesh; video: a ramp of {args.ramp} frames; projected / 3-D degrees")
    totals = {way: [0, 0] for way in WAYS}
    for name in args.photos:
        start = time.process_time()
        photo = PHOTOS[name]()
        landmarks = np.asarray(geometry_reader.landmarks(photo[None])[0])
        reference = landmarks if args.mesh == "468" else np.asarray(reader.landmarks(photo[None])[0])
        portrait = renderer.encode_portrait(photo, geometry=PortraitGeometry(landmarks))
        photo_region = FaceRegion.from_landmarks(reference)
        rigid = rigid_points(reference)
        still = reader.landmarks(np.repeat(photo[None], args.ramp + args.hold, axis=0))[-1]
        offset = projected_pose(reference, still[None])[0]
        print(f"{name}: the photo tracked over {args.ramp + args.hold} frames reads {np.round(offset, 2).tolist()}")
        for axis, sweep in POSE_SWEEP.items():
            read: dict[str, list[np.ndarray]] = {way: [] for way in WAYS}
            detections = []
            for angle in sweep:
                request = np.zeros(PARAMETERS)
                request[axis] = angle
                values = ramp(request, args.ramp)
                frames = renderer.render_frames(
                    portrait, np.concatenate([values, np.repeat(values[-1:], args.hold, 0)])
                )
                frame = frames[-1]
                own = np.full_like(reference, np.nan)  # 2-D only: no 3-D reading of the vertices
                own[:MESH_POINTS, :2] = guarded_positions(portrait.mesh, request, renderer.config)[0][:MESH_POINTS]
                tracker = FaceTracker(stack, fps=25.0, smoothing=None)
                for each in frames:
                    face = tracker.update(each)
                assert face is not None
                detections.append(tracker.detections)
                detection = FaceRegion.from_detection(stack.detect_array(frame)[0])
                read["vertices"].append(own)
                read["detected"].append(stack.landmarker.locate(frame, [detection])[0].points)
                read["video"].append(face.points)
                read["video, zero"].append(face.points)
                read["own region"].append(
                    stack.landmarker.locate(frame, [FaceRegion.from_landmarks(own[:MESH_POINTS])])[0].points
                )
                read["photo region"].append(stack.landmarker.locate(frame, [photo_region])[0].points)
            parts = []
            for way, points in read.items():
                stacked = np.stack(points)
                zero = {"video, zero": still, "vertices": landmarks}.get(way, reference)
                projected = PoseAccuracy(AXES[axis], np.asarray(sweep), projected_pose(zero, stacked)[:, axis])
                solid = relative_pose(zero, stacked)[:, axis]
                shares = [
                    followed(zero, p, landmarks, v, rigid) for p, v in zip(stacked, read["vertices"], strict=True)
                ]
                totals[way][0] += int(projected.within.sum())
                totals[way][1] += len(sweep)
                parts.append(
                    f"    {AXES[axis]:5s} {way:12s} within {int(projected.within.sum())}/{len(sweep)} ratios "
                    f"{np.round(projected.ratio, 2).tolist()} projected {np.round(projected.measured, 1).tolist()} "
                    f"3-D {np.round(solid, 1).tolist()} follows {np.round(shares, 2).tolist()}"
                )
            print("\n".join(parts) + f"\n    {AXES[axis]:5s} video detections per ramp {detections}")
        print(f"    ({time.process_time() - start:.1f} s of process CPU time)")
    print("within target, all portraits and axes: " + ", ".join(f"{w} {n}/{d}" for w, (n, d) in totals.items()))


if __name__ == "__main__":
    main()
