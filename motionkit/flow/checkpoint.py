"""Conversion between a flow transformer and the ``fmt.*`` entries of an official FLOAT checkpoint."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from motionkit_kernels.reference import band_mask
from torch import nn

from motionkit.errors import CheckpointError

FLOAT_PREFIX = "fmt."
"""Prefix of the flow transformer's entries in FLOAT's flat state dict."""

ALIGNMENT_MASK_KEY = "alignment_mask"
"""FLOAT's stored ``(N, N)`` bool buffer, True where attention is blocked (``|i - j| > window``)."""

MAX_LISTED = 20
"""Longest list of offending keys printed per category in an error message."""


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
    otherwise ignored. Values
    are copied (and cast to the module's dtype); the caller's tensors are never modified.
    """
    own = module.state_dict()
    entries = dict(entries)
    mask = entries.pop(ALIGNMENT_MASK_KEY, None)
    missing = sorted(set(own) - set(entries))
    unexpected = sorted(set(entries) - set(own))
    mismatched = []
    for key in sorted(set(own) & set(entries)):
        value = entries[key]
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            mismatched.append(f"{key}: expected a float tensor, got {_describe(value)}")
        elif value.shape != own[key].shape:
            mismatched.append(f"{key}: expected shape {tuple(own[key].shape)}, got {tuple(value.shape)}")
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {_listing(unexpected)}")
    if mismatched:
        problems.append(f"mis-shaped {len(mismatched)}: {_listing(mismatched)}")
    if problems:
        raise CheckpointError(
            "the FLOAT state dict does not match this FlowConfig ("
            + "; ".join(problems)
            + "). Keys are shown without the 'fmt.' prefix; build the sampler with the FlowConfig the "
            "checkpoint was trained with."
        )
    if mask is not None:
        check_alignment_mask(mask, length, window)
    module.load_state_dict(entries, strict=True)


def float_entries(module: nn.Module, length: int, window: int) -> dict[str, torch.Tensor]:
    """The module's weights under FLOAT's ``fmt.*`` keys, plus the ``(length, length)`` ``alignment_mask`` buffer."""
    out = {FLOAT_PREFIX + k: v.detach().clone() for k, v in module.state_dict().items()}
    out[FLOAT_PREFIX + ALIGNMENT_MASK_KEY] = ~band_mask(length, window)
    return out


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).replace('torch.', '')} tensor {tuple(value.shape)}"
    return type(value).__name__


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f", ... ({len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else "")
