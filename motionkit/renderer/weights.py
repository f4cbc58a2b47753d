"""Loading official FLOAT motion auto-encoder weights: key selection and one clear report of every mismatch."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from motionkit.errors import CheckpointError

FLOAT_PREFIX = "motion_autoencoder."
"""Prefix of the motion auto-encoder in FLOAT's checkpoint (``motion_autoencoder.enc.*``, ``...dec.*``)."""

OTHER_FLOAT_COMPONENTS = ("fmt.", "audio_encoder.", "emotion_encoder.")
"""Prefixes of the other FLOAT components; their keys are ignored so that a whole ``float.pth`` can be passed."""

MAX_LISTED_KEYS = 8
"""How many keys of each kind a mismatch report lists before summarising the rest as a count."""


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    more = len(keys) - MAX_LISTED_KEYS
    return shown + (f", ... (+{more} more)" if more > 0 else "")


def select_float_weights(
    state_dict: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Size],
    constructed_buffers: set[str],
    hint: str,
) -> dict[str, torch.Tensor]:
    """Strip ``motion_autoencoder.`` from the keys of an official state dict and check them against ``expected``.

    Keys of other FLOAT components and of buffers the modules build themselves (FIR kernels) are dropped. Every
    missing, unexpected or mis-shaped key is reported in a single :class:`CheckpointError` whose message ends with
    ``hint``.

    Args:
        state_dict: official-layout tensors (``motion_autoencoder.enc.net_app.convs.0.0.weight`` ...).
        expected: key (without prefix) -> shape of every tensor the model loads.
        constructed_buffers: buffer names (without prefix) that are never read from a checkpoint.
        hint: advice appended to the error message (e.g. which config to pass).
    """
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(
            f"expected a state dict (a mapping of names to tensors), got {type(state_dict).__name__}."
        )
    selected: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for key, value in state_dict.items():
        if key.startswith(FLOAT_PREFIX):
            name = key[len(FLOAT_PREFIX) :]
            if name in constructed_buffers:
                continue
            if name in expected:
                selected[name] = value
                continue
        elif key.startswith(OTHER_FLOAT_COMPONENTS):
            continue
        unexpected.append(key)
    missing = [FLOAT_PREFIX + k for k in expected if k not in selected]
    misshaped = []
    for key, value in selected.items():
        want = tuple(expected[key])
        if not isinstance(value, torch.Tensor):
            misshaped.append(f"{FLOAT_PREFIX}{key} (a {type(value).__name__}, expected a tensor of shape {want})")
        elif tuple(value.shape) != want:
            misshaped.append(f"{FLOAT_PREFIX}{key} {tuple(value.shape)} (expected {want})")
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {_listing(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {_listing(unexpected)}")
    if misshaped:
        problems.append(f"{len(misshaped)} with the wrong shape: {_listing(misshaped)}")
    if problems:
        raise CheckpointError(
            "the weights do not match the motion auto-encoder layout; " + "; ".join(problems) + f". {hint}"
        )
    return selected
