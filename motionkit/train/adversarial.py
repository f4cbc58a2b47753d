"""StyleGAN2-style adversarial training: a residual discriminator, the non-saturating logistic loss, lazy R1."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from motionkit.errors import ConfigError
from motionkit.validation import check_tensor

LEAKY_SLOPE = 0.2
MIN_RESOLUTION = 4


class _DownBlock(nn.Module):
    """Two 3x3 convs then 2x average pooling, plus a pooled 1x1 skip; the sum is scaled by 1/sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv1(x), LEAKY_SLOPE)
        y = F.avg_pool2d(F.leaky_relu(self.conv2(y), LEAKY_SLOPE), 2)
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class Discriminator(nn.Module):
    """Residual image discriminator after StyleGAN2 (Karras et al. 2020, config E "resnet" D).

    ``(B, 3, size, size)`` images -> ``(B,)`` logits: a 1x1 conv from RGB, residual blocks halving the resolution
    down to 4x4 (channels ``min(max_channels, channels * 2^i)``), the minibatch standard-deviation feature
    (groups of up to ``stddev_group`` images), a 3x3 conv and two linear layers. Plain (not equalised-lr)
    layers with PyTorch's default initialisation.
    """

    def __init__(self, size: int, channels: int = 64, max_channels: int = 512, stddev_group: int = 4) -> None:
        super().__init__()
        if size < MIN_RESOLUTION or size & (size - 1):
            raise ConfigError(f"discriminator size must be a power of two >= {MIN_RESOLUTION}, got {size}.")
        self.size = size
        self.stddev_group = stddev_group
        widths = [min(max_channels, channels * 2**i) for i in range(int(math.log2(size // MIN_RESOLUTION)) + 1)]
        self.from_rgb = nn.Conv2d(3, widths[0], 1)
        self.blocks = nn.Sequential(*(_DownBlock(a, b) for a, b in itertools.pairwise(widths)))
        last = widths[-1]
        self.final_conv = nn.Conv2d(last + 1, last, 3, padding=1)
        self.final_linear = nn.Linear(last * MIN_RESOLUTION * MIN_RESOLUTION, last)
        self.output = nn.Linear(last, 1)

    def _stddev(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        group = max(g for g in range(1, min(self.stddev_group, batch) + 1) if batch % g == 0)
        y = x.view(group, -1, channels, height, width)
        std = torch.sqrt(y.var(dim=0, unbiased=False) + 1e-8).mean(dim=(1, 2, 3))
        feature = std.view(1, -1, 1, 1, 1).expand(group, -1, 1, height, width).reshape(batch, 1, height, width)
        return torch.cat([x, feature], dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_tensor("images", images, ndim=4, hint="Expected (B, 3, H, W) in [-1, 1].")
        if images.shape[1:] != (3, self.size, self.size):
            raise ConfigError(f"discriminator expects (B, 3, {self.size}, {self.size}), got {tuple(images.shape)}.")
        x = F.leaky_relu(self.from_rgb(images), LEAKY_SLOPE)
        x = self._stddev(self.blocks(x))
        x = F.leaky_relu(self.final_conv(x), LEAKY_SLOPE)
        x = F.leaky_relu(self.final_linear(x.flatten(1)), LEAKY_SLOPE)
        return self.output(x).squeeze(1)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic discriminator loss ``E[softplus(D(fake))] + E[softplus(-D(real))]``."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``E[softplus(-D(G(z)))] = -E[log sigmoid(D(G(z)))]``."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(discriminator: nn.Module, real_images: torch.Tensor) -> torch.Tensor:
    """R1 gradient penalty ``E_x ||grad_x D(x)||^2`` on real images (Mescheder et al. 2018).

    The images are detached and re-marked as requiring a gradient; the graph is kept (``create_graph``) so the
    penalty trains the discriminator. Compute it outside fp16 autocast to avoid overflow in the squared norm.
    """
    images = real_images.detach().requires_grad_(True)
    logits = discriminator(images)
    (gradient,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return gradient.pow(2).flatten(1).sum(1).mean()


def lazy_regularization(every: int, betas: tuple[float, float]) -> tuple[float, tuple[float, float]]:
    """Learning-rate scale and betas for a phase whose regulariser runs only every ``every`` steps.

    StyleGAN2's correction: with ``c = every / (every + 1)``, use ``lr * c`` and ``(beta1^c, beta2^c)`` so that the
    optimiser sees the same effective dynamics as with a regulariser applied at every step.
    """
    if every < 1:
        raise ConfigError(f"regularisation interval must be >= 1, got {every}.")
    ratio = every / (every + 1)
    return ratio, (betas[0] ** ratio, betas[1] ** ratio)
