"""Where the geometric renderer's yaw shortfall comes from: the warp's 2-D geometry or the landmarker's depth.

For yaw +/-20 degrees on the astronaut (scikit-image) and Grace Hopper (the bundled photo), renders the frame, reads
it with motionkit's face stack and prints:

- how far the face stack's 2-D landmarks lie from the renderer's deformed vertices (RMS px, and in face widths);
- the yaw fitted (``motionkit.eval.geometric.relative_pose``) to the face stack's own landmarks (its 2-D positions
  and its depths), to its 2-D positions with the renderer's turned depth, and to the renderer's vertices with that
  depth (the turn the mesh makes: ``asin(sin(yaw) / parallax)``);
- the spread (std) of the face stack's depths over the mesh, in the frame and in the photo.

Usage: PYTHONPATH=. python benchmarks/geometric_yaw.py (docs/geometric.md, Accuracy, has its figures).
"""

from __future__ import annotations

import numpy as np
from skimage import data

from motionkit.assets import demo_photo_path
from motionkit.eval.face.landmarks import LandmarkFaceAnalyzer
from motionkit.eval.geometric import relative_pose
from motionkit.geometric import GeometricRenderer, PortraitGeometry
from motionkit.geometric.axes import PARAMETERS, YAW
from motionkit.geometric.motion import guarded_positions, rotation, steepened
from motionkit.geometric.topology import MESH_POINTS
from motionkit.io import load_image

YAWS = (-20.0, 20.0)


def yaw_of(reference: np.ndarray, xy: np.ndarray, depth: np.ndarray) -> float:
    """Yaw turning ``reference`` ``(468+, 3)`` into the mesh points at 2-D positions ``xy`` with depths ``depth``."""
    points = reference.copy()
    points[:MESH_POINTS, :2], points[:MESH_POINTS, 2] = xy, depth
    return float(relative_pose(reference, points[None])[0, YAW])


def main() -> None:
    analyzer, renderer = LandmarkFaceAnalyzer(), GeometricRenderer()
    for name, photo in (("astronaut", data.astronaut()), ("Grace Hopper", load_image(demo_photo_path()))):
        reference = analyzer.landmarks(photo[None])[0]
        portrait = renderer.encode_portrait(photo, geometry=PortraitGeometry(reference))
        mesh = portrait.mesh
        width = float(np.ptp(reference[:MESH_POINTS, 0]))

        for yaw in YAWS:
            values = np.zeros(PARAMETERS)
            values[YAW] = yaw
            vertices = guarded_positions(mesh, values, renderer.config)[0][:MESH_POINTS]
            read = analyzer.landmarks(renderer.render_frames(portrait, values[None]))[0]
            turn = steepened(yaw, mesh.parallax)
            depth = ((mesh.points[:MESH_POINTS] - mesh.pivot) @ rotation(turn, 0.0, 0.0).T + mesh.pivot)[:, 2]
            measured = yaw_of(reference, read[:MESH_POINTS, :2], depth)
            meshed = yaw_of(reference, vertices, depth)
            gap = float(np.sqrt(((read[:MESH_POINTS, :2] - vertices) ** 2).sum(axis=-1).mean()))
            print(
                f"{name}, yaw {yaw:+.0f}: landmarks vs vertices {gap:.2f} px RMS ({gap / width:.1%} of the face "
                f"width); yaw read {relative_pose(reference, read[None])[0, YAW]:+.1f}, with the renderer's depth "
                f"{measured:+.1f}, the vertices {meshed:+.1f} (the "
                f"mesh turns {turn:+.1f}); depth std frame {read[:MESH_POINTS, 2].std():.1f} px, photo "
                f"{reference[:MESH_POINTS, 2].std():.1f} px"
            )


if __name__ == "__main__":
    main()
