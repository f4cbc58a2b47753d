"""IMTalker's official renderer weights (``renderer.ckpt``'s ``state_dict``) -> :class:`IMTalkerRenderer`.

The module names of :class:`~motionkit.families.imtalker.renderer.IMTalkerRenderer` are the checkpoint's, so the
mapping is: keep the ``gen.`` entries (the discriminator's ``disc.*`` and the loss's ``criterion_vgg.*`` are not
part of the renderer), strip the prefix, drop the buffers the constructors rebuild
(:data:`~motionkit.families.imtalker.checkpoints.CONSTRUCTOR_BUFFERS`) and the identity encoder's unused
``equalconv`` (:data:`UNUSED_KEYS`). Every other difference — a missing, unexpected or misshaped entry — is
reported in one :class:`~motionkit.errors.CheckpointError` before anything is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from motionkit.families.imtalker.checkpoints import RENDERER_PREFIX, is_constructor_buffer, strip_prefix
from motionkit.families.imtalker.renderer import IMTalkerRenderer
from motionkit.validation import KeyReport, check_keys, raise_for_keys

UNUSED_KEYS = ("dense_feature_encoder.equalconv.weight", "dense_feature_encoder.equalconv.bias")
"""Renderer entries of the checkpoint that inference never reads (a convolution the official forward skips)."""


def renderer_layout() -> dict[str, tuple[int, ...]]:
    """Name -> shape of every entry :class:`IMTalkerRenderer` reads from an official checkpoint (no prefix)."""
    with torch.device("meta"):
        names = IMTalkerRenderer().state_dict()
    return {name: tuple(t.shape) for name, t in names.items() if not is_constructor_buffer(name)}


def official_renderer_report(state_dict: Mapping[str, object], prefix: str = RENDERER_PREFIX) -> KeyReport:
    """Every missing, unexpected and misshaped renderer entry of an official state dict (entries outside
    ``prefix`` are ignored; constructor buffers and :data:`UNUSED_KEYS` are accepted)."""
    expected = {prefix + name: shape for name, shape in renderer_layout().items()}
    optional = {name for name in state_dict if name.startswith(prefix) and is_constructor_buffer(name)}
    optional.update(prefix + name for name in UNUSED_KEYS)
    return check_keys(state_dict, expected, optional=optional, prefix=prefix, floating=True)


def renderer_from_official(state_dict: Mapping[str, torch.Tensor], prefix: str = RENDERER_PREFIX) -> IMTalkerRenderer:
    """An :class:`IMTalkerRenderer` (CPU, eval mode) holding the weights of an official ``renderer.ckpt``.

    Args:
        state_dict: the checkpoint's Lightning ``state_dict`` (``gen.*`` keys), or the bare ``IMTRenderer`` state
            dict with ``prefix=""``.

    Raises:
        CheckpointError: listing every missing, unexpected and misshaped renderer entry.
    """
    raise_for_keys(
        official_renderer_report(state_dict, prefix),
        "the IMTalker renderer checkpoint does not match IMTRenderer",
        "Pass the 'state_dict' of the official renderer.ckpt (keys 'gen.*').",
    )
    entries = {
        name: value
        for name, value in strip_prefix(state_dict, prefix).items()
        if not is_constructor_buffer(name) and name not in UNUSED_KEYS
    }
    renderer = IMTalkerRenderer()
    result = renderer.load_state_dict(entries, strict=False)
    assert not result.unexpected_keys, result  # the report above found none
    assert all(is_constructor_buffer(k) for k in result.missing_keys), result
    return renderer.eval()
