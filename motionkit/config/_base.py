"""Base class of every motionkit configuration: frozen, strict pydantic models that round-trip through JSON."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenConfig(BaseModel):
    """Immutable, validated configuration. Unknown fields are rejected so that typos fail loudly."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
