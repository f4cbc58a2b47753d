"""Measuring faces of the synthetic world in frames, from their known colours and geometry.

Works on ground-truth renders and on frames that only resemble them (a learned renderer's output, compressed
video). Frames are first smoothed by a Gaussian of ``_SMOOTHING`` pixels (at 128 px). Per frame:

1. Background: the colour of the left and right image borders, per row, fitted by a line over the upper rows
   (backgrounds are plain or vertical gradients). Foreground: pixels farther than ``foreground_distance`` from it.
2. Skin: the median colour of a central patch across the video; skin pixels are foreground pixels whose
   chromaticity is within ``_SKIN_CHROMA`` of it and whose brightness ratio to it is within ``_SKIN_BRIGHTNESS``
   (shading). The face is the largest skin component with its holes (eyes, mouth) filled, cut below the chin where
   it narrows to the neck.
3. Mouth: inside the lower half of the face, pixels redder than the skin (redness ``rho = (R - G) / (R + G + B)``:
   lips and the mouth cavity, never skin, nostrils or eyes) by more than a threshold that follows the reddest
   pixels (a share of a high percentile of the excess redness, within fixed bounds); the connected blob with the
   most excess redness is the mouth, and its weighted centroid the mouth centre. The opening is the linear
   unmixing weight of the cavity colour against the lip colour, ``alpha = clip(<c - c_lip, d> / |d|^2, 0, 1)``
   with ``d = c_cavity - c_lip`` and ``c_lip`` the median colour of the brighter half of the mouth pixels, summed
   down the columns near the mouth centre (triangle-weighted), divided by the image height. Unmixing keeps the
   sum nearly unchanged by blur, so it degrades gracefully.
4. Yaw: the mouth centre's horizontal offset from the centre of the face at the mouth row, over the half-width of
   the face at that row (a feature on a turning ellipsoid moves by ``~ z sin(yaw)`` while the silhouette stays).
5. Pitch: the height of the mouth centre in the image, over the image height (the mouth sits in front of the neck
   pivot and rises when the chin lifts, while the body stays where it is; yaw and roll barely move it vertically).
6. Blink: the area of the holes of the upper face (eyes, brows, lash lines: face pixels that are not skin). With
   ``A`` that area, ``A_ref`` its 95th percentile over the video (eyes are open most of the time) and ``r`` the
   calibrated ratio of closed-eye to open-eye area, ``blink = (1 - A / A_ref) / (1 - r)``.

Raw values become :class:`FaceMeasurements` units through linear maps fitted on renders of the synthetic world
(:func:`calibrate`, cached per process): over several faces by default, or over one face when it is known, which
also removes its offsets (e.g. where its mouth sits).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from motionkit.data.synthetic import MOUTH_INTERIOR, FaceIdentity, FaceParams, SyntheticWorld, SyntheticWorldConfig
from motionkit.eval.face.base import FaceMeasurements, check_frames

_REFERENCE_SIZE = 128
_SMOOTHING = 0.7  # Gaussian sigma of the pre-smoothing, in pixels of a 128-pixel frame
_ROW_MARGIN = 2  # rows above and below the mouth blob included in the opening sum (at 128 px)
_EDGE_ROWS = 2  # rows above and below the mouth whose face edges are averaged (median)
_FOREGROUND_DISTANCE = 0.12
_BACKGROUND_ROWS = 0.35  # share of upper rows used to fit the background gradient
_BORDER = 0.04  # share of the width used as the left and right border
_SKIN_PATCH = ((0.42, 0.56), (0.3, 0.7))  # rows, columns (shares of the image) of the skin sample
_SKIN_CHROMA = 0.045
_SKIN_BRIGHTNESS = (0.55, 1.5)
_NECK_WIDTH = 0.55  # rows narrower than this share of the widest face row belong to the neck
# Excess redness threshold of the mouth: _LIP_REDNESS[1] times the _LIP_REDNESS[2] percentile of the lower face's
# excess redness, clipped to [_LIP_REDNESS[0], _LIP_REDNESS[3]] (the cap keeps the lips in when the cavity is large).
_LIP_REDNESS = (0.03, 0.4, 99.7, 0.07)
_MOUTH_CORE = 0.35  # central share of the mouth's half-width whose columns measure the opening
_CAVITY_SHADE = 0.85  # typical shading of the cavity colour on a lit face
_BLINK_REFERENCE = 95.0
_CALIBRATION_FACES = 10
_CALIBRATION_STEPS = 7
_EPS = 1e-6


@dataclass(frozen=True)
class Calibration:
    """Linear maps ``value = gain * (raw - offset)`` from raw measurements to parameter units, and the ratio of
    the upper-face hole area with closed eyes to that with open eyes."""

    mouth: tuple[float, float]
    yaw: tuple[float, float]
    pitch: tuple[float, float]
    blink_ratio: float

    @staticmethod
    def apply(raw: np.ndarray, gain_offset: tuple[float, float]) -> np.ndarray:
        gain, offset = gain_offset
        return gain * (raw - offset)


def raw_measurements(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Uncalibrated per-frame measurements ``mouth``, ``yaw``, ``pitch``, ``eyes`` (``(T,)``, NaN if no face)."""
    frames = check_frames(frames)
    T, H = frames.shape[:2]
    sigma = _SMOOTHING * H / _REFERENCE_SIZE  # suppresses pixel noise and compression blocks before thresholding
    image = ndimage.gaussian_filter(frames.astype(np.float32) / 255.0, (0.0, sigma, sigma, 0.0))
    skin = _skin_colour(image)
    out = {name: np.full(T, np.nan) for name in ("mouth", "yaw", "pitch", "eyes")}
    for t in range(T):
        measured = _measure_frame(image[t], skin)
        if measured is not None:
            for name, value in measured.items():
                out[name][t] = value
    return out


