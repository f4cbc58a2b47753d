"""Pipeline: portrait + speech -> talking-head video, wiring the four components together.

::

    image --PortraitRenderer.encode_portrait--> EncodedPortrait (its own motion r_s; for FLOAT: crop, encoder)
    audio --load_audio--> waveform --SpeechConditioner--> Conditions (audio (1, T, Da), emotion (1, T, 7))
    MotionGenerator.stream(conditions window by window, r_s, nfe, solver, guidance, seed | noise) --> MotionTrack
    EditProgram.apply(track, space)                                               (optional)
    Video(renderer, source, track, waveform)  --save()--> frames rendered chunk by chunk into the MP4

The components are used through the protocols of :mod:`motionkit.protocols`, so every model family runs here.
The whole motion track is sampled before anything is rendered (it is small: 15,000 x 512 floats for 10 minutes,
and edits such as smoothing or "hold at the track mean" need all of it); frames are never all in memory.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionkit.conditioner.emotion import EmotionInput
from motionkit.config import GuidanceConfig
from motionkit.config.model import FamilyConfig
from motionkit.errors import ConfigError, EditError, ShapeError
from motionkit.face import Box
from motionkit.flow import ExplicitNoise, FlowSampler, Solver
from motionkit.io import is_silent, load_audio
from motionkit.io.audio import SILENCE_DBFS
from motionkit.model_folder import load_model
from motionkit.pipeline.explore import AxisSweep, explore
from motionkit.pipeline.video import DEFAULT_CHUNK_SIZE, Video
from motionkit.progress import ProgressCallback, no_progress
from motionkit.protocols import EncodedPortrait, MotionGenerator, PortraitRenderer, SpeechConditioner
from motionkit.renderer import Precision
from motionkit.renderer.renderer import PortraitInput
from motionkit.space import EditProgram, MotionSpace
from motionkit.types import Conditions, MotionTrack

PRECISION_OF: dict[torch.dtype, Precision] = {
    torch.float32: "float32",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
}
"""Supported compute dtypes and the renderer precision each one selects."""

EditsInput = EditProgram | str | Path | None
"""An :class:`EditProgram`, its JSON text, or the path of a JSON file."""

GuidanceInput = GuidanceConfig | tuple[float, float] | None
"""Guidance scales: a :class:`GuidanceConfig` or ``(audio_scale, emotion_scale)``."""


def resolve_dtype(dtype: torch.dtype | str) -> torch.dtype:
    """``torch.float32`` / ``bfloat16`` / ``float16`` from a dtype or its name (``"bf16"``, ``"fp16"`` accepted)."""
    aliases = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16", "float": "float32"}
    if isinstance(dtype, str):
        dtype = getattr(torch, aliases.get(dtype, dtype), dtype)
    if dtype not in PRECISION_OF:
        raise ConfigError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}.")
    return dtype


def load_edits(edits: EditsInput) -> EditProgram | None:
    """An :class:`EditProgram` from a program, JSON text or a JSON file path (``None`` stays ``None``)."""
    if edits is None or isinstance(edits, EditProgram):
        return edits
    if isinstance(edits, str) and edits.lstrip().startswith("{"):
        return EditProgram.from_json(edits)
    if isinstance(edits, (str, Path)):
        path = Path(edits)
        if not path.is_file():
            raise EditError(f"edit program file {path} does not exist; give the path of an EditProgram JSON file.")
        return EditProgram.load(path)
    raise EditError(f"edits must be an EditProgram, its JSON text or a file path, got {type(edits).__name__}.")


def resolve_guidance(guidance: GuidanceInput) -> GuidanceConfig | None:
    if guidance is None or isinstance(guidance, GuidanceConfig):
        return guidance
    try:
        audio_scale, emotion_scale = guidance
        return GuidanceConfig(audio_scale=float(audio_scale), emotion_scale=float(emotion_scale))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"guidance must be a GuidanceConfig or (audio_scale, emotion_scale), got {guidance!r}."
        ) from exc


@dataclass
class Pipeline:
    """Portrait + speech -> :class:`Video`, with every FLOAT stage exposed.

    Build it with :meth:`from_pretrained` from a model folder (:mod:`motionkit.model_folder`, e.g. written by
    ``motionkit convert-float``), or from components. Example::

        pipeline = Pipeline.from_pretrained("models/float-512")
        video = pipeline.generate("portrait.jpg", "speech.wav", emotion="happy", seed=0)
        video.save("out.mp4")
        video.track.save("motion.safetensors")      # edit and re-render later (Pipeline.render)

    Attributes:
        renderer, conditioner, sampler: the components, on one device, in eval mode.
        space: the motion space with the model's named axes (default: the renderer's basis).
        config: the model configuration (when known).
        manifest: provenance of the weights (source hashes, licence; see ``motionkit info``).
        dtype: compute dtype; float32 is FLOAT's precision, bfloat16/float16 autocast the renderer and the
            sampler's transformer (meant for GPUs).
        chunk_size: frames rendered together when a video is saved.
    """

    renderer: PortraitRenderer
    conditioner: SpeechConditioner
    sampler: MotionGenerator
    space: MotionSpace | None = None
    config: FamilyConfig | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    dtype: torch.dtype = torch.float32
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        self.dtype = resolve_dtype(self.dtype)
        if self.space is None:
            self.space = self.renderer.space
        if self.sampler.latent_dim != self.renderer.latent_dim:
            raise ShapeError(
                f"the sampler makes {self.sampler.latent_dim}-d motion but the renderer draws "
                f"{self.renderer.latent_dim}-d latents; use components of one model."
            )

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype | str = torch.float32
    ) -> Pipeline:
        """Load a model folder (see :mod:`motionkit.model_folder`) onto ``device``; weights stay float32, ``dtype``
        selects the compute precision. On CUDA the sampler replays CUDA graphs of its transformer
        (:meth:`FlowSampler.use_cuda_graphs`: same motion, several times faster at FLOAT's size); call
        ``pipeline.sampler.use_cuda_graphs(False)`` to sample eagerly."""
        dtype = resolve_dtype(dtype)
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was requested but no CUDA GPU is available; use device='cpu'.")
        parts = load_model(folder, device=device)
        if device.type == "cuda" and isinstance(parts.sampler, FlowSampler):
            parts.sampler.use_cuda_graphs()
        return cls(
            renderer=parts.renderer,
            conditioner=parts.conditioner,
            sampler=parts.sampler,
            space=parts.space,
            config=parts.config,
            manifest=parts.manifest,
            dtype=dtype,
        )

    # ------------------------------------------------------------------------------------------------ properties

    @property
    def device(self) -> torch.device:
        return self.renderer.device

    @property
    def sample_rate(self) -> int:
        return self.conditioner.sample_rate

    @property
    def precision(self) -> Precision:
        return PRECISION_OF[self.dtype]

    @property
    def default_emotion(self) -> str:
        """What ``emotion=None`` means for this model: ``"predicted"`` from speech when it has an emotion
        classifier, else ``"neutral"`` (the Conditioner then warns once; pass it explicitly to avoid that)."""
        return "predicted" if self.conditioner.predicts_emotion else "neutral"

    @property
    def motion_space(self) -> MotionSpace:
        """The motion space with the model's named axes."""
        assert self.space is not None  # set in __post_init__
        return self.space

    # ------------------------------------------------------------------------------------------------- stages

    def encode_portrait(
        self, image: PortraitInput, *, crop: bool = True, box: Box | Sequence[float] | None = None
    ) -> EncodedPortrait:
        """Prepare and encode a portrait with the renderer (for the learned renderer: FLOAT's face crop, or
        ``crop=False`` to resize the whole image, or ``box`` to crop around a given face box)."""
        return self.renderer.encode_portrait(image, crop=crop, box=box)

    def load_audio(self, audio: str | Path | np.ndarray | torch.Tensor, sample_rate: int | None = None) -> np.ndarray:
        """Mono float32 waveform at the model rate; arrays are taken to be at that rate unless ``sample_rate``."""
        if isinstance(audio, (np.ndarray, torch.Tensor)) and sample_rate is None:
            sample_rate = self.sample_rate
        return load_audio(audio, sample_rate, target_rate=self.sample_rate)

    def condition(self, waveform: np.ndarray, emotion: EmotionInput = None) -> Conditions:
        """Per-frame audio features and emotion of a waveform at the model rate (see :class:`Conditioner`)."""
        with torch.no_grad():
            return self.conditioner(waveform, emotion=emotion)

    def sample(
        self,
        conditions: Conditions,
        source: EncodedPortrait,
        *,
        seed: int | None = 0,
        nfe: int | None = None,
        solver: str | Solver | None = None,
        guidance: GuidanceInput = None,
        noise: Sequence[torch.Tensor] | torch.Tensor | None = None,
        progress: ProgressCallback | None = None,
    ) -> MotionTrack:
        """Sample the motion of the whole clip, window by window (``progress("sampling motion", windows, total)``).

        The result equals ``FlowSampler.sample`` with the same arguments; ``seed`` is ignored when ``noise`` is
        given (one ``(1, L, D)`` tensor per window, or one for all).
        """
        report = progress or no_progress
        window = self.sampler.window
        windows = math.ceil(conditions.frames / window)
        # built (and its window count checked) once, now rather than after minutes of sampling
        explicit = None if noise is None else ExplicitNoise(noise, windows)
        if explicit is not None:
            seed = None
        chunks = [conditions.slice(start, start + window) for start in range(0, conditions.frames, window)]
        parts = []
        report("sampling motion", 0, windows)
        with self._autocast():
            for part in self.sampler.stream(
                chunks,
                source.motion,
                nfe=nfe,
                solver=solver,
                guidance=resolve_guidance(guidance),
                seed=seed,
                noise=explicit,
            ):
                parts.append(part)
                report("sampling motion", min(len(parts), windows), windows)
        track = MotionTrack.concat(parts)
        return track.to(dtype=torch.float32)

    def apply_edits(
        self, track: MotionTrack, edits: EditsInput, references: Mapping[str, MotionTrack] | None = None
    ) -> MotionTrack:
        """Apply an edit program (object, JSON text or file) in the model's motion space."""
        program = load_edits(edits)
        if program is None:
            return track
        return program.apply(track, self.motion_space, references=references)

    # ------------------------------------------------------------------------------------------------- whole

    def generate(
        self,
        image: PortraitInput | EncodedPortrait,
        audio: str | Path | np.ndarray | torch.Tensor,
        emotion: EmotionInput = None,
        *,
        seed: int | None = 0,
        nfe: int | None = None,
        solver: str | Solver | None = None,
        guidance: GuidanceInput = None,
        edits: EditsInput = None,
        noise: Sequence[torch.Tensor] | torch.Tensor | None = None,
        crop: bool = True,
        box: Box | Sequence[float] | None = None,
        sample_rate: int | None = None,
        references: Mapping[str, MotionTrack] | None = None,
        progress: ProgressCallback | None = None,
    ) -> Video:
        """Make a talking-head video of ``image`` speaking ``audio``.

        Args:
            image: the portrait (path, array, Pillow image or tensor in ``[-1, 1]``), or a portrait already encoded
                with :meth:`encode_portrait` (to make several videos of one portrait).
            audio: speech file (any format :func:`motionkit.io.load_audio` reads) or samples (at ``sample_rate``,
                default the model rate).
            emotion: ``None`` (predicted from speech when the model has a classifier, else neutral), a label
                (``"happy"``), ``(label, intensity)``, a specification or per-frame weights (see the Conditioner).
            seed: noise seed (frame ``t``'s noise depends only on ``(seed, t)``); ``None`` draws one. Ignored when
                ``noise`` is given.
            nfe, solver, guidance: sampling settings (default: the model's, FLOAT's 10 / euler / (2.0, 1.0)).
                ``guidance`` is a :class:`GuidanceConfig` or ``(audio_scale, emotion_scale)``.
            edits: an :class:`EditProgram`, its JSON text or a JSON file, applied to the sampled motion.
            noise: explicit initial noise per window (FLOAT's ``(W, 1, L, D)``), instead of ``seed``.
            crop, box: portrait preparation (see :meth:`encode_portrait`).
            references: tracks that ``Mix`` / ``Retarget`` edits name.
            progress: ``progress(stage, done, total)`` callback for conditioning and sampling.

        Returns:
            A :class:`Video`; nothing is rendered until it is saved or iterated.
        """
        report = progress or no_progress
        source = image if isinstance(image, EncodedPortrait) else self.encode_portrait(image, crop=crop, box=box)
        waveform = self.load_audio(audio, sample_rate)
        report("conditioning", 0, 1)
        conditions = self.condition(waveform, emotion)
        report("conditioning", 1, 1)
        if is_silent(waveform):  # after conditioning, which refuses a clip too short for one frame
            warnings.warn(
                f"the audio is silent (no sample above {SILENCE_DBFS:g} dBFS), so the face will not speak; check that "
                "the file, or the video's audio track, holds the speech.",
                stacklevel=2,
            )
        sampled = self.sample(
            conditions, source, seed=seed, nfe=nfe, solver=solver, guidance=guidance, noise=noise, progress=report
        )
        track = self.apply_edits(sampled, edits, references)
        return self._video(source, track, waveform, sampled)

    def render(
        self,
        image: PortraitInput | EncodedPortrait,
        track: MotionTrack,
        audio: str | Path | np.ndarray | torch.Tensor | None = None,
        *,
        edits: EditsInput = None,
        crop: bool = True,
        box: Box | Sequence[float] | None = None,
        sample_rate: int | None = None,
        references: Mapping[str, MotionTrack] | None = None,
    ) -> Video:
        """A :class:`Video` of a portrait driven by a given (e.g. saved and edited) motion track.

        ``track`` must have batch 1 and the model's latent size; ``audio`` (optional) is muxed as is.
        """
        if not isinstance(track, MotionTrack):
            raise ShapeError(f"track must be a MotionTrack (MotionTrack.load(path)), got {type(track).__name__}.")
        if track.dim != self.renderer.latent_dim or track.batch != 1:
            raise ShapeError(
                f"the track has batch {track.batch} and latent size {track.dim}; this model renders one track of "
                f"{self.renderer.latent_dim}-d latents. Use a track sampled by this model."
            )
        source = image if isinstance(image, EncodedPortrait) else self.encode_portrait(image, crop=crop, box=box)
        waveform = None if audio is None else self.load_audio(audio, sample_rate)
        sampled = track.to(self.device, torch.float32)
        edited = self.apply_edits(sampled, edits, references)
        return self._video(source, edited, waveform, sampled)

    def explore(self, image: PortraitInput, **options: Any) -> AxisSweep:
        """A portrait swept along each motion axis, as a labelled grid (options: see
        :func:`motionkit.pipeline.explore.explore`)."""
        return explore(self, image, **options)

    # ------------------------------------------------------------------------------------------------ helpers

    def _video(
        self, source: EncodedPortrait, track: MotionTrack, waveform: np.ndarray | None, sampled: MotionTrack
    ) -> Video:
        return Video(
            renderer=self.renderer,
            source=source,
            track=track,
            audio=waveform,
            sample_rate=self.sample_rate,
            unedited=None if track is sampled else sampled,
            precision=self.precision,
            chunk_size=self.chunk_size,
        )

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)
