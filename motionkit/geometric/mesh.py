"""The control mesh of a portrait: its landmarks, fall-off rings through hair, ears and neck, and a still ring,
triangulated once; and the map from each pixel to the source triangle it lies in.

Vertices (``V = 468 + rings * ring_points + ring_points``):

- the 468 face landmarks, which follow the head fully (``follow = 1``);
- ``len(ring_scales)`` fall-off rings, the face outline scaled about its centre, following ``ring_weights`` of the
  head's motion (less below the chin, the neck; none where the person mask says background);
- the still ring (``still_ring_scale``), which never moves: the region of influence is the area inside it, and
  every pixel outside the triangles that touch a moving vertex is the input, bit for bit.

The triangulation is Delaunay's, computed on an *opened* layout (mouth and eyes wide open), so the inner-lip and lid
contours are triangle edges even when the photo's mouth or eyes are closed; the triangles inside the inner lips are
the mouth hole (drawn by :mod:`motionkit.geometric.mouth`), those inside the lids may shrink to nothing in a blink.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay

from motionkit.errors import ImageError, require
from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.expression import expression_basis
from motionkit.geometric.frame import FaceFrame, face_frame
from motionkit.geometric.geometry import PortraitGeometry
from motionkit.geometric.topology import (
    CHEEKS,
    CHIN,
    EYE_LEFT_CORNERS,
    EYE_LEFT_LOWER,
    EYE_LEFT_UPPER,
    EYE_RIGHT_CORNERS,
    EYE_RIGHT_LOWER,
    EYE_RIGHT_UPPER,
    FACE_OVAL,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    MESH_POINTS,
    MOUTH_CORNERS,
)

OPENED_LAYOUT = (0.25, -0.5, -0.5, 0.0)
"""Expression (mouth, blink_left, blink_right, brows) of the layout the mesh is triangulated on."""

LAYOUT_OPENINGS = (1.0, 0.5, 0.25, 0.0)
"""Shares of :data:`OPENED_LAYOUT` tried in turn until the triangulation fits the photo's own landmarks without a
fold (0: Delaunay of the landmarks as they are, which always fits)."""

PHOTO_SLIVER = 0.02
"""A layout fits the photo when its triangles keep their orientation on the photo's landmarks, except slivers
turned over by less than this share of the mean triangle area (landmarks crowded at the mouth corners of closed
lips; a sliver covers about no pixel). Those may turn either way in a frame (:func:`~motionkit.geometric.motion.folds`
leaves them out): opening the mouth turns them the right way round."""

MOUTH_LOOP = (*LIPS_INNER_UPPER, *LIPS_INNER_LOWER[::-1])
EYE_LOOPS = (
    (EYE_LEFT_CORNERS[0], *EYE_LEFT_UPPER, EYE_LEFT_CORNERS[1], *EYE_LEFT_LOWER[::-1]),
    (EYE_RIGHT_CORNERS[0], *EYE_RIGHT_UPPER, EYE_RIGHT_CORNERS[1], *EYE_RIGHT_LOWER[::-1]),
)
"""Closed contours: the inner lips and each eye's lid margin."""


@dataclass(frozen=True)
class ControlMesh:
    """A portrait's triangulated control mesh (see the module docstring).

    Attributes:
        points: ``(V, 3)`` source vertex positions in pixels (``z`` in the landmarks' scale).
        follow: ``(V,)`` share of the head's motion each vertex follows (1 on the face, 0 on the still ring).
        basis: ``(4, V, 3)`` expression displacements per unit of mouth, blink_left, blink_right, brows, already
            scaled by each ring's share.
        triangles: ``(F, 3)`` vertex indices, ordered so that every triangle has positive area in the layout.
        neighbours: ``(F, 3)`` the triangle across the edge opposite each vertex (``-1``: none).
        hole: ``(F,)`` the triangle lies inside the inner lips (the mouth's interior).
        collapsible: ``(F,)`` the triangle lies inside the lids (may shrink to nothing, never turn over).
        area: ``(F,)`` signed source area (pixels^2): the fold guard's reference.
        pivot: ``(3,)`` the head's rotation centre.
        frame: the face frame.
        mouth_opening: the photo's own inner-lip gap over mouth width (the ``mouth`` axis cannot go below minus it).
        adjacency: ``(V, V)`` sparse 0/1 matrix: vertices sharing a triangle edge, and each vertex with itself.
        parallax: share of the nose's depth in front of the eyes that :mod:`~motionkit.geometric.depth` kept (1 for
            the landmarks' own depth); turns are steepened to make up for it (``motion.deform``).
    """

    points: np.ndarray
    follow: np.ndarray
    basis: np.ndarray
    triangles: np.ndarray
    neighbours: np.ndarray
    hole: np.ndarray
    collapsible: np.ndarray
    area: np.ndarray
    pivot: np.ndarray
    frame: FaceFrame
    mouth_opening: float
    adjacency: sparse.csr_matrix
    parallax: float = 1.0

    @property
    def moving(self) -> np.ndarray:
        """``(F,)`` triangles with a vertex that can move (the region of influence)."""
        return np.asarray((self.follow[self.triangles] > 0.0).any(axis=1))


