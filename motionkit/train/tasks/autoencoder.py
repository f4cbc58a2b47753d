"""The motion auto-encoder (Renderer) as a training task: LIA's self-supervised reconstruction of a driving frame.

For a source frame ``S`` and a driving frame ``D`` of the same clip, the renderer reconstructs ``D`` from the
source's identity and the driver's motion (LIA; FLOAT's auto-encoder)::

    D_hat = G(E(S) + V fc(E(D)), features(S))

    generator phase:      L_G = w_l1 MS-L1(D_hat, D) + w_ssim MS-SSIM(D_hat, D) + w_perc Perceptual(D_hat, D)
                                + w_region Region(D_hat, D)                    (mouth/eye boxes, when given)
                                + w_adv softplus(-Disc(D_hat))                 (when losses.adversarial > 0)
                                + w_param mean |lambda_D[:P] - p_D|^2          (when losses.parameters > 0)
    discriminator phase:  softplus(Disc(D_hat)) + softplus(-Disc(D)) + lazy R1  (when losses.adversarial > 0)

``lambda_D = fc(E(D))`` are the driving frame's motion coefficients. With known per-frame parameters ``p_D``
(batch key ``"params"``, ``P <= M`` values scaled to comparable ranges, e.g. the synthetic world's pose, mouth and
eyelids) the first ``P`` coefficients are supervised to equal them: a fixed linear read-out ``[I_P | 0]`` of the
coefficients, so the parameters become linear (axis-aligned) in the motion space, which makes axis calibration
accurate. A learned read-out would be a least-squares problem on strongly correlated coefficients that Adam solves
far too slowly (measured: after 1000 steps it explained less than half of what the coefficients could). The
remaining ``M - P`` coefficients stay free for the motion the parameters do not describe. With teacher forcing
(``losses.parameter_forcing = r``) a random share ``r`` of the pairs is decoded from the known parameters instead,
``D_hat = G(E(S) + V [p_D | lambda_D[P:]], features(S))``, so the decoder learns to render each parameter from a
reliable code even while the encoder still reads it poorly. Without VGG weights the
reconstruction loss is multi-scale L1 + SSIM (see :mod:`motionkit.train.criteria`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from motionkit.config.train import AELossConfig, AETrainConfig, TrainConfig
from motionkit.data.video import FaceCropper, FramePairSource
from motionkit.errors import ConfigError, ShapeError
from motionkit.renderer import Renderer
from motionkit.train.adversarial import Discriminator
from motionkit.train.criteria import DISCRIMINATOR, AdversarialCriterion, ReconstructionCriterion
from motionkit.train.distributed import DistContext
from motionkit.train.previews import save_image_grid
from motionkit.train.protocols import LossOutput, Phase, StepContext
from motionkit.train.run import pair_source

RENDERER = "renderer"
"""Name of the renderer in :meth:`AutoencoderTask.modules` (and of its checkpoint file)."""
PERCEPTUAL = "perceptual"
GENERATOR_PHASE = "generator"
PREVIEW_FILE = "reconstruction.png"
PREVIEW_SAMPLES = 4


class AutoencoderTask:
    """Trains a :class:`~motionkit.renderer.Renderer` on ``{"source", "driving"}`` image batches.

    Args:
        renderer: the auto-encoder to train (its config fixes the image size).
        losses: loss weights (:class:`~motionkit.config.train.AELossConfig`).
        betas: the optimiser betas of the run (the discriminator phase derives StyleGAN2's lazy-R1 betas from them).
        perceptual_network: a frozen feature network for the perceptual loss instead of VGG19 weights from
            ``losses.perceptual_weights`` (any :class:`~motionkit.train.perceptual.FeatureNetwork`).
        parameters: number ``P <= M`` of known per-frame parameters in ``batch["params"]`` (``B, P``), which
            supervise the first ``P`` motion coefficients; required when ``losses.parameters > 0``.
        preview: a fixed ``{"source", "driving"}`` batch whose reconstructions :meth:`sample` writes.

    Batches: ``source``, ``driving`` ``(B, 3, S, S)`` in ``[-1, 1]``; optional ``regions (B, R, 4)`` with
    ``regions_valid (B, R)`` (mouth/eye boxes of the driving frames) and ``params (B, P)``.
    """

    def __init__(
        self,
        renderer: Renderer,
        losses: AELossConfig,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        perceptual_network: nn.Module | None = None,
        parameters: int = 0,
        preview: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        self.renderer = renderer
        self.losses = losses
        self.betas = betas
        self.reconstruction = ReconstructionCriterion(losses, perceptual_network)
        self.adversarial: AdversarialCriterion | None = None
        if losses.adversarial > 0:
            discriminator = Discriminator(renderer.config.size, losses.discriminator_channels)
            self.adversarial = AdversarialCriterion(discriminator, losses)
        self.known_parameters = parameters if losses.parameters > 0 else 0
        if losses.parameters > 0 and not 1 <= parameters <= renderer.config.motion_dim:
            raise ConfigError(
                f"losses.parameters > 0 needs the number P of known per-frame parameters (parameters=P, 1 <= P <= "
                f"motion_dim = {renderer.config.motion_dim}) and batches with a 'params' (B, P) tensor; set "
                "losses.parameters to 0 for plain videos."
            )
        self.preview = None if preview is None else {k: v[:PREVIEW_SAMPLES] for k, v in preview.items()}

    def modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {RENDERER: self.renderer}
        if self.reconstruction.perceptual is not None:
            modules[PERCEPTUAL] = self.reconstruction.perceptual  # frozen; listed so that it moves to the device
        if self.adversarial is not None:
            modules[DISCRIMINATOR] = self.adversarial.discriminator
        return modules

    def phases(self) -> Sequence[Phase]:
        if self.adversarial is None:
            return [Phase("main", (RENDERER,))]
        return [Phase(GENERATOR_PHASE, (RENDERER,)), self.adversarial.phase(self.betas)]

    def loss(self, batch: Mapping[str, Any], context: StepContext) -> LossOutput:
        source, driving = batch["source"], batch["driving"]
        if context.phase == DISCRIMINATOR:
            assert self.adversarial is not None
            with torch.no_grad():
                fake = self.renderer(source, driving)
            return self.adversarial.discriminator_loss(driving, fake.detach(), context.step)
        fake, coefficients = self.renderer.autoencode(source, driving, self._forcing(batch, context))
        regions = (batch["regions"], batch["regions_valid"]) if "regions" in batch else None
        reconstruction = self.reconstruction(fake, driving, regions)
        total = reconstruction.total
        parts = dict(reconstruction.parts)
        if self.known_parameters:
            fit = self.parameter_loss(coefficients, batch)
            total = total + self.losses.parameters * fit
            parts["params"] = fit
        if self.adversarial is not None:
            adversarial = self.adversarial.generator_loss(fake)
            total = total + adversarial.total
            parts.update(adversarial.parts)
        return LossOutput(total, parts)

    def _forcing(self, batch: Mapping[str, Any], context: StepContext) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Teacher forcing of the decoder (``losses.parameter_forcing``): the known parameters and the rows that
        get them, drawn from the step's generator."""
        rate = self.losses.parameter_forcing
        if not self.known_parameters or rate == 0:
            return None
        values = self._known(batch, batch["driving"].shape[0])
        rows = torch.rand(values.shape[0], generator=context.generator, device=context.generator.device) < rate
        return values, rows.to(values.device)

    def _known(self, batch: Mapping[str, Any], rows: int) -> torch.Tensor:
        if "params" not in batch:
            raise ConfigError("losses.parameters > 0 but the batch has no 'params'; the data source must provide them.")
        target = batch["params"]
        expected = (rows, self.known_parameters)
        if tuple(target.shape) != expected:
            raise ShapeError(f"batch['params'] has shape {tuple(target.shape)}, expected {expected} (B, P).")
        return cast(torch.Tensor, target)

    def parameter_loss(self, coefficients: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        """``mean |lambda[:, :P] - p|^2`` over the batch and the ``P`` parameters."""
        target = self._known(batch, coefficients.shape[0])
        return F.mse_loss(coefficients[:, : self.known_parameters].float(), target.float())

    def sample(self, step: int, out_dir: Path) -> list[Path]:
        """``reconstruction.png``: rows source | driving | reconstruction of the preview batch."""
        if self.preview is None:
            return []
        device = self.renderer.device
        source = self.preview["source"].to(device)
        driving = self.preview["driving"].to(device)
        fake = self.renderer(source, driving)
        return [save_image_grid([source, driving, fake], Path(out_dir) / PREVIEW_FILE)]


def initialise_renderer(renderer: Renderer, init: str) -> Renderer:
    """Apply an ``init`` of :class:`~motionkit.config.train.AETrainConfig` to a new renderer; returns it."""
    if init == "identity_warps":
        renderer.init_identity_warps()
    elif init == "source_copy":
        renderer.init_source_copy()
    elif init != "lia":
        raise ConfigError(f"unknown renderer initialisation {init!r}; use lia, identity_warps or source_copy.")
    return renderer


def build_autoencoder_task(config: TrainConfig, context: DistContext) -> tuple[AutoencoderTask, FramePairSource]:
    """The ``ae`` task builder of :func:`motionkit.train.run_training`: a new renderer of the configured model
    trained on (source, driving) pairs of ``config.videos`` (cropped with
    :meth:`FaceCropper.float_crop`, or resized)."""
    if not isinstance(config, AETrainConfig):
        raise ConfigError(f"the auto-encoder task needs an 'ae' training config, got kind {config.kind!r}.")
    if config.losses.parameters > 0:
        raise ConfigError(
            "losses.parameters needs known per-frame parameters, which videos do not have; set it to 0 (it is used "
            "by the synthetic-world recipe, motionkit.train.demo)."
        )
    model = config.resolved_model()
    renderer = initialise_renderer(Renderer(model.renderer), config.init)
    cropper = FaceCropper.float_crop(model.renderer.size) if config.crop == "face" else None
    data = pair_source(config, context, cropper)
    preview = data.batch(0) if context.is_main and config.sample_every is not None else None
    task = AutoencoderTask(renderer, config.losses, betas=config.betas, preview=preview)
    return task, data
