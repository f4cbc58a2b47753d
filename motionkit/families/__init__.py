"""The registry of model families: a model folder's ``family`` -> the code that writes and reads it.

Adding a family touches its own folder (``motionkit/families/<name>/`` with a ``FAMILY``), one line of
:data:`FAMILIES` below, and, when it has a converter for third-party weights, the CLI's converter list
(``motionkit/cli/commands/convert.py``). See :mod:`motionkit.families.base` and ``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar, overload

from motionkit.config.model import FamilyConfig
from motionkit.errors import CheckpointError, ConfigError
from motionkit.families import float as float_family
from motionkit.families import imtalker, photo, synthetic_demo
from motionkit.families.base import ModelComponents, ModelFamily

C = TypeVar("C", bound=FamilyConfig)

FAMILIES: Mapping[str, ModelFamily] = {
    family.name: family for family in (float_family.FAMILY, synthetic_demo.FAMILY, photo.FAMILY, imtalker.FAMILY)
}
"""Every model family, by the name its model folders record."""

PRESETS: Mapping[str, Callable[[], FamilyConfig]] = {
    name: factory for family in FAMILIES.values() for name, factory in family.presets.items()
}
"""Every named model configuration of every family: name -> factory."""


def family(name: str) -> ModelFamily:
    """The family a model folder names, or a :class:`CheckpointError` listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(FAMILIES))
        raise CheckpointError(
            f"unknown model family {name!r} (known: {known}); the folder was written by a newer motionkit or "
            f"another tool. Upgrade motionkit."
        ) from None


@overload
def preset(name: str) -> FamilyConfig: ...


@overload
def preset(name: str, config_type: type[C]) -> C: ...


def preset(name: str, config_type: type[FamilyConfig] = FamilyConfig) -> FamilyConfig:
    """The named model configuration of any family (``float-512``, ``tiny``, ``synthetic-demo``).

    Args:
        config_type: the configuration class the caller needs (e.g. :class:`~motionkit.config.ModelConfig` for
            FLOAT's architecture); a preset of another class is a :class:`ConfigError`.
    """
    try:
        config = PRESETS[name]()
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(f"unknown preset {name!r}; known presets: {known}.") from None
    if not isinstance(config, config_type):
        raise ConfigError(
            f"preset {name!r} is a model of the {config.family} family, not a {config_type.__name__}; choose a "
            f"preset of that architecture."
        )
    return config


__all__ = ["FAMILIES", "PRESETS", "ModelComponents", "ModelFamily", "family", "preset"]
