"""Small stand-in tasks and data sources for the training-engine tests (tests only, never in the package)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motionkit.config.train import TrainConfig
from motionkit.data.stream import IndexedBatchStream
from motionkit.testing.tolerances import layers_depth
from motionkit.train.protocols import LossOutput, Phase, StepContext

IN_DIM = 4
OUT_DIM = 2
TRUE_WEIGHT = torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0]], dtype=torch.float64)


class RegressionData(IndexedBatchStream):
    """x ~ N(0, 1)^4, y = W x + 0.01 noise, drawn from (seed, global index)."""

    def sample(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        x = torch.from_numpy(rng.standard_normal(IN_DIM)).double()
        y = TRUE_WEIGHT @ x + 0.01 * torch.from_numpy(rng.standard_normal(OUT_DIM)).double()
        return {"x": x.float(), "y": y.float()}


class RegressionNet(nn.Module):
    def __init__(self, dropout: float, batch_norm: bool) -> None:
        super().__init__()
        self.hidden = nn.Linear(IN_DIM, 16)
        self.norm = nn.BatchNorm1d(16) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(16, OUT_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(torch.tanh(self.norm(self.hidden(x)))))


class RegressionTask:
    """MSE regression. ``noise`` adds input noise from the task generator; ``dropout`` uses the global RNG;
    a frozen ``prior`` module exercises frozen-module handling; BatchNorm (on by default) exercises buffers."""

    def __init__(self, *, noise: float = 0.0, dropout: float = 0.0, batch_norm: bool = True) -> None:
        self.net = RegressionNet(dropout, batch_norm)
        self.prior = nn.Linear(IN_DIM, OUT_DIM).requires_grad_(False)
        self.noise = noise

    def modules(self) -> Mapping[str, nn.Module]:
        return {"net": self.net, "prior": self.prior}

    def loss(self, batch: Any, context: StepContext) -> LossOutput:
        x = batch["x"]
        if self.noise:
            x = x + self.noise * torch.randn(x.shape, generator=context.generator, device=context.device)
        prediction = self.net(x) + 0.0 * self.prior(x)
        mse = F.mse_loss(prediction, batch["y"])
        return LossOutput(mse, {"mse": mse, "abs": (prediction - batch["y"]).abs().mean()})


class SamplingRegressionTask(RegressionTask):
    """Records what :meth:`sample` saw and consumes random numbers there (which must not leak into training)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[int, torch.Tensor, bool]] = []

    def sample(self, step: int, out_dir: Path) -> list[Path]:
        torch.rand(100)
        np.random.rand(10)
        self.seen.append((step, self.net.out.weight.detach().clone(), self.net.training))
        path = out_dir / "preview.txt"
        path.write_text(f"{step}\n")
        return [path]


class TwoPhaseTask:
    """A generator/critic pair: the critic learns to score real above generated samples (GAN-like phases)."""

    def __init__(self) -> None:
        self.generator = nn.Linear(IN_DIM, OUT_DIM)
        self.critic = nn.Linear(OUT_DIM, 1)
        self.critic_grad_in_generator_phase: list[bool] = []

    def modules(self) -> Mapping[str, nn.Module]:
        return {"generator": self.generator, "critic": self.critic}

    def phases(self) -> Sequence[Phase]:
        return [Phase("generator", ("generator",)), Phase("critic", ("critic",), lr_scale=0.5, ema=False)]

    def loss(self, batch: Any, context: StepContext) -> LossOutput:
        fake = self.generator(batch["x"])
        if context.phase == "generator":
            self.critic_grad_in_generator_phase.append(self.critic.weight.requires_grad)
            adversarial = F.softplus(-self.critic(fake)).mean()
            mse = F.mse_loss(fake, batch["y"])
            return LossOutput(mse + 0.1 * adversarial, {"mse": mse})
        critic = F.softplus(self.critic(fake.detach())).mean() + F.softplus(-self.critic(batch["y"])).mean()
        return LossOutput(critic, {"critic": critic})


def tiny_config(output_dir: Path, **overrides: Any) -> TrainConfig:
    """A small fp32 CPU configuration for the regression tasks."""
    fields: dict[str, Any] = {
        "kind": "ae",
        "model": "tiny",
        "output_dir": output_dir,
        "steps": 12,
        "batch_size": 4,
        "lr": 1e-2,
        "schedule": "warmup_cosine",
        "warmup_steps": 3,
        "ema_decay": 0.9,
        "log_every": 1,
        "checkpoint_every": 100,
        "device": "cpu",
        "data_workers": 0,
    }
    fields.update(overrides)
    fields["warmup_steps"] = overrides.get("warmup_steps", min(3, fields["steps"]))
    return TrainConfig(**fields)


def snapshot(modules: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{key}": value.detach().clone() for name, m in modules.items() for key, value in m.state_dict().items()
    }


ADAMW_STEP_DEPTH = 14
"""AdamW's update of one weight: decay (2), the two moment updates (2 each), bias corrections (2), ``sqrt`` (a
transcendental) and the division and step (2)."""


def training_depth(net: nn.Module, steps: int, batch_size: int) -> int:
    """Roundings behind a weight after ``steps`` AdamW steps (``motionkit.testing.tolerances``): per step the forward
    and backward passes through the layers (twice their depth), the mean over the batch and the update; steps
    chain. AdamW divides by the gradient's own size, so an update carries the gradient's relative rounding error
    at the size of the learning rate, below a weight's size here."""
    return steps * (2 * layers_depth(net) + batch_size + ADAMW_STEP_DEPTH)