def _background(image: np.ndarray) -> np.ndarray:
    """``(H, 3)`` background colour per row: a line fitted to the border medians of the upper rows."""
    H, W, _ = image.shape
    border = max(round(_BORDER * W), 1)
    sides = np.concatenate([image[:, :border], image[:, -border:]], axis=1)
    rows = np.median(sides, axis=1)  # (H, 3)
    fit = max(round(_BACKGROUND_ROWS * H), 2)
    y = np.arange(H, dtype=np.float64)
    coefficients = np.polyfit(y[:fit], rows[:fit], 1)  # (2, 3)
    return (coefficients[0][None, :] * y[:, None] + coefficients[1][None, :]).astype(np.float32)


def _skin_colour(image: np.ndarray) -> np.ndarray:
    """Median colour of the central patch over all frames, ``(3,)``."""
    H, W = image.shape[1:3]
    (r0, r1), (c0, c1) = _SKIN_PATCH
    patch = image[:, int(r0 * H) : int(r1 * H), int(c0 * W) : int(c1 * W)].reshape(-1, 3)
    brightness = patch.sum(axis=1)
    # The patch holds cheeks, nose and eye whites; the middle brightness band is skin.
    low, high = np.percentile(brightness, [25, 75])
    return np.median(patch[(brightness >= low) & (brightness <= high)], axis=0)


def _chroma(colour: np.ndarray) -> np.ndarray:
    return colour[..., :2] / (colour.sum(axis=-1, keepdims=True) + _EPS)


