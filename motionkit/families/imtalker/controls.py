"""IMTalker's per-frame controls (head pose, camera, gaze) as ``Conditions`` tracks: a constant or a track of any
length, fitted to the clip's frames by the official rule, or checked strictly; and tracks read from files.

The official generator reads pose/camera from SMIRK (``pose_params`` (L, 3), ``cam`` (L, 3)) and gaze from L2CS-Net
((L, 2), pitch and yaw) and aligns each sequence to the ``T`` frames of the audio by cropping it, or by appending
**raw zeros** when it is shorter (zeros before the projection, unlike a missing control, which is zeros after it).
:func:`with_controls` follows that rule; :func:`fit_controls` (what ``Pipeline.generate(controls=...)`` and the
command line use) refuses a track shorter than the clip instead, since zeros would be a head pose the user did not
ask for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from motionkit.errors import ConfigError, NonFiniteError, ShapeError
from motionkit.types import CONTROL_NAMES, Conditions
from motionkit.validation import check_tensor

CONTROL_UNITS = {
    "pose": "SMIRK pose_params: the head rotation as an axis-angle vector x, y, z in radians",
    "cam": "SMIRK cam: scale s, then translations tx, ty (a frame-filling face has s about 7)",
    "gaze": "L2CS-Net gaze: pitch, yaw in radians",
}
"""What the values of each control are, in order (messages and help)."""

TRACK_SUFFIXES = (".csv", ".npy")
"""Files a control track is read from: comma-separated text (one frame per line, an optional header line) or a NumPy
array ``(L, C)``."""

ControlInput = torch.Tensor | np.ndarray | Sequence[float]
"""A control: ``(C,)`` one value for every frame, ``(L, C)`` a track, or ``(B, L, C)`` a batch of tracks."""


def align_control(values: ControlInput, frames: int, name: str = "control") -> torch.Tensor:
    """``values`` as a ``(B, frames, C)`` float32 track (``B = 1`` unless a batch is given).

    A constant ``(C,)`` is repeated over the frames; a track is cropped to ``frames`` or zero-padded at the end
    (IMTalker's ``_align_sequence``).
    """
    tensor = torch.as_tensor(np.asarray(values, dtype=np.float32) if not isinstance(values, torch.Tensor) else values)
    check_tensor(name, tensor.float(), ndim=(1, 2, 3), hint="Expected (C,) a constant, (L, C) or (B, L, C) a track.")
    tensor = tensor.float()
    if frames < 1:
        raise ShapeError(f"a {name} track needs at least one frame, got frames={frames}.")
    if tensor.ndim == 1:
        return tensor.expand(1, frames, tensor.shape[0]).clone()
    track = tensor if tensor.ndim == 3 else tensor[None]
    if track.shape[1] >= frames:
        return track[:, :frames].clone()
    padding = track.new_zeros(track.shape[0], frames - track.shape[1], track.shape[2])
    return torch.cat([track, padding], dim=1)


def with_controls(
    conditions: Conditions,
    *,
    pose: ControlInput | None = None,
    cam: ControlInput | None = None,
    gaze: ControlInput | None = None,
) -> Conditions:
    """``conditions`` with the given controls fitted to its frames (:func:`align_control`) and batch; controls left
    ``None`` are kept as they are."""
    given = {"pose": pose, "cam": cam, "gaze": gaze}
    fitted = {}
    for name, values in given.items():
        if values is None:
            continue
        track = align_control(values, conditions.frames, name)
        if track.shape[0] not in (1, conditions.batch):
            raise ShapeError(
                f"the {name} track has batch {track.shape[0]} but the conditions have {conditions.batch}; give one "
                f"track, or one per clip."
            )
        fitted[name] = track.expand(conditions.batch, -1, -1).to(conditions.audio.device)
    return conditions.with_controls(**fitted)


def _as_tensor(values: ControlInput) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float32)
    return torch.as_tensor(np.asarray(values, dtype=np.float32))


def check_control(values: ControlInput, frames: int, name: str, width: int) -> torch.Tensor:
    """``values`` as a ``(B, frames, width)`` float32 track, refusing what :func:`align_control` would repair
    silently: a constant or track with other than ``width`` values per frame, a track shorter than the clip (a longer
    one is cut to it, as IMTalker does), or non-finite values.

    Raises:
        ShapeError: wrong number of values per frame, or too few frames.
        NonFiniteError: NaN or infinite values (the message gives the first frame that has one).
    """
    try:
        tensor = _as_tensor(values)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"the {name} control must be numbers ({CONTROL_UNITS.get(name, name)}): {exc}.") from None
    units = CONTROL_UNITS.get(name, f"{width} values")
    if tensor.ndim not in (1, 2, 3) or tensor.shape[-1] != width:
        raise ShapeError(
            f"the {name} control has shape {tuple(tensor.shape)}, but IMTalker's {name} takes {width} values per frame "
            f"({units}); give {width} numbers for the whole clip, or a track of one row of {width} per frame."
        )
    if not bool(torch.isfinite(tensor).all()):
        bad = (~torch.isfinite(tensor.reshape(-1, width))).any(dim=1).nonzero()[0, 0]
        raise NonFiniteError(
            f"the {name} control has a NaN or infinite value (first at row {int(bad)}); fix the track."
        )
    length = 1 if tensor.ndim == 1 else tensor.shape[-2]
    if tensor.ndim > 1 and length < frames:
        raise ShapeError(
            f"the {name} track has {length} frames but the clip has {frames}; give at least {frames} rows (a longer "
            f"track is cut). IMTalker itself pads a short track with zeros, which is a pose of its own: to get that, "
            f"append the zero rows yourself."
        )
    return align_control(tensor, frames, name)


def fit_controls(
    conditions: Conditions, controls: Mapping[str, ControlInput | None], widths: Mapping[str, int]
) -> Conditions:
    """``conditions`` with each given control checked (:func:`check_control`) and set; ``None`` values are skipped.

    Raises:
        ConfigError: an unknown control name.
    """
    unknown = sorted(set(controls) - set(CONTROL_NAMES))
    if unknown:
        raise ConfigError(
            f"unknown control(s) {', '.join(unknown)}; IMTalker's controls are {', '.join(CONTROL_NAMES)}."
        )
    fitted = {}
    for name, values in controls.items():
        if values is None:
            continue
        track = check_control(values, conditions.frames, name, widths[name])
        if track.shape[0] not in (1, conditions.batch):
            raise ShapeError(
                f"the {name} track has batch {track.shape[0]} but the conditions have {conditions.batch}; give one "
                f"track, or one per clip."
            )
        fitted[name] = track.expand(conditions.batch, -1, -1).to(conditions.audio.device)
    return conditions.with_controls(**fitted)


def read_control_track(path: str | Path, name: str = "control") -> np.ndarray:
    """A control track ``(L, C)`` float32 from a ``.csv`` (comma-separated, one frame per line; a first line that is
    not numbers is taken as a header) or ``.npy`` file (a 1-D array is one frame's values).

    Raises:
        ConfigError: a missing or unreadable file, another suffix, or text that is not a table of numbers.
    """
    path = Path(path)
    if path.suffix.lower() not in TRACK_SUFFIXES:
        raise ConfigError(
            f"the {name} track {path} must be a {' or '.join(TRACK_SUFFIXES)} file (one row of values per frame)."
        )
    if not path.is_file():
        raise ConfigError(f"the {name} track {path} does not exist; check the path.")
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            body = lines[1:] if lines and _is_header(lines[0]) else lines
            rows = [[float(v) for v in line.split(",")] for line in body]
            if len({len(row) for row in rows}) > 1:
                raise ValueError("the rows have different numbers of values")
            array = np.array(rows, dtype=np.float32)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the {name} track {path}: {exc}; give one row of numbers per frame.") from None
    if not np.issubdtype(array.dtype, np.number) or array.ndim not in (1, 2) or array.size == 0:
        raise ConfigError(
            f"the {name} track {path} holds a {array.dtype} array of shape {array.shape}; give a non-empty table of "
            f"numbers (frames, values)."
        )
    return np.atleast_2d(array.astype(np.float32))


def _is_header(line: str) -> bool:
    """Whether a CSV line is a header (not all numbers)."""
    try:
        for value in line.split(","):
            float(value)
    except ValueError:
        return True
    return False
