"""Accuracy of the geometric renderer on real photos, read back by motionkit's face stack.

The portraits' geometry (the renderer's input) comes from :class:`motionkit.face.FaceStack`'s 468-point mesh, as
in the photo family (``--geometry 478``: from the refined mesh, whose lids sit on the lid margins). The photos and
every rendered frame are read back by the same 468-point stack (through
:class:`motionkit.eval.face.LandmarkFaceAnalyzer`), or with ``--mesh 478`` by the refined one (MediaPipe's attention
mesh: refined lips and eyelids, irises; ``LandmarkFaceAnalyzer(refined=True)``). Run from the project root::

    PYTHONPATH=. python benchmarks/geometric_accuracy.py
    PYTHONPATH=. python benchmarks/geometric_accuracy.py --mesh 478
    PYTHONPATH=. python benchmarks/geometric_accuracy.py --photos "astronaut 512" "hopper 600x512"
    PYTHONPATH=. python benchmarks/geometric_accuracy.py --montage docs/images/geometric-montage.png

Portraits: the two public-domain photos that ship with the dev dependencies (scikit-image's astronaut, 512 x 512;
matplotlib's Grace Hopper, 600 x 512), each also mirrored, resized (astronaut at 1024 px) and cropped closer around
the face (Hopper 420 x 360), so that the landmarker sees different pixels and face sizes. For each, the sweeps of
:func:`motionkit.eval.geometric.measure_accuracy`: yaw +/-10, +/-20 deg; pitch and roll +/-7.5, +/-15 deg (the
targets: within 15 % of the request or 1.5 deg); mouth 0 .. 0.5 (target r >= 0.95); both eyes closed (eye aspect
ratio below ``CLOSED_EAR``); jitter of the landmarks on a still request (target < 0.5 px).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import matplotlib.cbook as cbook
import matplotlib.pyplot as plt
import numpy as np
from skimage import data, transform

from motionkit.eval.face import LandmarkFaceAnalyzer
from motionkit.eval.geometric import CLOSED_EAR, measure_accuracy
from motionkit.geometric import AXIS_NAMES, GeometricRenderer, PortraitGeometry


def hopper() -> np.ndarray:
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.ascontiguousarray(plt.imread(handle, format="jpg"))


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut 512": data.astronaut,
    "astronaut mirrored": lambda: np.ascontiguousarray(data.astronaut()[:, ::-1]),
    "astronaut 1024": lambda: (
        (transform.resize(data.astronaut(), (1024, 1024), order=1) * 255).round().astype(np.uint8)
    ),
    "hopper 600x512": hopper,
    "hopper mirrored": lambda: np.ascontiguousarray(hopper()[:, ::-1]),
    "hopper close 420x360": lambda: np.ascontiguousarray(hopper()[90:510, 76:436]),
}

MONTAGE = (
    {},
    {"yaw": 20.0},
    {"yaw": -20.0},
    {"pitch": 15.0},
    {"pitch": -15.0},
    {"roll": 15.0},
    {"mouth": 0.4},
    {"blink_left": 1.0, "blink_right": 1.0},
    {"brows": 0.08, "mouth": 0.15},
)
"""The montage's frames (parameter name -> value)."""


def montage(renderer: GeometricRenderer, analyzer: LandmarkFaceAnalyzer, path: Path) -> None:
    """A 2-row montage (astronaut, Hopper) of :data:`MONTAGE`, cropped around the faces."""
    rows = []
    for photo, (top, bottom, left, right) in ((data.astronaut(), (20, 250, 100, 300)), (hopper(), (60, 420, 70, 440))):
        portrait = renderer.encode_portrait(photo, geometry=PortraitGeometry(analyzer.landmarks(photo[None])[0]))
        values = np.zeros((len(MONTAGE), len(AXIS_NAMES)))
        for i, frame in enumerate(MONTAGE):
            for name, value in frame.items():
                values[i, AXIS_NAMES.index(name)] = value
        frames = renderer.render_frames(portrait, values)[:, top:bottom, left:right]
        height = 170
        scaled = [transform.resize(f, (height, round(f.shape[1] * height / f.shape[0])), order=1) for f in frames]
        rows.append(np.concatenate(scaled, axis=1))
    width = min(r.shape[1] for r in rows)
    image = np.concatenate([r[:, :width] for r in rows], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, np.clip(image, 0.0, 1.0))
    print(f"montage: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--montage", type=Path, default=None, help="also write the docs' montage PNG here")
    parser.add_argument(
        "--mesh", choices=("468", "478"), default="468", help="the mesh reading the frames (default: 468)"
    )
    parser.add_argument(
        "--geometry", choices=("468", "478"), default="468", help="the mesh the renderer moves (default: 468)"
    )
    parser.add_argument(
        "--photos", nargs="+", choices=list(PHOTOS), default=list(PHOTOS), help="portraits to measure (default: all)"
    )
    args = parser.parse_args()
    analyzer = LandmarkFaceAnalyzer(refined=args.geometry == "478")
    reader = LandmarkFaceAnalyzer(refined=args.mesh == "478")
    renderer = GeometricRenderer()
    header = None
    for name in args.photos:
        photo = PHOTOS[name]()
        geometry = PortraitGeometry(analyzer.landmarks(photo[None])[0])
        portrait = renderer.encode_portrait(photo, geometry=geometry)
        accuracy = measure_accuracy(renderer, portrait, photo, reader.landmarks)
        row = accuracy.summary()
        if header is None:
            header = list(row)
            print(
                f"geometry from the {args.geometry}-point mesh, frames read by the {args.mesh}-point one; closed eye: "
                f"EAR < {CLOSED_EAR}; pose: measured / requested (worst of the sweep), share within target; projected "
                "(2-D fit of the photo's mesh) and 3d"
            )
            print("| photo | " + " | ".join(header) + " |")
            print("|---" * (len(header) + 1) + "|")
        print(f"| {name} | " + " | ".join(f"{row[k]:.3g}" for k in header) + " |")
        for pose, pose_3d in zip(accuracy.poses, accuracy.poses_3d):
            print(
                f"    {pose.axis}: requested {pose.requested.tolist()} projected {np.round(pose.measured, 2).tolist()}"
                f" 3d {np.round(pose_3d.measured, 2).tolist()}"
            )
        print(f"    mouth: measured {np.round(accuracy.mouth_measured, 3).tolist()}")
        print(
            f"    eyes: open {np.round(accuracy.open_ear, 3).tolist()} "
            f"closed {np.round(accuracy.closed_ear, 3).tolist()}"
        )
    if args.montage is not None:
        montage(renderer, analyzer, args.montage)


if __name__ == "__main__":
    main()