def _measure_frame(image: np.ndarray, skin: np.ndarray) -> dict[str, float] | None:
    H, W, _ = image.shape
    background = _background(image)
    foreground = np.linalg.norm(image - background[:, None, :], axis=-1) > _FOREGROUND_DISTANCE
    brightness = image.sum(axis=-1)
    ratio = brightness / (skin.sum() + _EPS)
    chroma_distance = np.linalg.norm(_chroma(image) - _chroma(skin), axis=-1)
    skin_mask = (
        foreground & (chroma_distance < _SKIN_CHROMA) & (ratio > _SKIN_BRIGHTNESS[0]) & (ratio < _SKIN_BRIGHTNESS[1])
    )
    labels, count = ndimage.label(skin_mask)
    if count == 0:
        return None
    sizes = ndimage.sum_labels(skin_mask, labels, index=np.arange(1, count + 1))
    face = ndimage.binary_fill_holes(labels == (1 + int(np.argmax(sizes))))
    # Cut at the neck: the first row below the widest one that is narrower than _NECK_WIDTH of it.
    widths = face.sum(axis=1)
    widest = int(np.argmax(widths))
    narrow = np.flatnonzero(widths[widest:] < _NECK_WIDTH * widths[widest])
    if narrow.size:
        face[widest + int(narrow[0]) :] = False
    rows = np.flatnonzero(face.any(axis=1))
    centre_row = float(np.average(np.arange(H), weights=face.sum(axis=1)))

    redness = (image[..., 0] - image[..., 1]) / (brightness + _EPS)
    skin_redness = float((skin[0] - skin[1]) / (skin.sum() + _EPS))
    lower = np.zeros_like(face)
    lower[int(np.ceil(centre_row)) : rows[-1] + 1] = True
    excess = (redness - skin_redness) * (face & lower)
    # Pale lips on pale skin lose redness to blur and chroma subsampling: the threshold follows the reddest pixels.
    threshold = float(np.clip(_LIP_REDNESS[1] * np.percentile(excess, _LIP_REDNESS[2]), *_LIP_REDNESS[::3]))
    weight = np.clip(excess - threshold, 0.0, None)
    labels, count = ndimage.label(weight > 0)
    if count == 0:
        return None
    mass = ndimage.sum_labels(weight, labels, index=np.arange(1, count + 1))
    weight = weight * (labels == (1 + int(np.argmax(mass))))  # the mouth is the heaviest red blob
    total = float(weight.sum())
    ys, xs = np.mgrid[0:H, 0:W]
    mouth_x = float((weight * xs).sum() / total)
    mouth_y = float((weight * ys).sum() / total)
    mask = weight > 0
    spread = float(np.sqrt(((xs[mask] - mouth_x) ** 2 * weight[mask]).sum() / weight[mask].sum()))
    half_width = max(np.sqrt(3.0) * spread, 1.0)  # a uniform bar of half-width a has standard deviation a / sqrt(3)

    mouth_colours = image[mask]
    mouth_brightness = brightness[mask]
    lips = np.median(mouth_colours[mouth_brightness >= np.median(mouth_brightness)], axis=0)
    cavity = np.asarray(MOUTH_INTERIOR, np.float32) * _CAVITY_SHADE
    direction = cavity - lips
    alpha = np.clip(((image - lips) @ direction) / (direction @ direction + _EPS), 0.0, 1.0) * face
    blob_rows = np.flatnonzero(mask.any(axis=1))
    margin = int(np.ceil(_ROW_MARGIN * H / _REFERENCE_SIZE))
    top, bottom = max(int(blob_rows[0]) - margin, 0), min(int(blob_rows[-1]) + margin + 1, H)
    # Columns near the centre, weighted by a triangle so the measure moves smoothly with the mouth.
    core = max(_MOUTH_CORE * half_width, 1.0)
    columns = np.clip(1.0 - np.abs(np.arange(W) - mouth_x) / core, 0.0, None)
    opening = float(alpha[top:bottom].sum(axis=0) @ columns / columns.sum()) / H

    row = round(mouth_y)
    band = face[max(row - _EDGE_ROWS, 0) : min(row + _EDGE_ROWS + 1, H)]
    band = band[band.any(axis=1)]
    if band.shape[0] == 0:
        return None
    left = float(np.median(np.argmax(band, axis=1)))
    right = float(np.median(W - np.argmax(band[:, ::-1], axis=1)))
    yaw = (mouth_x + 0.5 - 0.5 * (left + right)) / max(0.5 * (right - left), 1.0)
    pitch = (mouth_y + 0.5) / H

    eyes = float((face & ~skin_mask)[rows[0] : int(centre_row)].sum()) / (H * W)
    return {"mouth": opening, "yaw": yaw, "pitch": pitch, "eyes": eyes}


