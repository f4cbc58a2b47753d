"""Names in IMTalker's official checkpoint files (``renderer.ckpt``, ``generator.ckpt``), shared by the loaders.

Both are PyTorch-Lightning checkpoints whose ``state_dict`` prefixes the model's own keys: ``gen.`` for the
``IMTRenderer`` (beside ``disc.`` discriminator and ``criterion_vgg.`` loss entries, which inference ignores) and
``model.`` for the ``FMGenerator``. The official loaders read with ``strict=False``, so the files' buffers are read
too; those listed in :data:`CONSTRUCTOR_BUFFERS` hold what the constructors build (FIR kernels, Swin indices and
masks, BatchNorm counters, rotary frequencies), so motionkit accepts them in a file and rebuilds them.
"""

from __future__ import annotations

from collections.abc import Mapping

RENDERER_PREFIX = "gen."
"""Prefix of the renderer's keys in ``renderer.ckpt``'s Lightning ``state_dict``."""

GENERATOR_PREFIX = "model."
"""Prefix of the generator's keys in ``generator.ckpt``'s Lightning ``state_dict``."""

CONSTRUCTOR_BUFFERS = ("kernel", "relative_position_index", "attn_mask", "num_batches_tracked", "inv_freq")
"""Last name parts of checkpoint buffers that the constructors rebuild with the same values."""


def is_constructor_buffer(key: str) -> bool:
    """Whether ``key`` names a buffer of :data:`CONSTRUCTOR_BUFFERS` (accepted in a file, rebuilt, not read)."""
    return key.rsplit(".", 1)[-1] in CONSTRUCTOR_BUFFERS


def strip_prefix(state_dict: Mapping[str, object], prefix: str) -> dict[str, object]:
    """The entries of ``state_dict`` whose keys start with ``prefix``, with the prefix removed (others dropped)."""
    return {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