def signed_areas(xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(F,)`` signed areas ``((b - a) x (c - a)) / 2`` of triangles ``(F, 3)`` over vertices ``xy`` ``(V, 2)``."""
    a, b, c = xy[triangles[:, 0]], xy[triangles[:, 1]], xy[triangles[:, 2]]
    e1, e2 = b - a, c - a
    return np.asarray(0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]))


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """``(N,)`` whether 2-D ``points`` lie inside the closed ``polygon`` ``(K, 2)`` (even-odd rule)."""
    x, y = points[:, 0:1], points[:, 1:2]
    a, b = polygon, np.roll(polygon, -1, axis=0)
    crosses = (a[:, 1] > y) != (b[:, 1] > y)
    t = (y - a[:, 1]) / np.where(b[:, 1] == a[:, 1], 1.0, b[:, 1] - a[:, 1])
    hit = crosses & (x < a[:, 0] + t * (b[:, 0] - a[:, 0]))
    return np.asarray(hit.sum(axis=1) % 2 == 1)


def _resample_loop(loop: np.ndarray, count: int) -> np.ndarray:
    """``count`` points equally spaced by arc length along the closed 3-D polyline ``loop`` (its x, y length)."""
    closed = np.concatenate([loop, loop[:1]])
    steps = np.linalg.norm(np.diff(closed[:, :2], axis=0), axis=1)
    at = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.arange(count) * at[-1] / count
    return np.stack([np.interp(targets, at, closed[:, k]) for k in range(3)], axis=1)


def _mask_at(mask: np.ndarray | None, xy: np.ndarray) -> np.ndarray:
    """The person mask at ``xy`` (nearest pixel; 0 outside the image); 1 everywhere without a mask."""
    if mask is None:
        return np.ones(len(xy))
    height, width = mask.shape
    col, row = np.floor(xy[:, 0]).astype(int), np.floor(xy[:, 1]).astype(int)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    values = np.zeros(len(xy))
    values[inside] = mask[row[inside], col[inside]]
    return values


def _rings(landmarks: np.ndarray, frame: FaceFrame, mask: np.ndarray | None, config: GeometricConfig) -> tuple[
    np.ndarray, np.ndarray, np.ndarray
]:  # fmt: skip
    """Fall-off and still ring vertices ``(R, 3)``, their shares ``(R,)`` of the head's turn and of the
    expressions (the neck follows the jaw's drop fully, so the skin under the chin stretches instead of folding)."""
    oval = landmarks[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    mouth_v = float(frame.coords(landmarks[list(MOUTH_CORNERS)])[:, 1].mean())
    chin_v = float(frame.coords(landmarks[CHIN : CHIN + 1])[0, 1])
    points, follow, expression = [], [], []
    for scale, weight in (*zip(config.ring_scales, config.ring_weights, strict=True), (config.still_ring_scale, 0.0)):
        ring = oval.copy()
        ring[:, :2] = centre[:2] + scale * (oval[:, :2] - centre[:2])
        ring = _resample_loop(ring, config.ring_points)
        below = np.clip((frame.coords(ring)[:, 1] - mouth_v) / (chin_v - mouth_v), 0.0, 1.0)
        neck = 1.0 - (1.0 - config.neck_weight) * below * below * (3.0 - 2.0 * below)
        person = weight * _mask_at(mask, ring[:, :2])
        points.append(ring)
        follow.append(person * neck)
        expression.append(person)
    return np.concatenate(points), np.concatenate(follow), np.concatenate(expression)


def _triangulate(
    points: np.ndarray, basis: np.ndarray, opening: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Delaunay triangles ``(F, 3)`` (positive in the layout), neighbours ``(F, 3)``, hole and collapsible ``(F,)``
    of the layout opened by ``opening`` times :data:`OPENED_LAYOUT`."""
    layout = (points + np.tensordot(opening * np.asarray(OPENED_LAYOUT), basis, axes=1))[:, :2]
    delaunay = Delaunay(layout)
    triangles = np.asarray(delaunay.simplices, dtype=np.int64)
    neighbours = np.asarray(delaunay.neighbors, dtype=np.int64)
    flip = signed_areas(layout, triangles) < 0.0
    triangles[flip] = triangles[flip][:, [0, 2, 1]]
    neighbours[flip] = neighbours[flip][:, [0, 2, 1]]
    centroids = layout[triangles].mean(axis=1)

    def inside_loop(loop: tuple[int, ...]) -> np.ndarray:
        return inside_polygon(centroids, layout[list(loop)])

    collapsible = inside_loop(EYE_LOOPS[0]) | inside_loop(EYE_LOOPS[1])
    return triangles, neighbours, inside_loop(MOUTH_LOOP), collapsible


def build_mesh(geometry: PortraitGeometry, config: GeometricConfig) -> ControlMesh:
    """Triangulate a portrait's control mesh (once per portrait)."""
    landmarks = geometry.landmarks
    frame = face_frame(landmarks)
    rings, ring_follow, ring_expression = _rings(landmarks, frame, geometry.mask, config)
    points = np.concatenate([landmarks, rings])
    follow = np.concatenate([np.ones(MESH_POINTS), ring_follow])
    share = np.concatenate([np.ones(MESH_POINTS), ring_expression])
    basis = expression_basis(points, landmarks, frame, config) * share[None, :, None]
    for opening in LAYOUT_OPENINGS:
        triangulation = _triangulate(points, basis, opening)
        triangles, _, hole, collapsible = triangulation
        area = signed_areas(points[:, :2], triangles)
        folded = (area <= -PHOTO_SLIVER * np.abs(area).mean()) & ~hole & ~collapsible
        if not folded.any():
            break
    require(
        not folded.any(),
        ImageError,
        f"the face's landmarks fold {int(folded.sum())} mesh triangles over each other (a profile view or a "
        "mislocated face); the geometric renderer needs a face turned less than about 35 degrees from the camera.",
    )
    triangles, neighbours, hole, collapsible = triangulation
    cheeks = 0.5 * (landmarks[CHEEKS[0]] + landmarks[CHEEKS[1]])
    pivot = cheeks + frame.width * (config.pivot_depth * frame.axes[2] + config.pivot_drop * frame.axes[1])
    upper, lower = landmarks[LIPS_INNER_UPPER[5]], landmarks[LIPS_INNER_LOWER[4]]
    corners = landmarks[list(MOUTH_CORNERS)]
    opening = float(np.linalg.norm(upper[:2] - lower[:2]) / np.linalg.norm(corners[1, :2] - corners[0, :2]))
    return ControlMesh(
        points=points,
        follow=follow,
        basis=basis,
        triangles=triangles,
        neighbours=neighbours,
        hole=hole,
        collapsible=collapsible,
        area=area,
        pivot=pivot,
        frame=frame,
        mouth_opening=opening,
        adjacency=_adjacency(triangles, len(points)),
    )


def _adjacency(triangles: np.ndarray, count: int) -> sparse.csr_matrix:
    """Vertex adjacency with self-loops (see :attr:`ControlMesh.adjacency`)."""
    rows = np.concatenate([triangles[:, [0, 1, 2, 1, 2, 0]].ravel(), np.arange(count)])
    cols = np.concatenate([triangles[:, [1, 2, 0, 0, 1, 2]].ravel(), np.arange(count)])
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    matrix.data[:] = 1.0
    return matrix


def rasterize(mesh: ControlMesh, height: int, width: int) -> np.ndarray:
    """``(height, width)`` int64 map: the moving source triangle each pixel centre lies in, ``-1`` elsewhere.

    Pixel ``(row, col)`` has its centre at ``(col + 0.5, row + 0.5)`` in the landmarks' coordinates. A pixel on a
    shared edge goes to the triangle listed last.
    """
    out = np.full((height, width), -1, dtype=np.int64)
    xy = mesh.points[:, :2]
    for index in np.flatnonzero(mesh.moving & (np.abs(mesh.area) > 0.0)):
        corners = xy[mesh.triangles[index]]
        low = np.maximum(np.floor(corners.min(axis=0) - 0.5).astype(int), 0)
        high = np.minimum(np.ceil(corners.max(axis=0) - 0.5).astype(int), [width - 1, height - 1])
        if (high < low).any():
            continue
        cols, rows = np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1))
        centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
        weights = barycentric(centres, corners)
        hit = (weights >= 0.0).all(axis=1)
        out[rows.ravel()[hit], cols.ravel()[hit]] = index
    require(
        bool((out >= 0).any()),
        ImageError,
        "the face lies outside the portrait; use a photo with the face inside the frame.",
    )
    return out


def barycentric(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """``(N, 3)`` barycentric coordinates of ``points`` ``(N, 2)`` in the triangle ``corners`` ``(3, 2)``."""
    a, e1, e2 = corners[0], corners[1] - corners[0], corners[2] - corners[0]
    det = e1[0] * e2[1] - e1[1] * e2[0]
    d = points - a
    l1 = (d[:, 0] * e2[1] - d[:, 1] * e2[0]) / det
    l2 = (e1[0] * d[:, 1] - e1[1] * d[:, 0]) / det
    return np.stack([1.0 - l1 - l2, l1, l2], axis=1)
