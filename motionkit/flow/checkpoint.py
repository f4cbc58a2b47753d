"""Conversion between a flow transformer and the ``fmt.*`` entries of an official FLOAT checkpoint."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from motionkit_kernels.reference import band_mask
from torch import nn

from motionkit.errors import CheckpointError
from motionkit.validation import check_keys, raise_for_keys

FLOAT_PREFIX = "fmt."
"""Prefix of the flow transformer's entries in FLOAT's flat state dict."""

ALIGNMENT_MASK_KEY = "alignment_mask"
"""FLOAT's stored ``(N, N)`` bool buffer, True where attention is blocked (``|i - j| > window``)."""


def strip_float_prefix(state_dict: Mapping[str, object]) -> dict[str, object]:
    """The ``fmt.*`` entries without their prefix; other entries (e.g. the motion auto-encoder's) are ignored."""
    entries = {k[len(FLOAT_PREFIX) :]: v for k, v in state_dict.items() if k.startswith(FLOAT_PREFIX)}
    if not entries:
        sample = ", ".join(list(state_dict)[:5]) or "none"
        raise CheckpointError(
            f"the state dict has no '{FLOAT_PREFIX}*' entries (first keys: {sample}); pass FLOAT's checkpoint "
            f"(float.pth loaded with torch.load(weights_only=True)) or a dict from float_state_dict()."
        )
    return entries


def check_alignment_mask(mask: object, length: int, window: int) -> None:
    """Verify FLOAT's stored attention mask against the model's band (it is not needed for computing)."""
    expected = ~band_mask(length, window)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (length, length):
        got = f"{type(mask).__name__} {getattr(mask, 'dtype', '')} {tuple(getattr(mask, 'shape', ()))}"
        raise CheckpointError(
            f"'{FLOAT_PREFIX}{ALIGNMENT_MASK_KEY}' must be a bool ({length}, {length}) tensor, got {got.strip()}."
        )
    if not torch.equal(mask.cpu(), expected):
        allowed = (~mask.cpu()).sum(dim=1).max().item()
        raise CheckpointError(
            f"'{FLOAT_PREFIX}{ALIGNMENT_MASK_KEY}' is not the band |i - j| <= {window} this model uses "
            f"(its widest row allows {allowed} frames, the band allows {2 * window + 1}); set "
            f"FlowConfig.attention_window to the checkpoint's value."
        )


def load_float_entries(module: nn.Module, entries: Mapping[str, object], length: int, window: int) -> None:
    """Load prefix-free FLOAT entries into ``module``, or raise one CheckpointError listing every problem.

    The optional ``alignment_mask`` entry is verified (``(length, length)``, band ``|i - j| <= window``) and
    otherwise ignored. Values are copied (and cast to the module's dtype); the caller's tensors are never modified.
    """
    entries = dict(entries)
    mask = entries.pop(ALIGNMENT_MASK_KEY, None)
    expected = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    raise_for_keys(
        check_keys(entries, expected, floating=True),
        "the FLOAT state dict does not match this FlowConfig (keys are shown without the 'fmt.' prefix)",
        "Build the sampler with the FlowConfig the checkpoint was trained with.",
    )
    if mask is not None:
        check_alignment_mask(mask, length, window)
    module.load_state_dict(entries, strict=True)


def float_entries(module: nn.Module, length: int, window: int) -> dict[str, torch.Tensor]:
    """The module's weights under FLOAT's ``fmt.*`` keys, plus the ``(length, length)`` ``alignment_mask`` buffer."""
    out = {FLOAT_PREFIX + k: v.detach().clone() for k, v in module.state_dict().items()}
    out[FLOAT_PREFIX + ALIGNMENT_MASK_KEY] = ~band_mask(length, window)
    return out
