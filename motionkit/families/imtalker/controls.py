"""IMTalker's per-frame controls (head pose, camera, gaze) as ``Conditions`` tracks: a constant or a track of any
length, fitted to the clip's frames by the official rule.

The official generator reads pose/camera from SMIRK (``pose_params`` (L, 3), ``cam`` (L, 3)) and gaze from L2CS-Net
((L, 2), pitch and yaw) and aligns each sequence to the ``T`` frames of the audio by cropping it, or by appending
**raw zeros** when it is shorter (zeros before the projection, unlike a missing control, which is zeros after it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from motionkit.errors import ShapeError
from motionkit.types import Conditions
from motionkit.validation import check_tensor

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
