"""Configuration of the motion auto-encoder (Renderer)."""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig


class RendererConfig(FrozenConfig):
    """Motion auto-encoder layout (LIA/FLOAT). Defaults are the official ``float-512`` model.

    Channels at resolution ``r`` are ``min(max_channels, channel_base // r)`` (StyleGAN2's rule): for the
    defaults 512 at 4..32 px, 256 at 64, 128 at 128, 64 at 256 and 32 at 512 px — FLOAT's widths.
    """

    size: int = Field(512, description="Image side in pixels (power of two, 64..1024).")
    latent_dim: int = Field(512, description="Identity latent and motion latent dimension D (FLOAT: 512).")
    motion_dim: int = Field(20, description="Number M of orthonormal motion directions (FLOAT: 20).")
    channel_base: int = Field(16384, description="Channel rule numerator (see class docstring).")
    max_channels: int = Field(512, description="Channel cap at coarse resolutions.")
    encoder_fc_layers: int = Field(5, description="EqualLinear layers of the coefficient head (last -> M).")
    blur_kernel: tuple[int, ...] = Field((1, 3, 3, 1), description="Separable FIR taps for resampling.")

    @model_validator(mode="after")
    def _check(self) -> RendererConfig:
        if self.size < 64 or self.size > 1024 or self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two between 64 and 1024, got {self.size}")
        if not 1 <= self.motion_dim <= self.latent_dim:
            raise ValueError(f"motion_dim must be in [1, latent_dim={self.latent_dim}], got {self.motion_dim}")
        if self.encoder_fc_layers < 1:
            raise ValueError("encoder_fc_layers must be at least 1")
        if min(self.channels(4), self.channels(self.size)) < 1:
            raise ValueError("channel_base/max_channels give fewer than 1 channel at some resolution")
        return self

    def channels(self, resolution: int) -> int:
        """Feature channels at ``resolution`` pixels."""
        return min(self.max_channels, self.channel_base // resolution)

    @property
    def log_size(self) -> int:
        return self.size.bit_length() - 1
