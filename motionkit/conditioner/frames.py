"""Frame bookkeeping shared by the audio encoders: padding to whole frames and block-wise encoding.

Frame ``t`` of a clip covers samples ``[spf * t, spf * (t + 1))`` (``spf`` = samples per frame, 640 at 16 kHz and
25 fps); a clip of ``N`` samples has ``T = ceil(N / spf)`` frames and is right-padded to ``T * spf`` samples by
repeating its last sample (FLOAT's rule).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

FrameEncoder = Callable[[torch.Tensor, int], torch.Tensor]
"""``encode(waveform (B, frames * spf), frames) -> (B, frames, D)``."""


def pad_to_frames(waveform: torch.Tensor, frames: int, samples_per_frame: int) -> torch.Tensor:
    """Right-pad ``(B, N)`` to ``(B, frames * spf)`` by repeating the last sample (replicate padding)."""
    target = frames * samples_per_frame
    missing = target - waveform.shape[-1]
    if missing < 0:
        raise ValueError(f"{waveform.shape[-1]} samples do not fit in {frames} frames of {samples_per_frame}")
    if missing == 0:
        return waveform
    return torch.cat([waveform, waveform[:, -1:].expand(-1, missing)], dim=-1)


def encode_in_blocks(
    encode: FrameEncoder, waveform: torch.Tensor, samples_per_frame: int, block: int, context: int
) -> torch.Tensor:
    """Encode a padded waveform ``(B, T * spf)`` block by block: ``(B, T, D)``.

    Block ``[c0, c1)`` is encoded from the frames ``[max(0, c0 - context), min(T, c1 + context))`` and only its own
    frames are kept; frames therefore see at most ``context`` frames on each side, not the whole clip.
    """
    frames = waveform.shape[-1] // samples_per_frame
    parts = []
    for start in range(0, frames, block):
        stop = min(frames, start + block)
        left, right = max(0, start - context), min(frames, stop + context)
        window = waveform[:, left * samples_per_frame : right * samples_per_frame]
        parts.append(encode(window, right - left)[:, start - left : stop - left])
    return torch.cat(parts, dim=1)
