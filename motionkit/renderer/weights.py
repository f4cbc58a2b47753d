"""Loading official FLOAT motion auto-encoder weights: key selection and one clear report of every mismatch."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from motionkit.errors import CheckpointError
from motionkit.validation import KeyReport, check_keys, raise_for_keys

FLOAT_PREFIX = "motion_autoencoder."
"""Prefix of the motion auto-encoder in FLOAT's checkpoint (``motion_autoencoder.enc.*``, ``...dec.*``)."""

OTHER_FLOAT_COMPONENTS = ("fmt.", "audio_encoder.", "emotion_encoder.")
"""Prefixes of the other FLOAT components; their keys are ignored so that a whole ``float.pth`` can be passed."""


def check_float_weights(state_dict: Mapping[str, object], layout: nn.Module) -> KeyReport:
    """Check the ``motion_autoencoder.*`` entries of an official state dict against ``layout``'s own state dict.

    Every tensor of ``layout.state_dict()`` must be present with its shape; the buffers the modules build themselves
    (FIR kernels, stored in the official file) are accepted and never read. Other entries are not looked at.
    """
    expected = {FLOAT_PREFIX + name: tuple(tensor.shape) for name, tensor in layout.state_dict().items()}
    buffers = {FLOAT_PREFIX + name for name, _ in layout.named_buffers()}
    return check_keys(state_dict, expected, optional=buffers, prefix=FLOAT_PREFIX)


def select_float_weights(
    state_dict: Mapping[str, torch.Tensor], layout: nn.Module, hint: str
) -> dict[str, torch.Tensor]:
    """The entries of an official state dict that ``layout`` loads, with ``motion_autoencoder.`` stripped.

    Keys of other FLOAT components and of buffers the modules build themselves (FIR kernels) are dropped. Every
    missing, unexpected or mis-shaped key is reported in a single :class:`CheckpointError` whose message ends with
    ``hint``.

    Args:
        state_dict: official-layout tensors (``motion_autoencoder.enc.net_app.convs.0.0.weight`` ...).
        layout: the module the weights are for (only its state-dict names and shapes are read).
        hint: advice appended to the error message (e.g. which config to pass).
    """
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(
            f"expected a state dict (a mapping of names to tensors), got {type(state_dict).__name__}."
        )
    strays = tuple(key for key in state_dict if not key.startswith((FLOAT_PREFIX, *OTHER_FLOAT_COMPONENTS)))
    report = check_float_weights(state_dict, layout) + KeyReport(unexpected=strays)
    raise_for_keys(report, "the weights do not match the motion auto-encoder layout", hint)
    return {name: state_dict[FLOAT_PREFIX + name] for name in layout.state_dict()}
