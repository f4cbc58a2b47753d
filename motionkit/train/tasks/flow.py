"""The flow model (FlowSampler) as a training task, with the auto-encoder frozen and the audio encoder trained jointly.

Each sample is a window of ``L`` frames with ``L'`` frames of context from the feature cache
(:class:`~motionkit.data.cache.WindowSource`): ``x1`` are the frozen auto-encoder's motion latents of the window
(``V lambda(frame)``), ``prev_x`` those of the context, ``wr`` the source motion, and the audio features
``wa``/``prev_wa`` come from the conditioner. The loss is FLOAT's flow-matching objective with condition dropout
(:func:`motionkit.flow.flow_matching_loss`)::

    L = lambda_OT |v(x_t, t) - (x1 - x0)|^2 + lambda_vel |Delta v - Delta (x1 - x0)|^2,   x_t = (1 - t) x0 + t x1

**Audio.** With ``train_audio_encoder`` (FLOAT trains its audio projection with the flow model) the cache holds the
input of the conditioner's trainable audio encoder and the features are computed inside the loss, so its parameters
receive gradients:

* mel encoder: the clip's normalised waveform, framed ``(T, samples_per_frame)``. The encoder is causal with a
  receptive field of ``R = config.mel.receptive_field_frames`` frames, so each window is read with ``R + 1`` extra
  frames of left context (:func:`audio_margin`) and encoded from the clip start when the window reaches it: the
  features equal the whole-clip features the conditioner computes at inference, frame for frame.
* wav2vec2: the stacked hidden states ``(T, layers x hidden)`` of the whole clip (the backbone is frozen);
  the projection is applied in the loss.

Without it the cache holds final features ``(T, audio_dim)`` and only the flow model is trained. Context frames
before the clip start are zero (FLOAT's first window). **Emotion** is the cached per-frame emotion when the cache
has one, else the neutral one-hot for every frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from motionkit.conditioner import Conditioner
from motionkit.conditioner.audio_encoder import Wav2Vec2AudioEncoder
from motionkit.config.conditioner import ConditionerConfig
from motionkit.config.train import FlowTrainConfig, TrainConfig
from motionkit.data.cache import FeatureCache, WindowSource, extract_features
from motionkit.data.video import FaceCropper, ScanSettings, default_index_path, scan_folder
from motionkit.errors import ConfigError, ShapeError
from motionkit.face import crop_portrait
from motionkit.flow import FlowSampler, flow_matching_loss
from motionkit.io import VideoWriter, image_to_tensor, images_to_tensor, load_audio, normalize_waveform
from motionkit.io.files import make_folder
from motionkit.renderer import Renderer
from motionkit.train.distributed import DistContext, barrier
from motionkit.train.export import load_renderer
from motionkit.train.protocols import LossOutput, StepContext
from motionkit.train.run import window_source
from motionkit.types import EMOTION_LABELS

FLOW = "flow"
CONDITIONER = "conditioner"
RENDERER = "renderer"
PREVIEW_FILE = "preview.mp4"
PREVIEW_SEED = 0
NEUTRAL = EMOTION_LABELS.index("neutral")


def audio_margin(config: ConditionerConfig, train_audio_encoder: bool) -> int:
    """Extra context frames a window needs so that a jointly trained audio encoder sees its whole receptive field:
    ``R + 1`` for the causal mel encoder (``R`` frames of conv context plus the STFT's reach into the previous
    frame), 0 otherwise (cached features or cached wav2vec2 states already cover the whole clip)."""
    if train_audio_encoder and config.encoder == "mel":
        return config.mel.receptive_field_frames + 1
    return 0


def cached_audio_width(config: ConditionerConfig, train_audio_encoder: bool) -> int:
    """Width of the cached ``audio`` feature: samples per frame (mel, trained), the stacked wav2vec2 width
    (wav2vec2, trained) or ``audio_dim`` (fixed features)."""
    if not train_audio_encoder:
        return config.audio_dim
    return config.samples_per_frame if config.encoder == "mel" else config.stacked_dim


class FlowPreview:
    """A portrait and a speech clip from which :meth:`FlowTask.sample` renders a preview video.

    Args:
        renderer: the frozen auto-encoder.
        portrait: ``(1, 3, S, S)`` image in ``[-1, 1]``.
        waveform: mono speech at the conditioner's sample rate.
    """

    def __init__(self, renderer: Renderer, portrait: torch.Tensor, waveform: np.ndarray) -> None:
        self.renderer = renderer
        self.portrait = portrait
        self.waveform = waveform


class FlowTask:
    """Trains a :class:`~motionkit.flow.FlowSampler` (and the conditioner's audio encoder) on cached windows.

    Args:
        sampler: the flow model.
        conditioner: the conditioner whose audio encoder is trained with the flow model when
            ``train_audio_encoder`` (else it is frozen and only used for previews).
        train_audio_encoder: see the module docstring.
        margin: extra left-context frames in each batch beyond the model's ``L'`` (:func:`audio_margin`).
        preview: what :meth:`sample` renders, or ``None``.
        renderer: the frozen auto-encoder (listed in :meth:`modules` so that it moves with the task and
            is verifiably never trained).

    Batches (from :class:`~motionkit.data.cache.WindowSource` with context ``L' + margin``): ``motion (B, L, D)``,
    ``audio (B, L, C)``, ``prev_motion (B, L' + m, D)``, ``prev_audio (B, L' + m, C)``, ``context_valid
    (B, L' + m)``, ``source (B, D)``, optional ``emotion (B, L, E)`` and ``prev_emotion (B, L' + m, E)``.
    """

    def __init__(
        self,
        sampler: FlowSampler,
        conditioner: Conditioner,
        *,
        train_audio_encoder: bool = True,
        margin: int = 0,
        preview: FlowPreview | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        if conditioner.config.audio_dim != sampler.config.audio_dim:
            raise ConfigError(
                f"the conditioner produces {conditioner.config.audio_dim}-d audio features but the flow model takes "
                f"{sampler.config.audio_dim}; use the conditioner of the same model config."
            )
        self.sampler = sampler
        self.conditioner = conditioner
        self.train_audio_encoder = train_audio_encoder
        self.margin = margin
        self.preview = preview
        self.renderer = renderer if renderer is not None else (preview.renderer if preview is not None else None)
        if self.renderer is not None:
            self.renderer.requires_grad_(False).eval()
        if not train_audio_encoder:
            conditioner.requires_grad_(False)

    def modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {FLOW: self.sampler, CONDITIONER: self.conditioner}
        if self.renderer is not None:
            modules[RENDERER] = self.renderer
        return modules

    # ------------------------------------------------------------------------------------------------ loss

    def loss(self, batch: Mapping[str, Any], context: StepContext) -> LossOutput:
        config = self.sampler.config
        window, ctx = config.window, config.context
        motion = batch["motion"]
        if motion.ndim != 3 or motion.shape[1] != window:
            raise ShapeError(f"batch motion must be (B, L={window}, D), got {tuple(motion.shape)}.")
        if batch["prev_motion"].shape[1] != ctx + self.margin:
            raise ShapeError(
                f"batch context has {batch['prev_motion'].shape[1]} frames, the task needs L' + margin = "
                f"{ctx + self.margin}; build the WindowSource with context {ctx + self.margin}."
            )
        valid = batch["context_valid"]
        audio = self.audio_features(batch["prev_audio"], batch["audio"], valid)  # (B, L' + m + L, Da)
        prev_wa, wa = audio[:, self.margin : self.margin + ctx], audio[:, self.margin + ctx :]
        prev_x = batch["prev_motion"][:, self.margin :]
        we = self.emotion(batch, motion.shape[0])
        out = flow_matching_loss(
            self.sampler,
            motion,
            wa,
            batch["source"],
            we,
            prev_x,
            prev_wa,
            generator=context.generator,
            context_valid=valid[:, self.margin :],
        )
        return LossOutput(out.total, {"ot": out.ot, "vel": out.vel})

    def audio_features(self, prev_audio: torch.Tensor, audio: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Audio features ``(B, N, Da)`` of the context and window frames; zero on frames before the clip start."""
        cached = torch.cat([prev_audio, audio], dim=1)
        valid_frames = torch.cat([valid, valid.new_ones(audio.shape[:2])], dim=1)
        if not self.train_audio_encoder:
            return cached
        encoder = self.conditioner.audio_encoder
        if isinstance(encoder, Wav2Vec2AudioEncoder):
            features = encoder.audio_projection(cached)
        else:
            features = self._encode_waveform(cached, valid_frames)
        return features * valid_frames[..., None].to(features.dtype)

    def _encode_waveform(self, framed: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Mel features of framed waveforms ``(B, N, spf)``, each encoded from its first valid frame (the clip start,
        where the whole-clip encoder starts too); frames before it are zero."""
        batch, frames, samples = framed.shape
        first_valid = (~valid).sum(dim=1)
        features = framed.new_zeros(batch, frames, self.conditioner.config.audio_dim)
        for start in sorted(set(first_valid.tolist())):
            rows = (first_valid == start).nonzero().squeeze(1)
            waveform = framed[rows, start:].reshape(rows.numel(), (frames - start) * samples)
            features[rows, start:] = self.conditioner.encode_audio(waveform).to(features.dtype)
        return features

    def emotion(self, batch: Mapping[str, Any], size: int) -> torch.Tensor:
        """``(B, L' + L, E)`` cached per-frame emotion, or the neutral one-hot ``(B, 1, E)``."""
        if "emotion" in batch:
            return torch.cat([batch["prev_emotion"][:, self.margin :], batch["emotion"]], dim=1)
        neutral = torch.zeros(size, 1, self.sampler.config.emotion_dim, device=batch["motion"].device)
        neutral[..., NEUTRAL] = 1.0
        return neutral

    # ------------------------------------------------------------------------------------------------ previews

    def sample(self, step: int, out_dir: Path) -> list[Path]:
        """``preview.mp4``: the preview portrait driven by the preview speech (seed 0, the sampler's defaults)."""
        if self.preview is None:
            return []
        renderer = self.preview.renderer
        conditions = self.conditioner(self.preview.waveform, emotion="neutral")
        source = renderer.encode(self.preview.portrait.to(renderer.device))
        track = self.sampler.sample(conditions, source.motion, seed=PREVIEW_SEED)
        path = Path(out_dir) / PREVIEW_FILE
        rate = self.conditioner.config.sample_rate
        with VideoWriter(path, fps=track.fps, audio=self.preview.waveform, sample_rate=rate, overwrite=True) as video:
            for chunk in renderer.render(source, track):
                video.write(chunk[0].clamp(-1, 1))
        return [path]


class FlowFeatureExtractor:
    """Per-clip features for the flow cache (:func:`motionkit.data.cache.extract_features`): motion latents of the
    frozen renderer and the audio the flow task expects (see :func:`cached_audio_width`)."""

    def __init__(self, renderer: Renderer, conditioner: Conditioner, *, train_audio_encoder: bool) -> None:
        self.renderer = renderer
        self.conditioner = conditioner
        self.train_audio_encoder = train_audio_encoder

    def frames(self, frames: np.ndarray) -> dict[str, torch.Tensor]:
        images = images_to_tensor(frames).to(self.renderer.device)
        return {"motion": self.renderer.encode(images).motion.cpu()}

    @torch.no_grad()
    def audio(self, waveform: np.ndarray, num_frames: int) -> dict[str, torch.Tensor]:
        config = self.conditioner.config
        normalised = torch.from_numpy(normalize_waveform(waveform, config.norm_eps))[None]
        spf = config.samples_per_frame
        if len(waveform) != num_frames * spf:
            raise ShapeError(
                f"the clip has {len(waveform)} audio samples; {num_frames} frames need {num_frames * spf}."
            )
        encoder = self.conditioner.audio_encoder
        if not self.train_audio_encoder:
            features = self.conditioner.encode_audio(normalised.to(self.conditioner.device))[0]
        elif isinstance(encoder, Wav2Vec2AudioEncoder):
            features = encoder.hidden_features(normalised.to(self.conditioner.device), num_frames)[0]
        else:
            features = normalised[0].reshape(num_frames, spf)
        return {"audio": features.float().cpu()}


def _conditioner(config: FlowTrainConfig) -> Conditioner:
    expected = config.resolved_model().conditioner
    if config.conditioner is not None:
        conditioner = Conditioner.from_pretrained(config.conditioner)
        if conditioner.config != expected:
            raise ConfigError(
                f"the conditioner in {config.conditioner} is configured differently from the model's "
                "conditioner config; give the model config it was saved with."
            )
        return conditioner
    if expected.encoder != "mel":
        raise ConfigError(
            "a wav2vec2 model needs its conditioner folder (with the wav2vec2 backbone): set 'conditioner' to a "
            "folder written by Conditioner.save_pretrained."
        )
    return Conditioner(expected)


def _extract(
    config: FlowTrainConfig, renderer: Renderer | None, conditioner: Conditioner, context: DistContext
) -> None:
    """Fill ``config.features`` from ``config.videos`` with the frozen renderer (rank 0; the others wait)."""
    if config.videos is None or renderer is None:
        raise ConfigError(
            f"the feature cache {config.features} does not exist; extract it first, or set 'videos' and "
            "'autoencoder' so that training extracts it."
        )
    if context.is_main:
        model = config.resolved_model()
        settings = ScanSettings(min_frames=model.flow.window, require_audio=True)
        size = model.renderer.size
        cropper = FaceCropper.float_crop(size) if config.crop == "face" else FaceCropper.resize(size)
        make_folder(Path(config.output_dir))
        dataset = scan_folder(config.videos, cropper, settings, index_path=default_index_path(config.output_dir))
        if not dataset.clips:
            raise ConfigError(f"{config.videos} has no usable clip with speech; {dataset.summary}.")
        extractor = FlowFeatureExtractor(renderer, conditioner, train_audio_encoder=config.train_audio_encoder)
        extract_features(dataset.clips, config.videos, cropper, extractor, config.features)
    barrier(context)


def _preview(config: FlowTrainConfig, renderer: Renderer | None) -> FlowPreview | None:
    if config.sample_every is None or config.preview_image is None or config.preview_audio is None:
        return None
    if renderer is None:
        raise ConfigError("preview videos (sample_every) need the auto-encoder: set 'autoencoder'.")
    model = config.resolved_model()
    portrait = image_to_tensor(crop_portrait(config.preview_image, model.renderer.size))
    waveform = load_audio(config.preview_audio, target_rate=model.conditioner.sample_rate)
    return FlowPreview(renderer, portrait, waveform)


def build_flow_task(config: TrainConfig, context: DistContext) -> tuple[FlowTask, WindowSource]:
    """The ``flow`` task builder of :func:`motionkit.train.run_training`.

    Builds the flow model and the conditioner of the configured model, loads the frozen auto-encoder
    (``autoencoder``), extracts the feature cache from ``videos`` if it does not exist yet, and streams windows of
    ``L + L' + margin`` frames from it.
    """
    if not isinstance(config, FlowTrainConfig):
        raise ConfigError(f"the flow task needs a 'flow' training config, got kind {config.kind!r}.")
    model = config.resolved_model()
    conditioner = _conditioner(config)
    renderer = None if config.autoencoder is None else load_renderer(config.autoencoder, model.renderer)
    if not (Path(config.features) / "index.json").is_file():
        _extract(config, renderer, conditioner, context)
    cache = FeatureCache(config.features)
    width = cached_audio_width(model.conditioner, config.train_audio_encoder)
    if cache.dims.get("audio") != width or cache.dims.get("motion") != model.flow.motion_dim:
        raise ConfigError(
            f"the feature cache {config.features} holds audio of width {cache.dims.get('audio')} and motion of width "
            f"{cache.dims.get('motion')}, but this model with train_audio_encoder={config.train_audio_encoder} "
            f"needs {width} and {model.flow.motion_dim}; extract the features again for this model."
        )
    margin = audio_margin(model.conditioner, config.train_audio_encoder)
    data = window_source(config, context, margin=margin)
    task = FlowTask(
        FlowSampler(model.flow),
        conditioner,
        train_audio_encoder=config.train_audio_encoder,
        margin=margin,
        preview=_preview(config, renderer) if context.is_main else None,
        renderer=renderer,
    )
    return task, data
