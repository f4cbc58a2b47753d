"""Where the geometric renderer's turns read short or long: the warp's 2-D geometry, or the landmarker.

For yaw +/-20 and pitch +/-15 degrees on the astronaut (scikit-image) and Grace Hopper (the bundled photo), renders
the frame, reads it with motionkit's face stack (the 468-point mesh, which also gives the renderer its geometry) and
prints, with ``c`` the centred positions over the rigid upper face (``motionkit.eval.geometric.rigid_points``):

- the turn the renderer's own deformed vertices make, read by ``projected_pose`` with the photo's mesh (what a
  perfect 2-D landmarker would read), and the turn the mesh is given (``asin(sin(angle) / parallax)``);
- the turn read from the face stack's landmarks on the frame: projected (their 2-D positions) and 3-D (Kabsch with
  the network's depths);
- how much of the vertices' centred displacement the landmarks follow (``<c(landmarks - photo), c(vertices -
  photo)> / |c(vertices - photo)|^2``: 1 when the landmarks move exactly as the mesh does), and the RMS distance of
  the centred landmarks from the centred vertices;
- the spread (std) of the face stack's depths over the mesh, in the frame and in the photo.

Usage: PYTHONPATH=. python benchmarks/geometric_yaw.py (docs/geometric.md, Accuracy, has its figures).
"""

from __future__ import annotations

import numpy as np
from skimage import data

from motionkit.assets import demo_photo_path
from motionkit.eval.face.landmarks import LandmarkFaceAnalyzer
from motionkit.eval.geometric import projected_pose, relative_pose, rigid_points
from motionkit.geometric import GeometricRenderer, PortraitGeometry
from motionkit.geometric.axes import PARAMETERS, PITCH, YAW
from motionkit.geometric.motion import guarded_positions, steepened
from motionkit.geometric.topology import MESH_POINTS
from motionkit.io import load_image

TURNS = ((YAW, -20.0), (YAW, 20.0), (PITCH, -15.0), (PITCH, 15.0))


def centred(points: np.ndarray, rigid: np.ndarray) -> np.ndarray:
    """``points`` ``(468, 2)`` less their mean over the ``rigid`` points."""
    return points - points[rigid].mean(axis=0)


def main() -> None:
    analyzer, renderer = LandmarkFaceAnalyzer(), GeometricRenderer()
    for name, photo in (("astronaut", data.astronaut()), ("Grace Hopper", load_image(demo_photo_path()))):
        reference = analyzer.landmarks(photo[None])[0]
        portrait = renderer.encode_portrait(photo, geometry=PortraitGeometry(reference))
        mesh = portrait.mesh
        rigid = rigid_points(reference)
        for axis, angle in TURNS:
            values = np.zeros(PARAMETERS)
            values[axis] = angle
            vertices = guarded_positions(mesh, values, renderer.config)[0][:MESH_POINTS]
            read = analyzer.landmarks(renderer.render_frames(portrait, values[None]))[0]
            drawn = reference.copy()
            drawn[:MESH_POINTS, :2] = vertices
            moved = centred(vertices - reference[:MESH_POINTS, :2], rigid)[rigid]
            followed = centred(read[:MESH_POINTS, :2] - reference[:MESH_POINTS, :2], rigid)[rigid]
            share = float((moved * followed).sum() / (moved**2).sum())
            gap = float(np.sqrt(((followed - moved) ** 2).sum(axis=-1).mean()))
            label = "yaw" if axis == YAW else "pitch"
            print(
                f"{name}, {label} {angle:+.0f}: vertices read {projected_pose(reference, drawn[None])[0, axis]:+.1f} "
                f"(the mesh turns {steepened(angle, mesh.parallax):+.1f} of its flattened depth); landmarks read "
                f"{projected_pose(reference, read[None])[0, axis]:+.1f} projected, "
                f"{relative_pose(reference, read[None])[0, axis]:+.1f} 3-D; they follow {share:.0%} of the vertices' "
                f"centred displacement (mean {np.linalg.norm(moved, axis=1).mean():.1f} px), {gap:.2f} px RMS off; "
                f"depth std frame {read[:MESH_POINTS, 2].std():.1f} px, photo {reference[:MESH_POINTS, 2].std():.1f}"
            )


if __name__ == "__main__":
    main()
