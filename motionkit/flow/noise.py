"""Initial noise ``x_0`` of each sampling window: seeded per frame, given explicitly, or FLOAT's fixed noise.

Seeded noise is counter-based: the ``D``-vector of batch row ``b`` at absolute frame ``t`` is::

    rng = numpy.random.RandomState(numpy.random.MT19937(numpy.random.SeedSequence([seed, t, b])))
    x_0[b, t] = float32(rng.standard_normal(D))

so it depends only on ``(seed, t, b)``: whatever the chunking of a stream or the length of the clip, a frame gets
the same noise (row 0 of a batch gets what a batch of one gets with the same seed; other rows differ). Every
part of that recipe (SeedSequence hashing, MT19937, the legacy normal stream) is frozen across numpy versions, and
the noise is drawn on the CPU, so it is the same on every machine and device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from motionkit.errors import ConfigError, ShapeError
from motionkit.validation import check_tensor


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}.")
    return seed


def frame_noise(
    seed: int,
    frames: Sequence[int],
    batch: int,
    dim: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Seeded noise ``(batch, len(frames), dim)`` for the given absolute frame indices (see module docstring)."""
    seed = _check_seed(seed)
    out = np.empty((batch, len(frames), dim), dtype=np.float32)
    for j, t in enumerate(frames):
        for b in range(batch):
            rng = np.random.RandomState(np.random.MT19937(np.random.SeedSequence([seed, int(t), b])))
            out[b, j] = rng.standard_normal(dim)
    return torch.from_numpy(out).to(device=device, dtype=dtype)


def float_fixed_noise(
    seed: int, batch: int, frames: int, dim: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """FLOAT's ``--fix_noise_seed`` noise: ``torch.Generator(device).manual_seed(seed)`` then one ``randn``.

    Returns ``(batch, frames, dim)`` float32; pass it as ``noise=`` to use it for every window, as FLOAT does.
    The numbers depend on the device type (CUDA and CPU generators differ), exactly as in FLOAT.
    """
    generator = torch.Generator(device=device).manual_seed(_check_seed(seed))
    return torch.randn((batch, frames, dim), generator=generator, device=device)


class NoiseSource:
    """Initial noise per window; subclasses implement :meth:`window`."""

    def window(self, index: int, first_frame: int, shape: tuple[int, int, int], like: torch.Tensor) -> torch.Tensor:
        """Noise ``(B, L, D) = shape`` of window ``index`` (frames from ``first_frame``), dtype/device of ``like``."""
        raise NotImplementedError


class SeededNoise(NoiseSource):
    """Per-frame counter-based noise from a seed (:func:`frame_noise`)."""

    def __init__(self, seed: int) -> None:
        self.seed = _check_seed(seed)

    def window(self, index: int, first_frame: int, shape: tuple[int, int, int], like: torch.Tensor) -> torch.Tensor:
        B, L, D = shape
        return frame_noise(self.seed, range(first_frame, first_frame + L), B, D, dtype=like.dtype, device=like.device)


class ExplicitNoise(NoiseSource):
    """Given noise: one ``(B, L, D)`` tensor per window, or one tensor reused for every window (FLOAT's fixed noise).

    Args:
        noise: a sequence of ``(B, L, D)`` tensors or a ``(W, B, L, D)`` tensor (window ``k`` uses ``noise[k]``), or
            a single ``(B, L, D)`` tensor used for every window.
        windows: number of windows that will be sampled, when known (checked against the count given).
    """

    def __init__(self, noise: Sequence[torch.Tensor] | torch.Tensor, windows: int | None = None) -> None:
        self.repeat = isinstance(noise, torch.Tensor) and noise.ndim == 3
        if isinstance(noise, torch.Tensor):
            check_tensor("noise", noise, ndim=(3, 4), hint="Expected (B, L, D) or (windows, B, L, D).")
            self.tensors: list[torch.Tensor] = [noise] if self.repeat else list(noise.unbind(0))
        else:
            self.tensors = [check_tensor(f"noise[{k}]", n, ndim=3) for k, n in enumerate(noise)]
        if windows is not None and not self.repeat and len(self.tensors) != windows:
            raise ShapeError(
                f"noise has {len(self.tensors)} windows but the clip needs {windows}; give one (B, L, D) tensor "
                f"per window, or a single (B, L, D) tensor to reuse it for every window."
            )

    def window(self, index: int, first_frame: int, shape: tuple[int, int, int], like: torch.Tensor) -> torch.Tensor:
        if self.repeat:
            tensor = self.tensors[0]
        elif index < len(self.tensors):
            tensor = self.tensors[index]
        else:
            raise ShapeError(
                f"noise was given for {len(self.tensors)} windows but window {index} is needed; give more noise "
                f"tensors or use a seed."
            )
        if tuple(tensor.shape) != shape:
            raise ShapeError(f"noise for window {index} must have shape {shape}, got {tuple(tensor.shape)}.")
        return tensor.to(device=like.device, dtype=like.dtype)


NoiseInput = Sequence[torch.Tensor] | torch.Tensor | NoiseSource
"""Explicit initial noise: what :class:`ExplicitNoise` takes, or a ready :class:`NoiseSource` (used as is)."""