class SyntheticFaceAnalyzer:
    """Measure mouth opening, yaw, pitch and blink of synthetic-world faces (see the module docstring).

    Args:
        world_config: the world whose faces are measured (its geometry is used for calibration).
        identity: the face, when known; calibration then uses renders of that face only.
    """

    def __init__(self, world_config: SyntheticWorldConfig | None = None, identity: FaceIdentity | None = None) -> None:
        self.world_config = world_config or SyntheticWorldConfig()
        self.identity = identity

    def calibration(self, size: int) -> Calibration:
        """The calibration for ``size``-pixel frames (see :func:`calibrate`; cached per process)."""
        return calibrate(self.world_config, self.identity, size)

    def measure(self, frames: np.ndarray) -> FaceMeasurements:
        frames = check_frames(frames)
        raw = raw_measurements(frames)
        calibration = self.calibration(frames.shape[1])
        eyes = raw["eyes"]
        reference = np.nanpercentile(eyes, _BLINK_REFERENCE) if np.isfinite(eyes).any() else np.nan
        return FaceMeasurements(
            mouth_open=Calibration.apply(raw["mouth"], calibration.mouth),
            yaw=Calibration.apply(raw["yaw"], calibration.yaw),
            pitch=Calibration.apply(raw["pitch"], calibration.pitch),
            blink=np.clip((1.0 - eyes / max(reference, _EPS)) / (1.0 - calibration.blink_ratio), 0.0, 1.0),
        )


def _fit(rows: list[tuple[np.ndarray, np.ndarray, float]]) -> tuple[float, float]:
    """Gain from within-face centred least squares; offset = mean neutral raw value."""
    raw = np.concatenate([r - r.mean() for r, _, _ in rows])
    target = np.concatenate([v - v.mean() for _, v, _ in rows])
    gain = float((raw @ target) / max(float(raw @ raw), _EPS))
    offset = float(np.mean([neutral for _, _, neutral in rows]))
    return gain, offset


@functools.lru_cache(maxsize=32)
def calibrate(world_config: SyntheticWorldConfig, identity: FaceIdentity | None, size: int) -> Calibration:
    """Fit the raw-to-unit maps on renders of ``size`` pixels, of ``identity`` or of ten faces when it is ``None``.

    Mouth: ``mouth_open`` swept over [0, 1] on a frontal face. Yaw, pitch: swept over their limits with the other
    angle at zero. Blink: eyes open and closed. Gains are least squares over all faces after removing each face's
    own mean raw value (so they measure changes); offsets are the faces' mean raw value at the neutral pose.
    """
    world = SyntheticWorld(world_config, size=size)
    faces = [identity] if identity is not None else [world.identity(s) for s in range(_CALIBRATION_FACES)]
    motion = world_config.motion
    sweep = np.linspace(-1.0, 1.0, _CALIBRATION_STEPS)
    openings = np.linspace(0.0, 1.0, _CALIBRATION_STEPS)
    design: dict[str, list[tuple[np.ndarray, np.ndarray, float]]] = {"mouth": [], "yaw": [], "pitch": []}
    ratios = []
    for face in faces:
        params = FaceParams.neutral(openings.size).replace(mouth_open=openings.astype(np.float32))
        mouth = raw_measurements(world.render(face, params))["mouth"]
        design["mouth"].append((mouth, openings, float(mouth[0])))
        for name, limit in (("yaw", motion.yaw_limit), ("pitch", motion.pitch_limit)):
            angles = (sweep * limit).astype(np.float32)
            params = FaceParams.neutral(angles.size).replace(**{name: angles})
            raw = raw_measurements(world.render(face, params))[name]
            design[name].append((raw, angles, float(raw[_CALIBRATION_STEPS // 2])))
        eyes = raw_measurements(world.render(face, FaceParams.neutral(2).replace(blink=np.array([0.0, 1.0]))))
        ratios.append(float(eyes["eyes"][1] / max(eyes["eyes"][0], _EPS)))
    return Calibration(**{name: _fit(rows) for name, rows in design.items()}, blink_ratio=float(np.mean(ratios)))
