"""Training configurations: the common optimisation settings, the auto-encoder and flow specialisations, presets.

A training run is described by one JSON file. It may name a preset and override any field of it::

    {"preset": "flow-tiny", "features": "data/features", "output_dir": "runs/flow", "steps": 2000}

Nested objects (``losses``) are merged field by field with the preset's. :func:`load_train_config` turns every
problem (missing file, bad JSON, unknown field, out-of-range value) into a :class:`~motionkit.errors.ConfigError`
that names the field and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from motionkit.config._base import FrozenConfig
from motionkit.config.model import ModelConfig
from motionkit.errors import ConfigError

ScheduleName = Literal["constant", "warmup_constant", "warmup_cosine"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
DeviceName = Literal["auto", "cpu", "cuda"]
TrainKind = Literal["ae", "flow"]
"""What a run trains: the motion auto-encoder (``ae``) or the flow model (``flow``)."""
TRAIN_KINDS: tuple[str, ...] = get_args(TrainKind)


class TrainConfig(FrozenConfig):
    """Settings shared by every training run (optimiser, schedule, EMA, precision, logging, checkpoints).

    The effective batch of one optimiser step is ``batch_size x grad_accumulation x world_size`` samples.
    """

    kind: TrainKind = Field(description="What is trained: the motion auto-encoder or the flow model.")
    model: str | ModelConfig = Field(
        "float-512", description="Model preset name (see motionkit.families.PRESETS) or an inline model config."
    )
    output_dir: Path = Field(description="Run folder: checkpoints/, metrics.csv, loss.png, samples/.")
    steps: int = Field(gt=0, description="Optimiser steps to train in total (including resumed ones).")
    batch_size: int = Field(gt=0, description="Samples per process per micro-step.")
    grad_accumulation: int = Field(1, gt=0, description="Micro-steps whose gradients are summed per optimiser step.")
    lr: float = Field(gt=0, description="Peak learning rate of AdamW.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW betas (beta1, beta2), each in [0, 1).")
    eps: float = Field(1e-8, gt=0, description="AdamW epsilon.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled weight decay (0 gives Adam).")
    schedule: ScheduleName = Field(
        "constant", description="Learning-rate schedule: constant, warmup_constant or warmup_cosine."
    )
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up length in steps (warmup_* schedules).")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="warmup_cosine: final lr as a fraction of lr.")
    grad_clip: float | None = Field(1.0, gt=0, description="Max global gradient L2 norm; null disables clipping.")
    ema_decay: float | None = Field(0.9999, gt=0, lt=1, description="EMA decay of the weights; null disables EMA.")
    ema_warmup: bool = Field(True, description="Use decay min(ema_decay, (1+n)/(10+n)) after n EMA updates.")
    precision: Precision = Field(
        "auto", description="auto (bf16 on CUDA when supported, else fp32), fp32, bf16 or fp16 (CUDA only)."
    )
    device: DeviceName = Field("auto", description="auto (CUDA when available), cpu or cuda.")
    seed: int = Field(0, ge=0, description="Base seed; each process derives its own streams from (seed, rank).")
    log_every: int = Field(10, gt=0, description="Steps per metrics.csv row (the mean over those steps).")
    checkpoint_every: int = Field(1000, gt=0, description="Steps between checkpoints (the last step always saves).")
    keep_checkpoints: int = Field(3, gt=0, description="Number of most recent checkpoints kept on disk.")
    sample_every: int | None = Field(
        None, gt=0, description="Steps between preview samples (and one at the last step); null disables them."
    )
    resume: str | None = Field(
        None, description='"latest" (newest checkpoint in output_dir, if any) or a checkpoint folder; null: fresh.'
    )
    data_workers: int = Field(2, ge=0, description="Threads that decode upcoming batches (0: in the main thread).")

    @model_validator(mode="after")
    def _check_common(self) -> TrainConfig:
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must both be in [0, 1), got {self.betas}")
        if self.schedule != "constant" and self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps {self.warmup_steps} exceeds steps {self.steps}")
        if self.device == "cpu" and self.precision in ("bf16", "fp16"):
            raise ValueError(f"precision {self.precision!r} needs CUDA; use precision 'fp32' (or 'auto') on CPU")
        if isinstance(self.model, str):
            from motionkit.families import preset

            preset(self.model)  # raises ConfigError naming the known presets (of any family: recipes train others)
        return self

    def resolved_model(self) -> ModelConfig:
        """The model configuration, resolving a preset name."""
        # Presets belong to the model families, a layer above the configurations: imported when first needed.
        from motionkit.families import preset

        return preset(self.model, ModelConfig) if isinstance(self.model, str) else self.model


class AELossConfig(FrozenConfig):
    """Loss weights of the motion auto-encoder. The reconstruction default (no VGG weights) is multi-scale L1 + SSIM."""

    l1: float = Field(1.0, ge=0, description="Weight of the multi-scale L1 loss.")
    ssim: float = Field(1.0, ge=0, description="Weight of the multi-scale SSIM loss (1 - SSIM per scale).")
    scales: int = Field(3, gt=0, description="Pyramid levels (2x average pooling) of the L1 and SSIM losses.")
    perceptual: float = Field(0.0, ge=0, description="Weight of the VGG19 perceptual loss (needs perceptual_weights).")
    perceptual_weights: Path | None = Field(
        None, description="safetensors file with VGG19 'features.*' weights (see docs/training.md)."
    )
    adversarial: float = Field(0.0, ge=0, description="Weight of the non-saturating adversarial loss; 0 disables.")
    r1_gamma: float = Field(10.0, ge=0, description="R1 penalty weight gamma (loss gamma/2 * E|grad D(x)|^2).")
    r1_every: int = Field(16, gt=0, description="Lazy R1: the penalty is applied every this many steps, scaled.")
    discriminator_channels: int = Field(64, gt=0, description="Width of the discriminator's first block.")
    region: float = Field(0.0, ge=0, description="Weight of the mouth/eye region loss (needs landmark boxes).")
    region_size: int = Field(32, gt=0, description="Side in pixels that each mouth/eye region is resampled to.")
    parameters: float = Field(
        0.0,
        ge=0,
        description="Weight of the auxiliary loss that supervises the first P motion coefficients of the driving "
        "frame with P known per-frame parameters (batch key 'params', e.g. synthetic pose and mouth), making them "
        "linear in the motion space. 0 disables it.",
    )
    parameter_forcing: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of pairs whose decoder gets the driving frame's known parameters in place of the "
        "encoder's first P coefficients (teacher forcing; needs parameters > 0). The decoder then learns to render "
        "every parameter from a reliable code while the encoder's reading of it is still noisy; without it, it "
        "learns to ignore what the encoder reads poorly (docs/demo-model.md).",
    )

    @model_validator(mode="after")
    def _check_losses(self) -> AELossConfig:
        if self.perceptual > 0 and self.perceptual_weights is None:
            raise ValueError(
                "losses.perceptual > 0 needs VGG19 weights: set losses.perceptual_weights to a safetensors file "
                "(see docs/training.md) or set losses.perceptual to 0 to use multi-scale L1 + SSIM only"
            )
        if self.parameter_forcing > 0 and self.parameters == 0:
            raise ValueError("losses.parameter_forcing needs known parameters: set losses.parameters > 0 as well")
        if self.l1 + self.ssim + self.perceptual == 0:
            raise ValueError("at least one of losses.l1, losses.ssim, losses.perceptual must be positive")
        return self


class AETrainConfig(TrainConfig):
    """Training of the motion auto-encoder on (source, driving) frame pairs from talking-head videos."""

    kind: Literal["ae"] = "ae"
    videos: Path = Field(description="Folder of videos (mp4/mov/mkv/webm), searched recursively.")
    crop: Literal["face", "resize"] = Field(
        "face", description="face: fixed face box per clip (FLOAT's crop rule); resize: frames are already crops."
    )
    face_search_frames: int = Field(25, gt=0, description="Frames searched for a face at the start of each clip.")
    losses: AELossConfig = Field(default_factory=AELossConfig, description="Loss weights.")
    init: Literal["lia", "identity_warps", "source_copy"] = Field(
        "lia",
        description="How a new renderer starts: lia (LIA's random initialisation), identity_warps (every warp at the "
        "identity, Renderer.init_identity_warps) or source_copy (decodes its source exactly at the start, "
        "Renderer.init_source_copy); the last two reconstruct much sharper in short runs (docs/demo-model.md).",
    )


class FlowTrainConfig(TrainConfig):
    """Training of the flow model on cached motion latents and audio features (the auto-encoder frozen).

    Window length L, context L' and the condition-dropout probabilities are the model's
    (``model.flow.window``, ``.context``, ``.audio_dropout`` ...), because they fix the network's shapes.
    """

    kind: Literal["flow"] = "flow"
    features: Path = Field(description="Feature cache folder (index.json + safetensors shards).")
    videos: Path | None = Field(None, description="Videos to extract features from when the cache is missing.")
    crop: Literal["face", "resize"] = Field(
        "face", description="face: fixed face box per clip (FLOAT's crop rule); resize: frames are already crops."
    )
    autoencoder: Path | None = Field(
        None,
        description="The frozen auto-encoder: a training checkpoint folder of an 'ae' run (its EMA weights are used "
        "when present) or a model folder. Needed to extract features and for previews.",
    )
    conditioner: Path | None = Field(
        None,
        description="Conditioner folder (Conditioner.save_pretrained) to start from; required for wav2vec2 models "
        "(it holds the backbone). Without it a mel conditioner starts from scratch.",
    )
    train_audio_encoder: bool = Field(
        True,
        description="Train the conditioner's audio encoder jointly with the flow model (FLOAT trains its audio "
        "projection): the cache then holds the encoder's input (the normalised waveform framed as (T, "
        "samples_per_frame) for the mel encoder, the stacked wav2vec2 hidden states for wav2vec2) and audio "
        "features are computed inside the loss. false: the cache holds final audio features and only the flow "
        "model trains.",
    )
    ot_weight: float = Field(1.0, ge=0, description="Weight of the flow-matching (OT) loss (FLOAT: 1).")
    velocity_weight: float = Field(1.0, ge=0, description="Weight of the temporal velocity loss (FLOAT: 1).")
    source_frame: Literal["cached", "random"] = Field(
        "random", description="Source motion per window: the clip's cached source, or a random frame of the clip."
    )
    preview_image: Path | None = Field(None, description="Portrait for preview videos (sample_every).")
    preview_audio: Path | None = Field(None, description="Speech for preview videos (sample_every).")

    @model_validator(mode="after")
    def _check_flow(self) -> FlowTrainConfig:
        if self.ot_weight + self.velocity_weight == 0:
            raise ValueError("ot_weight and velocity_weight are both 0; nothing would be trained")
        if self.sample_every is not None and (self.preview_image is None or self.preview_audio is None):
            raise ValueError("sample_every needs preview_image and preview_audio (or set sample_every to null)")
        return self


AnyTrainConfig = Annotated[AETrainConfig | FlowTrainConfig, Field(discriminator="kind")]

_COMMON_FLOAT = {"model": "float-512", "weight_decay": 0.0, "grad_clip": 1.0, "ema_decay": 0.9999}
_COMMON_TINY = {
    "model": "tiny",
    "steps": 200,
    "batch_size": 2,
    "lr": 1e-3,
    "schedule": "warmup_cosine",
    "warmup_steps": 10,
    "ema_decay": 0.99,
    "log_every": 1,
    "checkpoint_every": 100,
}

_COMMON_DEMO = {
    "model": "synthetic-demo",
    "schedule": "warmup_cosine",
    "min_lr_ratio": 0.05,
    "ema_decay": 0.999,
    "log_every": 50,
    "checkpoint_every": 1000,
    "keep_checkpoints": 2,
    "data_workers": 0,
}

TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    # FLOAT's auto-encoder recipe as reported: batch 8, lr 2e-4, ~460k steps, adversarial loss on.
    "ae-float-512": {
        "kind": "ae",
        **_COMMON_FLOAT,
        "steps": 460_000,
        "batch_size": 8,
        "lr": 2e-4,
        "losses": {"adversarial": 1.0},
    },
    # FLOAT's flow recipe as reported: Adam, batch 8, lr 1e-5, ~2M steps, gradient clipping 1.
    "flow-float-512": {"kind": "flow", **_COMMON_FLOAT, "steps": 2_000_000, "batch_size": 8, "lr": 1e-5},
    "ae-tiny": {"kind": "ae", **_COMMON_TINY, "crop": "resize"},
    "flow-tiny": {"kind": "flow", **_COMMON_TINY},
    # The bundled demo model's two stages (motionkit.train.demo runs them on the synthetic world on a 2-core CPU).
    "ae-synthetic-demo": {
        "kind": "ae",
        **_COMMON_DEMO,
        "steps": 8000,
        "batch_size": 16,
        "lr": 1e-3,
        "warmup_steps": 200,
        "grad_clip": None,
        "crop": "resize",
        "init": "source_copy",
        "losses": {"l1": 1.0, "ssim": 1.0, "scales": 3, "region": 8.0, "region_size": 16},
    },
    # The photo family's motion model (motionkit.train.photo trains it on the synthetic world's parameters).
    "flow-photo-motion": {
        "kind": "flow",
        **_COMMON_DEMO,
        "model": "photo-motion",
        "steps": 6000,
        "batch_size": 32,
        "lr": 5e-4,
        "warmup_steps": 300,
        "source_frame": "cached",
    },
    "flow-synthetic-demo": {
        "kind": "flow",
        **_COMMON_DEMO,
        "steps": 5000,
        "batch_size": 32,
        "lr": 5e-4,
        "warmup_steps": 300,
        "source_frame": "cached",
    },
}
"""Named training presets: partial configs (plain data) that a JSON file can name and override."""


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"] if part not in TRAIN_KINDS) or "(config)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            lines.append(f"  {where}: required field is missing")
        elif item["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown field (check the spelling; see docs/training.md)")
        elif isinstance(item.get("input"), Mapping):
            lines.append(f"  {where}: {message}")
        else:
            lines.append(f"  {where}: {message} (got {item.get('input')!r:.80})")
    return "\n".join(lines)


def train_config_from_dict(data: Mapping[str, Any]) -> AETrainConfig | FlowTrainConfig:
    """Validate a training configuration given as plain data (a parsed JSON object).

    A ``"preset"`` key names an entry of :data:`TRAIN_PRESETS` whose fields the other keys override.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"a training config must be a JSON object, got {type(data).__name__}.")
    fields = dict(data)
    name = fields.pop("preset", None)
    if name is not None:
        if name not in TRAIN_PRESETS:
            known = ", ".join(sorted(TRAIN_PRESETS))
            raise ConfigError(f"unknown training preset {name!r}; known presets: {known}.")
        fields = _merge(TRAIN_PRESETS[name], fields)
    if fields.get("kind") not in TRAIN_KINDS:
        raise ConfigError(
            f'training config needs "kind": "ae" or "flow" (or a "preset"), got {fields.get("kind")!r}; '
            f"presets: {', '.join(sorted(TRAIN_PRESETS))}."
        )
    try:
        config: AETrainConfig | FlowTrainConfig = TypeAdapter(AnyTrainConfig).validate_python(fields)
    except ValidationError as exc:
        raise ConfigError(f"invalid {fields['kind']} training config:\n{_describe(exc)}") from None
    return config


def load_train_config(path: str | Path) -> AETrainConfig | FlowTrainConfig:
    """Read and validate a training configuration JSON file (see the module docstring for the format)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training config {path} does not exist; pass the path of a JSON file.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file; a training config is JSON.") from None
    try:
        return train_config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
