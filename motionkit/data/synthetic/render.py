"""Rasteriser of the synthetic faces: posed ellipsoids, textured features, Lambert shading, analytic anti-aliasing.

A face is a handful of ellipsoids (head, jaw, nose, ears, a hair shell clipped at the hairline, optional long hair
behind) attached to the head frame and rotated about a pivot in the neck, in front of a neck and shoulders that
stay still. Eyes, brows and mouth are drawn on the head and jaw surfaces in head-frame coordinates ``(X, Y)`` (a
frontal projection of the surface), so yaw and pitch move and foreshorten them as on a real head, and the part of
the surface turned away from the camera is hidden. Layers are composited back to front:
``colour <- colour + alpha * (layer - colour)``. Every edge is a linear coverage ramp one pixel wide: silhouettes
from the signed distance to the projected ellipse (see :mod:`geometry`), features from signed distances and, for
thin bands such as a barely open mouth, from the exact box-filtered coverage of the band, so that a feature's ink
varies continuously with its parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionkit.data.synthetic.config import RenderConfig
from motionkit.data.synthetic.geometry import Hit, cast, rotation_matrices
from motionkit.data.synthetic.identity import MOUTH_INTERIOR, PUPIL, SCLERA, FaceIdentity
from motionkit.data.synthetic.params import FaceParams

F = np.ndarray


@dataclass(frozen=True)
class HairShape:
    """Geometry of a hair style (head units, normalised head coordinates for levels).

    Attributes:
        front: offset of the front hairline from the face's ``hairline``.
        back: hairline level at the back of the head (normalised y).
        volume: factor on the face's ``hair_volume`` (thickness of the shell around the skull).
        curtain: ``(centre, semi_axes)`` of hair hanging behind the head, or ``None``.
    """

    front: float
    back: float
    volume: float
    curtain: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None


HAIR_SHAPES: dict[str, HairShape] = {
    "short": HairShape(front=0.0, back=-0.45, volume=1.0),
    "bangs": HairShape(front=-0.3, back=-0.45, volume=1.0),
    "long": HairShape(front=0.0, back=-0.55, volume=1.0, curtain=((0.0, -1.15, -0.5), (1.2, 1.65, 0.55))),
    "bob": HairShape(front=-0.05, back=-0.7, volume=1.2, curtain=((0.0, -0.55, -0.35), (1.17, 0.95, 0.7))),
    "buzz": HairShape(front=0.04, back=-0.4, volume=0.15),
    "bald": HairShape(front=0.55, back=-0.4, volume=0.1),
}

# Layout of the head in head units (head half-width 1). Named data, not tuning knobs of a config: changing them
# changes what the faces look like, and the analyzer recalibrates itself from renders.
_JAW_CENTRE = (0.0, -0.6, 0.05)
_JAW_DEPTH = 0.88
_JAW_BLEND = 0.3
_NOSE_Y = -0.33
_NOSE_SEMI = (0.14, 0.18, 0.16)
_NOSE_SINK = 0.06
_NOSTRILS = ((0.5, -0.72, 0.45), 0.3)
_EAR_CENTRE = (0.98, -0.05, -0.1)
_EAR_SEMI = (0.15, 0.26, 0.18)
_HAIR_CENTRE = (0.0, 0.06, -0.06)
_HAIR_GROWTH = (1.0, 1.3, 1.2)
_NECK_CENTRE = (0.0, -1.35, -0.15)
_NECK_SEMI = (0.42, 0.75, 0.4)
_TORSO_CENTRE = (0.0, -3.0, -0.4)
_TORSO_SEMI = (2.2, 1.45, 0.9)
_BROW_FRONT_MARGIN = 0.42
_EYE_SEMI = (0.17, 0.09)
_IRIS = 0.075
_PUPIL = 0.4
_LASH = 0.022
_LASH_COLOUR = (0.08, 0.06, 0.06)
_SOCKET = (1.45, 2.2, 0.06, 0.1)  # socket semi-axes (x eye widths, y eye heights), falloff, darkening
_BROW = (0.2, 0.21, 0.075, 0.04, 0.02, 0.02)  # half-length, height above the eye, raise travel, arch, shift, slant
_BROW_COLOUR = (0.45, 0.7)  # brightest brow colour, shade relative to the hair
_EYE_WINDOW = (0.32, 0.16)  # radius around the eye-and-brow anchor, anchor height above the eye
_MOUTH_WINDOW = 0.5
_MOUTH_HALF_WIDTH = (0.29, 0.72, 0.56)  # base, factor at width 0, extra factor at width 1
_MOUTH_OPENING = 0.24
_UPPER_SHARE = 0.35  # share of the opening above the lip line (the jaw carries the rest)
_LIPS = (0.045, 0.06, 0.92)  # upper and lower lip thickness, upper-lip shade
_SEAM = (0.014, 0.55)  # closed-lip seam thickness and shade
_SHADOWS = {"neck": 0.8, "ear": 0.9, "ear_inner": 0.75, "curtain": 0.8, "hair_inside": 0.7, "nostril": 0.35}
_MIN_FACING = 0.35


class FaceRenderer:
    """Render :class:`FaceParams` of one :class:`FaceIdentity` as ``(T, size, size, 3)`` uint8 frames."""

    def __init__(self, size: int, config: RenderConfig) -> None:
        self.size = size
        self.config = config
        light = np.array(config.light, np.float32)
        self._light = light / np.linalg.norm(light)

    def render(self, identity: FaceIdentity, params: FaceParams) -> np.ndarray:
        """``(T, size, size, 3)`` uint8 frames, rendered in chunks of ``config.chunk_frames``."""
        chunk = self.config.chunk_frames
        frames = np.empty((params.frames, self.size, self.size, 3), np.uint8)
        for start in range(0, params.frames, chunk):
            part = params.slice(start, start + chunk)
            frames[start : start + part.frames] = self._render_chunk(identity, part)
        return frames

    def _render_chunk(self, face: FaceIdentity, params: FaceParams) -> np.ndarray:
        view = _View(self.size, self.config, face, params)
        shape = HAIR_SHAPES[face.hair_style]
        aspect, depth = face.head_aspect, face.head_depth
        canvas = self._background(face, params.frames)

        def paint(region: Region, colour: F, alpha: F) -> None:
            self._paint(canvas[:, :, region[0], region[1]], colour, alpha)

        torso, region = view.cast(_TORSO_CENTRE, _TORSO_SEMI, still=True)
        paint(region, self._shaded(np.array(face.cloth), torso.normal()), torso.coverage)
        if shape.curtain is not None:
            curtain, region = view.cast(*shape.curtain)
            paint(region, self._shaded(np.array(face.hair) * _SHADOWS["curtain"], curtain.normal()), curtain.coverage)

        hair_volume = face.hair_volume * shape.volume
        shell_semi = tuple(a + g * hair_volume for a, g in zip((1.0, aspect, depth), _HAIR_GROWTH))
        shell, shell_region = view.cast(_HAIR_CENTRE, shell_semi)
        inside = self._hair_alpha(shell.point(front=False), face, shape, view.pixel * view.edge)
        colour = np.array(face.hair) * _SHADOWS["hair_inside"]
        paint(shell_region, self._shaded(colour, -shell.normal(front=False)), shell.coverage * inside)

        neck, region = view.cast(_NECK_CENTRE, _NECK_SEMI, still=True)
        paint(region, self._shaded(np.array(face.skin) * _SHADOWS["neck"], neck.normal()), neck.coverage)

        ear_semi = (_EAR_SEMI[0], _EAR_SEMI[1] * face.ear_size, _EAR_SEMI[2])
        for side in (-1.0, 1.0):
            ear, region = view.cast((side * _EAR_CENTRE[0], *_EAR_CENTRE[1:]), ear_semi)
            paint(region, self._ear_colour(face, ear, side), ear.coverage)

        head_semi = (1.0, aspect, depth)
        jaw_semi = (face.jaw_width, face.jaw_length, _JAW_DEPTH * depth)
        face_region = view.union(view.region((0.0, 0.0, 0.0), head_semi), view.region(_JAW_CENTRE, jaw_semi))
        head, _ = view.cast((0.0, 0.0, 0.0), head_semi, region=face_region)
        jaw, _ = view.cast(_JAW_CENTRE, jaw_semi, region=face_region)
        # Smooth union: blend the two surfaces where their depths are close so the jaw line has no crease.
        blend = np.clip(0.5 + (jaw.depth_front - head.depth_front) / _JAW_BLEND, 0.0, 1.0)
        blend = np.where(head.coverage > 0.0, blend * blend * (3.0 - 2.0 * blend), 1.0) * (jaw.coverage > 0.0)
        point = head.point() + blend * (jaw.point() - head.point())
        normal = head.normal() + blend * (jaw.normal() - head.normal())
        normal /= np.maximum(np.sqrt(np.sum(normal * normal, axis=0)), 1e-6)
        width = view.pixel * view.edge / np.clip(normal[2], _MIN_FACING, 1.0)
        skin = self._face_texture(view, face_region, shape, point, width)
        paint(face_region, skin * self._shade(normal), np.maximum(head.coverage, jaw.coverage))

        outside = self._hair_alpha(shell.point(), face, shape, view.pixel * view.edge)
        paint(shell_region, self._shaded(np.array(face.hair), shell.normal()), shell.coverage * outside)

        nose_y = _NOSE_Y * face.nose_length
        nose_z = depth * np.sqrt(max(1.0 - (nose_y / aspect) ** 2, 0.0)) - _NOSE_SINK
        nose_semi = np.array(_NOSE_SEMI) * np.array([face.nose_width, face.nose_length, 1.0])
        nose, region = view.cast((0.0, nose_y, nose_z), tuple(nose_semi))
        centre = np.array([0.0, nose_y, nose_z], np.float32).reshape(3, 1, 1, 1)
        local = (nose.point() - centre) / nose_semi.astype(np.float32).reshape(3, 1, 1, 1)
        nose_colour = np.broadcast_to(np.array(face.skin, np.float32).reshape(3, 1, 1, 1), local.shape).copy()
        (nx, ny, nz), radius = _NOSTRILS
        for side in (-1.0, 1.0):
            dist = np.sqrt((local[0] - side * nx) ** 2 + (local[1] - ny) ** 2 + (local[2] - nz) ** 2) - radius
            self._paint(nose_colour, np.array(face.skin) * _SHADOWS["nostril"], np.clip(0.5 - dist / 0.15, 0.0, 1.0))
        paint(region, nose_colour * self._shade(nose.normal()), nose.coverage)

        return np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(1, 2, 3, 0)

    # ----------------------------------------------------------------------------------------------- colours
    def _background(self, face: FaceIdentity, T: int) -> F:
        ramp = ((np.arange(self.size) + 0.5) / self.size).astype(np.float32)
        top, bottom = np.array(face.background_top, np.float32), np.array(face.background_bottom, np.float32)
        column = top[:, None] + (bottom - top)[:, None] * ramp[None, :]  # (3, H)
        return np.broadcast_to(column[:, None, :, None], (3, T, self.size, self.size)).copy()

    def _shade(self, normal: F) -> F:
        """Lambert shading ``ambient + (1 - ambient) max(0, n . l)``, ``(T, H, W)``."""
        lit = normal[0] * self._light[0] + normal[1] * self._light[1] + normal[2] * self._light[2]
        ambient = self.config.ambient
        return ambient + (1.0 - ambient) * np.maximum(lit, 0.0)

    def _shaded(self, colour: F, normal: F) -> F:
        return np.asarray(colour, np.float32).reshape(3, 1, 1, 1) * self._shade(normal)

    @staticmethod
    def _paint(canvas: F, colour: F, alpha: F) -> None:
        """``canvas <- canvas + alpha (colour - canvas)`` in place; ``colour`` is (3,) or (3, T, H, W)."""
        colour = np.asarray(colour, np.float32)
        if colour.ndim == 1:
            colour = colour.reshape(3, 1, 1, 1)
        canvas += alpha * (colour - canvas)

    def _ear_colour(self, face: FaceIdentity, ear: Hit, side: float) -> F:
        local = ear.point() - np.array([side * _EAR_CENTRE[0], *_EAR_CENTRE[1:]], np.float32).reshape(3, 1, 1, 1)
        semi = np.array([_EAR_SEMI[0], _EAR_SEMI[1] * face.ear_size, _EAR_SEMI[2]], np.float32).reshape(3, 1, 1, 1)
        u = local / semi
        inner = np.clip(0.5 - (np.sqrt((u[1] / 0.6) ** 2 + (u[2] / 0.55) ** 2) - 1.0) / 0.3, 0.0, 1.0)
        inner *= side * u[0] > 0.0  # the hollow faces outwards
        colour = np.array(face.skin, np.float32).reshape(3, 1, 1, 1) * _SHADOWS["ear"]
        colour = colour * (1.0 - inner * (1.0 - _SHADOWS["ear_inner"]))
        return colour * self._shade(ear.normal())

    # -------------------------------------------------------------------------------------------------- hair
    @staticmethod
    def _hair_alpha(point: F, face: FaceIdentity, shape: HairShape, width: float) -> F:
        """Coverage of hair at head-frame ``point``: above a hairline that falls from the forehead to the nape."""
        x, y, z = point[0], point[1] / face.head_aspect, point[2] / face.head_depth
        azimuth = np.arctan2(x, z)
        front = max(face.hairline + shape.front, (face.eye_height + _BROW_FRONT_MARGIN) / face.head_aspect)
        back = shape.back
        level = front * np.cos(azimuth / 2) ** 2 + back * np.sin(azimuth / 2) ** 2
        distance = (level - y) * face.head_aspect

        return np.clip(0.5 - distance / width, 0.0, 1.0)

    # -------------------------------------------------------------------------------------------------- face
    def _face_texture(self, view: _View, region: Region, shape: HairShape, point: F, width: F) -> F:
        """Unshaded colour of the head and jaw surface in ``region``: skin, hair, eyes, brows, mouth.

        ``point`` holds the head-frame surface points ``(3, T, h, w)`` of the region and ``width`` the size of a
        pixel on the surface. Each feature is evaluated only inside the window that its projections cover.
        """
        face, params = view.face, view.params
        T = params.frames

        def per_frame(values: np.ndarray) -> F:
            return values.astype(np.float32).reshape(T, 1, 1)

        colour = np.broadcast_to(np.array(face.skin, np.float32).reshape(3, 1, 1, 1), point.shape).copy()
        self._paint(colour, np.array(face.hair), self._hair_alpha(point, face, shape, view.pixel * view.edge))

        eye_anchor = (face.eye_spacing, face.eye_height + _EYE_WINDOW[1])
        mouth_anchor = (0.0, face.mouth_height)
        for side in (-1.0, 1.0):
            window = view.window(region, (side * eye_anchor[0], eye_anchor[1]), _EYE_WINDOW[0])
            if window is not None:
                rows, cols = window
                self._paint_eye(
                    colour[:, :, rows, cols], point[:, :, rows, cols], width[:, rows, cols], face, params, side
                )
        window = view.window(region, mouth_anchor, _MOUTH_WINDOW * face.mouth_size)
        if window is not None:
            rows, cols = window
            self._paint_mouth(colour[:, :, rows, cols], point[:, :, rows, cols], width[:, rows, cols], face, params)
        return colour

    def _paint_eye(self, colour: F, point: F, width: F, face: FaceIdentity, params: FaceParams, side: float) -> None:
        """Eye socket, sclera, iris, pupil, upper lash line and brow of one eye (``side`` -1 image left)."""
        x, y, facing = point[0], point[1], point[2] > 0.0
        blink, brows = _per_frame(params.blink), _per_frame(params.brows)
        ew, eh = _EYE_SEMI[0] * face.eye_size, _EYE_SEMI[1] * face.eye_size
        ex = side * face.eye_spacing
        u = (x - ex) * side / ew
        v = y - face.eye_height
        socket = np.sqrt((u / _SOCKET[0]) ** 2 + (v / (_SOCKET[1] * eh)) ** 2) - 1.0
        colour *= 1.0 - np.clip(0.5 - socket * ew / _SOCKET[2], 0.0, 1.0) * (_SOCKET[3] * facing)
        base = np.clip(1.0 - u * u, 0.0, 1.0)
        upper = eh * base**0.6 * (1.0 + 0.15 * u)
        lower = -0.7 * eh * base**0.8
        lid = lower + (upper - lower) * (1.0 - blink)
        opening = _band(v, lower, lid, width) * _edge(np.abs(u) - 1.0, ew, width) * facing
        self._paint(colour, np.array(SCLERA), opening)
        radius = np.sqrt((x - ex) ** 2 + v**2)
        iris = np.clip(0.5 - (radius - _IRIS * face.eye_size) / width, 0.0, 1.0)
        self._paint(colour, np.array(face.eye_colour), iris * opening)
        pupil = np.clip(0.5 - (radius - _PUPIL * _IRIS * face.eye_size) / width, 0.0, 1.0)
        self._paint(colour, np.array(PUPIL), pupil * opening)
        lash = _band(v, lid, lid + _LASH * face.eye_size, width) * _edge(np.abs(u) - 1.05, ew, width) * facing
        self._paint(colour, np.array(_LASH_COLOUR), lash)

        bu = (x - side * (face.eye_spacing + _BROW[4])) * side / _BROW[0]
        centre = face.eye_height + _BROW[1] + _BROW[2] * brows + _BROW[3] * (1.0 - bu * bu) - _BROW[5] * bu
        half = 0.5 * face.brow_thickness * (1.15 - 0.3 * (bu + 1.0))  # thinner towards the outer end
        brow = _band(y, centre - half, centre + half, width) * _edge(np.abs(bu) - 1.0, _BROW[0], width) * facing
        self._paint(colour, np.minimum(np.array(face.hair), _BROW_COLOUR[0]) * _BROW_COLOUR[1], brow)

    def _paint_mouth(self, colour: F, point: F, width: F, face: FaceIdentity, params: FaceParams) -> None:
        """Lips, the closed-lip seam and the mouth opening.

        The opening is ``_MOUTH_OPENING * mouth_size * mouth_open`` high at its centre, ``_UPPER_SHARE`` of it
        above the lip line; its half-width grows linearly with ``mouth_width``.
        """
        x, y, facing = point[0], point[1], point[2] > 0.0
        opening_height = _per_frame(params.mouth_open) * (_MOUTH_OPENING * face.mouth_size)
        half_width = (
            _MOUTH_HALF_WIDTH[0]
            * face.mouth_size
            * (_MOUTH_HALF_WIDTH[1] + _MOUTH_HALF_WIDTH[2] * _per_frame(params.mouth_width))
        )
        u = x / half_width
        v = y - face.mouth_height
        base = np.sqrt(np.clip(1.0 - u * u, 0.0, 1.0))
        top = _UPPER_SHARE * opening_height * base
        bottom = (_UPPER_SHARE - 1.0) * opening_height * base
        lip_shape = base**0.8
        bow = 1.0 - 0.25 * np.exp(-((u / 0.18) ** 2))  # cupid's bow: the upper lip thins at the centre
        across = _edge(np.abs(u) - 1.0, half_width, width) * facing
        lips = np.array(face.lips, np.float32).reshape(3, 1, 1, 1)
        upper_lip = _band(v, top, top + _LIPS[0] * face.mouth_size * lip_shape * bow, width) * across
        lower_lip = _band(v, bottom - _LIPS[1] * face.mouth_size * lip_shape, bottom, width) * across
        self._paint(colour, lips * _LIPS[2], upper_lip)
        self._paint(colour, lips, lower_lip)
        middle = 0.5 * (top + bottom)
        seam = _band(v, middle - 0.5 * _SEAM[0] * base, middle + 0.5 * _SEAM[0] * base, width) * across
        self._paint(colour, lips * _SEAM[1], seam)
        self._paint(colour, np.array(MOUTH_INTERIOR), _band(v, bottom, top, width) * across)


Region = tuple[slice, slice]
"""Rows and columns of a part of the image."""


def _per_frame(values: np.ndarray) -> F:
    return values.astype(np.float32).reshape(-1, 1, 1)


class _View:
    """Camera, pose and pixel grid of one chunk of frames; casts posed ellipsoids inside their bounding boxes."""

    def __init__(self, size: int, config: RenderConfig, face: FaceIdentity, params: FaceParams) -> None:
        self.size = size
        self.face = face
        self.params = params
        self.scale = config.head_radius * size * face.scale  # pixels per head unit
        self.pixel = 1.0 / self.scale
        self.edge = config.edge_pixels
        self.cx, self.cy = config.head_center[0] * size, config.head_center[1] * size
        self.xs = ((np.arange(size) + 0.5 - self.cx) / self.scale).astype(np.float32)
        self.ys = (-(np.arange(size) + 0.5 - self.cy) / self.scale).astype(np.float32)
        self.rotation = rotation_matrices(params.yaw, params.pitch, params.roll)
        self.still = np.broadcast_to(np.eye(3), self.rotation.shape)
        self.pivot = np.array([0.0, -config.pivot_below, 0.0])

    def _project(self, points: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel columns and rows ``(T, K)`` of head-frame ``points`` ``(K, 3)``."""
        camera = np.einsum("tij,kj->tki", rotation, points - self.pivot) + self.pivot
        return self.cx + camera[..., 0] * self.scale, self.cy - camera[..., 1] * self.scale

    def _clip(self, low_col: float, high_col: float, low_row: float, high_row: float) -> Region | None:
        margin = 2.0 * self.edge + 1.0
        c0, c1 = max(int(np.floor(low_col - margin)), 0), min(int(np.ceil(high_col + margin)), self.size)
        r0, r1 = max(int(np.floor(low_row - margin)), 0), min(int(np.ceil(high_row + margin)), self.size)
        if c1 <= c0 or r1 <= r0:
            return None
        return (slice(r0, r1), slice(c0, c1))

    def region(self, centre: tuple[float, ...], semi: tuple[float, ...], still: bool = False) -> Region | None:
        """Bounding box over all frames of the posed ellipsoid's silhouette (``None`` if off-screen)."""
        rotation = self.still if still else self.rotation
        # The silhouette of an ellipsoid lies inside the projection of its bounding sphere's box along each axis:
        # |x - c_x| <= sqrt((R diag(a^2) R^T)_00), likewise for y.
        spread = np.einsum("tij,j,tij->ti", rotation, np.square(np.asarray(semi)), rotation)
        cols, rows = self._project(np.asarray(centre, np.float64)[None], rotation)
        half_x, half_y = np.sqrt(spread[:, 0]) * self.scale, np.sqrt(spread[:, 1]) * self.scale
        return self._clip(
            float((cols[:, 0] - half_x).min()),
            float((cols[:, 0] + half_x).max()),
            float((rows[:, 0] - half_y).min()),
            float((rows[:, 0] + half_y).max()),
        )

    def union(self, *regions: Region | None) -> Region:
        kept = [r for r in regions if r is not None]
        if not kept:
            return (slice(0, 0), slice(0, 0))
        return (
            slice(min(r[0].start for r in kept), max(r[0].stop for r in kept)),
            slice(min(r[1].start for r in kept), max(r[1].stop for r in kept)),
        )

    def cast(
        self,
        centre: tuple[float, ...],
        semi: tuple[float, ...],
        *,
        still: bool = False,
        region: Region | None = None,
    ) -> tuple[Hit, Region]:
        """Rays of ``region`` (default: the ellipsoid's bounding box) cast at the posed ellipsoid."""
        rotation = self.still if still else self.rotation
        if region is None:
            region = self.region(centre, semi, still) or (slice(0, 0), slice(0, 0))
        rows, cols = region
        hit = cast(
            np.asarray(centre, np.float64),
            np.asarray(semi, np.float64),
            rotation,
            self.pivot,
            self.xs[cols],
            self.ys[rows],
            self.pixel,
            self.edge,
        )
        return hit, region

    def window(self, region: Region, anchor: tuple[float, float], radius: float) -> Region | None:
        """Part of ``region`` (relative to it) covering a surface feature at head-frame ``anchor`` +- ``radius``.

        The anchor is lifted onto the front of the head ellipsoid; ``radius`` is in head units.
        """
        x, y = anchor
        depth = self.face.head_depth * np.sqrt(max(1.0 - x * x - (y / self.face.head_aspect) ** 2, 0.0))
        cols, rows = self._project(np.array([[x, y, depth]]), self.rotation)
        reach = radius * self.scale
        clipped = self._clip(
            float(cols.min() - reach), float(cols.max() + reach), float(rows.min() - reach), float(rows.max() + reach)
        )
        if clipped is None:
            return None
        r0 = max(clipped[0].start, region[0].start) - region[0].start
        r1 = min(clipped[0].stop, region[0].stop) - region[0].start
        c0 = max(clipped[1].start, region[1].start) - region[1].start
        c1 = min(clipped[1].stop, region[1].stop) - region[1].start
        if r1 <= r0 or c1 <= c0:
            return None
        return (slice(r0, r1), slice(c0, c1))


def _edge(distance: F, unit: float | F, width: F) -> F:
    """Coverage of the inside of an edge at signed ``distance * unit`` (negative inside)."""
    return np.clip(0.5 - distance * unit / width, 0.0, 1.0)


def _band(v: F, low: F, high: F, width: F) -> F:
    """Box-filtered coverage of the band ``low < v < high`` by a pixel of size ``width`` (exact for thin bands)."""
    return np.clip((np.minimum(high, v + 0.5 * width) - np.maximum(low, v - 0.5 * width)) / width, 0.0, 1.0)
