"""Helpers of the IMTalker generator tests."""

from __future__ import annotations

import torch

from motionkit.types import EMOTION_LABELS


def neutral(frames: int, batch: int = 1) -> torch.Tensor:
    """``(batch, frames, 7)`` the neutral emotion (the only one IMTalker's conditions may carry)."""
    emotion = torch.zeros(batch, frames, len(EMOTION_LABELS))
    emotion[..., EMOTION_LABELS.index("neutral")] = 1
    return emotion
