"""The auto-encoder's training criteria assembled from :class:`~motionkit.config.train.AELossConfig`.

They act on images only, so an auto-encoder task needs just its forward pass around them::

    reconstruction = ReconstructionCriterion(config.losses)
    adversarial = AdversarialCriterion(Discriminator(size), config.losses)      # when losses.adversarial > 0
    # phases: Phase("generator", ("autoencoder",)), adversarial.phase(config.betas)
    # generator phase:     recon = reconstruction(fake, driving, regions); total = recon.total + g_adv.total
    # discriminator phase: adversarial.discriminator_loss(driving, fake.detach(), step)
"""

from __future__ import annotations

import torch
from torch import nn

from motionkit.config.train import AELossConfig
from motionkit.errors import ConfigError
from motionkit.train.adversarial import discriminator_loss, generator_loss, lazy_regularization, r1_penalty
from motionkit.train.losses import multiscale_l1, multiscale_ssim_loss, region_loss
from motionkit.train.perceptual import PerceptualLoss, VGG19Features
from motionkit.train.protocols import LossOutput, Phase

DISCRIMINATOR = "discriminator"
"""Name of the discriminator in ``TrainTask.modules()`` and of its phase."""


class ReconstructionCriterion(nn.Module):
    """``L = w_l1 MS-L1 + w_ssim MS-SSIM + w_perc Perceptual + w_region Region`` between output and target images.

    Terms with weight 0 are not computed. ``parts`` holds each computed term unweighted (``l1``, ``ssim``,
    ``perceptual``, ``region``). The perceptual network is loaded from ``losses.perceptual_weights`` unless one
    is passed in (any :class:`~motionkit.train.perceptual.FeatureNetwork` module).
    """

    def __init__(self, losses: AELossConfig, perceptual_network: nn.Module | None = None) -> None:
        super().__init__()
        self.losses = losses
        self.perceptual: PerceptualLoss | None = None
        if losses.perceptual > 0:
            if perceptual_network is None:
                if losses.perceptual_weights is None:
                    raise ConfigError("losses.perceptual > 0 needs losses.perceptual_weights (see docs/training.md).")
                perceptual_network = VGG19Features.from_safetensors(losses.perceptual_weights)
            self.perceptual = PerceptualLoss(perceptual_network)

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        regions: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> LossOutput:
        """``output``, ``target``: ``(B, 3, H, W)`` in ``[-1, 1]``; ``regions``: ``(boxes (B, R, 4), valid (B, R))``
        of mouth/eye boxes in pixels, or ``None`` when no landmarks are available (the region term is skipped)."""
        weights = self.losses
        parts: dict[str, torch.Tensor] = {}
        if weights.l1 > 0:
            parts["l1"] = multiscale_l1(output, target, weights.scales)
        if weights.ssim > 0:
            parts["ssim"] = multiscale_ssim_loss(output, target, weights.scales)
        if self.perceptual is not None:
            parts["perceptual"] = self.perceptual(output, target)
        if weights.region > 0 and regions is not None:
            boxes, valid = regions
            parts["region"] = region_loss(output, target, boxes, valid, size=weights.region_size)
        scale = {"l1": weights.l1, "ssim": weights.ssim, "perceptual": weights.perceptual, "region": weights.region}
        total = torch.stack([scale[name] * value for name, value in parts.items()]).sum()
        return LossOutput(total, parts)


class AdversarialCriterion(nn.Module):
    """Non-saturating GAN loss with lazy R1 for a discriminator registered as ``"discriminator"``.

    Generator: ``w_adv * softplus(-D(fake))``. Discriminator: ``softplus(D(fake)) + softplus(-D(real))``, plus
    ``(gamma / 2) * R1 * k`` on every ``k``-th step (``k = losses.r1_every``; the factor ``k`` keeps the expected
    penalty that of an every-step R1).
    """

    def __init__(self, discriminator: nn.Module, losses: AELossConfig) -> None:
        super().__init__()
        if losses.adversarial <= 0:
            raise ConfigError("AdversarialCriterion needs losses.adversarial > 0.")
        self.discriminator = discriminator
        self.losses = losses

    def phase(self, betas: tuple[float, float]) -> Phase:
        """The discriminator's optimisation phase, with StyleGAN2's lazy-regularisation lr/betas correction."""
        lr_scale, lazy_betas = lazy_regularization(self.losses.r1_every, betas)
        return Phase(DISCRIMINATOR, (DISCRIMINATOR,), lr_scale=lr_scale, betas=lazy_betas, ema=False)

    def generator_loss(self, fake: torch.Tensor) -> LossOutput:
        value = generator_loss(self.discriminator(fake))
        return LossOutput(self.losses.adversarial * value, {"g_adv": value})

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor, step: int) -> LossOutput:
        """``fake`` must be detached from the generator's graph."""
        logistic = discriminator_loss(self.discriminator(real), self.discriminator(fake))
        parts = {"d_logistic": logistic}
        total = logistic
        if self.losses.r1_gamma > 0 and step % self.losses.r1_every == 0:
            with torch.autocast(device_type=real.device.type, enabled=False):
                penalty = r1_penalty(self.discriminator, real.float())
            parts["r1"] = penalty
            total = total + 0.5 * self.losses.r1_gamma * self.losses.r1_every * penalty
        return LossOutput(total, parts)
