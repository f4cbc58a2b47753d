"""Exponential moving average of network weights, used for sampling and export."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import torch
from torch import nn

from motionkit.errors import CheckpointError


class EMA:
    """Shadow copies ``theta_ema`` of the parameters of some modules, updated after every optimiser step::

        theta_ema <- d_n * theta_ema + (1 - d_n) * theta,   d_n = min(decay, (1 + n) / (10 + n)) with warm-up
                                                            d_n = decay                          without

    where ``n`` counts the updates made so far. The warm-up lets the average follow the fast early changes of the
    weights instead of remembering the random initialisation for ~1/(1-decay) steps. Buffers (e.g. running
    statistics) are copied, not averaged. Floating-point shadows are float32 on the parameters' device.
    """

    def __init__(self, modules: Mapping[str, nn.Module], decay: float, *, warmup: bool = True) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self._modules = dict(modules)
        self.shadow: dict[str, dict[str, torch.Tensor]] = {
            name: {
                key: value.detach().float().clone() if value.is_floating_point() else value.detach().clone()
                for key, value in module.state_dict().items()
            }
            for name, module in self._modules.items()
        }
        # (shadow, live tensor) pairs: parameters are averaged, buffers copied. The live tensors are the modules'
        # own storage, which optimisers and load_state_dict update in place.
        self._averaged: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._copied: list[tuple[torch.Tensor, torch.Tensor]] = []
        for name, module in self._modules.items():
            parameters = dict(module.named_parameters())
            for key, value in module.state_dict(keep_vars=True).items():
                pair = (self.shadow[name][key], value)
                (self._averaged if key in parameters else self._copied).append(pair)

    def current_decay(self) -> float:
        """The decay ``d_n`` the next update will use."""
        if not self.warmup:
            return self.decay
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Move the shadows towards the current weights (call after each optimiser step)."""
        weight = 1.0 - self.current_decay()
        same_dtype = [(s, v) for s, v in self._averaged if v.dtype == torch.float32]
        if same_dtype:
            shadows, values = zip(*same_dtype)
            torch._foreach_lerp_(list(shadows), [v.detach() for v in values], weight)
        for shadow, value in self._averaged:
            if value.dtype != torch.float32:
                shadow.lerp_(value.detach().float(), weight)
        for shadow, value in self._copied:
            shadow.copy_(value)
        self.updates += 1

    def state_dicts(self) -> dict[str, dict[str, torch.Tensor]]:
        """Shadow weights per module, keyed like each module's ``state_dict`` (cast to the module's dtypes)."""
        result = {}
        for name, module in self._modules.items():
            reference = module.state_dict()
            result[name] = {key: value.to(reference[key].dtype) for key, value in self.shadow[name].items()}
        return result

    def load(self, shadows: Mapping[str, Mapping[str, torch.Tensor]], updates: int) -> None:
        """Restore shadows saved with :meth:`state_dicts` and the update counter."""
        for name in self._modules:
            if name not in shadows:
                raise CheckpointError(f"checkpoint has no EMA weights for module {name!r}.")
            saved = shadows[name]
            missing = set(self.shadow[name]) - set(saved)
            if missing:
                raise CheckpointError(f"EMA weights of {name!r} lack {sorted(missing)[:5]}; wrong model?")
            for key, target in self.shadow[name].items():
                target.copy_(saved[key])
        self.updates = updates

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """Temporarily load the EMA weights into the modules (restored on exit, even on error)."""
        backups = {
            name: {k: v.detach().clone() for k, v in m.state_dict().items()} for name, m in self._modules.items()
        }
        try:
            for name, weights in self.state_dicts().items():
                self._modules[name].load_state_dict(weights)
            yield
        finally:
            for name, weights in backups.items():
                self._modules[name].load_state_dict(weights)
