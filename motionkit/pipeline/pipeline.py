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
from motionkit.config.live import LiveConfig
from motionkit.config.model import FamilyConfig
from motionkit.errors import ConfigError, EditError, FaceNotFoundError, Fix, ShapeError
from motionkit.face import Box, FaceStack
from motionkit.families.photo.renderer import PhotoPortrait, PhotoRenderer
from motionkit.flow import ExplicitNoise, Solver
from motionkit.flow.sampler import WindowedSampling
from motionkit.io import VideoReader, is_silent, load_audio
from motionkit.io.audio import SILENCE_DBFS
from motionkit.model_folder import load_model
from motionkit.pipeline.driving import (
    DEFAULT_MAX_MISSING,
    FaceCounts,
    FaceFollower,
    FramePlacement,
    TransferMode,
    extend_track,
    extended_indices,
    read_driving_controls,
    read_driving_motion,
    resolve_axes,
    transfer_program,
    within_range,
)
from motionkit.pipeline.dubbing import EXTENSIONS, DubbedVideo, Extension, FrameWindow, mouth_axes, spoken_opening
from motionkit.pipeline.explore import AxisSweep, explore
from motionkit.pipeline.live import LiveSession, open_session
from motionkit.pipeline.pasteback import PasteBack
from motionkit.pipeline.video import DEFAULT_CHUNK_SIZE, Video
from motionkit.progress import ProgressCallback, no_progress
from motionkit.protocols import (
    ControlledMotionGenerator,
    EncodedPortrait,
    MotionGenerator,
    PortraitRenderer,
    SpeechConditioner,
)
from motionkit.renderer import Precision
from motionkit.renderer.renderer import PortraitInput
from motionkit.runtime import effective_dtype
from motionkit.space import EditProgram, MotionSpace
from motionkit.space.edits import Mix
from motionkit.types import CONTROL_NAMES, Conditions, MotionTrack

PRECISION_OF: dict[torch.dtype, Precision] = {
    torch.float32: "float32",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
}
"""Supported compute dtypes and the renderer precision each one selects."""

IDENTITY_FRAME_FIX = Fix(python="with identity_frame=N.", cli="with --identity-frame N.")
"""How to choose another identity frame for dubbing, in Python and on the command line."""

EditsInput = EditProgram | str | Path | None
"""An :class:`EditProgram`, its JSON text, or the path of a JSON file."""

GuidanceInput = GuidanceConfig | tuple[float, float] | None
"""Guidance scales: a :class:`GuidanceConfig` or ``(audio_scale, emotion_scale)``."""

ControlsInput = Mapping[str, Any] | None
"""Per-frame controls by name (``pose``, ``cam``, ``gaze``): a constant ``(C,)`` or a track ``(L, C)`` each."""


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
        self.dtype = effective_dtype(resolve_dtype(self.dtype), self.renderer.device)
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
        (:meth:`WindowedSampling.use_cuda_graphs`: same motion, several times faster at FLOAT's size); call
        ``pipeline.sampler.use_cuda_graphs(False)`` to sample eagerly."""
        dtype = resolve_dtype(dtype)
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was requested but no CUDA GPU is available; use device='cpu'.")
        parts = load_model(folder, device=device)
        if device.type == "cuda" and isinstance(parts.sampler, WindowedSampling):  # FLOAT's and IMTalker's
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
    def draws_whole_photo(self) -> bool:
        """Whether the renderer draws every frame over the whole photo at the photo's own size (the photo family),
        so that its cost follows the photo's pixel count; a learned renderer draws a face crop at its own size."""
        return isinstance(self.renderer, PhotoRenderer)

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

    def prepare_portrait(
        self,
        image: PortraitInput | EncodedPortrait,
        *,
        crop: bool = True,
        box: Box | Sequence[float] | None = None,
        paste_back: bool = False,
    ) -> tuple[EncodedPortrait, PasteBack | None]:
        """The encoded portrait and, with ``paste_back``, how its rendered crops go back into the photo.

        The paste-back is ``None`` when the renderer already draws the whole photo at its own size (the photo
        family): pasting back is then the identity. An already encoded portrait cannot be pasted back (its photo is
        not known); give the image instead.
        """
        if isinstance(image, EncodedPortrait):
            if paste_back:
                raise ConfigError(
                    "paste_back needs the photo itself to paste the rendered face back into; pass the image, not an "
                    "encoded portrait."
                )
            return image, None
        if not paste_back or self.draws_whole_photo:
            # the photo family draws the whole photo at its own size: pasting back is the identity
            return self.encode_portrait(image, crop=crop, box=box), None
        if isinstance(image, torch.Tensor):
            raise ConfigError("paste_back needs the photo as a path, array or Pillow image, not a tensor.")
        pasting, face = PasteBack.for_photo(image, box=box, crop=crop)
        source = self.encode_portrait(pasting.photo, crop=crop, box=face)
        if self.renderer.frame_shape(source) == pasting.shape:
            return source, None  # the renderer drew the whole photo: nothing to paste back
        return source, pasting

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
        with self.autocast():
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
        paste_back: bool = False,
        driving: str | Path | None = None,
        driving_axes: str | Sequence[str] = "pose",
        driving_crop: bool = True,
        controls: ControlsInput = None,
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
            paste_back: put the rendered face back into the photo, so the video has the photo's own size (see
                :mod:`motionkit.pipeline.pasteback`); off by default, the renderer's square crop as FLOAT writes it.
            driving, driving_axes: mixed driving: the named axes (default the head pose) follow the face of the
                video ``driving`` (relative transfer, :mod:`motionkit.pipeline.driving`; played back and forth when
                shorter than the speech), the others the speech; ``driving_crop=False`` uses its frames whole. For a
                model that takes per-frame controls (IMTalker) the video's face gives them instead: its head pose and
                camera measured by the face stack, frame by frame (``driving_axes`` does not apply).
            controls: per-frame controls of a model that takes them (IMTalker: ``pose``, ``cam``, ``gaze``), each a
                constant ``(C,)`` or a track ``(L, C)`` of at least the clip's frames (cut to it); they replace what
                ``driving`` measures. A model without controls refuses them.

        Returns:
            A :class:`Video`; nothing is rendered until it is saved or iterated.
        """
        report = progress or no_progress
        controlled = isinstance(self.sampler, ControlledMotionGenerator)
        self._check_controls(controls, controlled, driving_axes if driving is not None else "pose")
        mixed = None if driving is None or controlled else self._mix_axes(driving_axes)  # checked before any work
        source, pasting = self.prepare_portrait(image, crop=crop, box=box, paste_back=paste_back)
        waveform = self.load_audio(audio, sample_rate)
        report("conditioning", 0, 1)
        conditions = self.condition(waveform, emotion)
        report("conditioning", 1, 1)
        if controlled and (controls or driving is not None):
            conditions = self._with_controls(conditions, controls, driving, report)
        if is_silent(waveform):  # after conditioning, which refuses a clip too short for one frame
            warnings.warn(
                f"the audio is silent (no sample above {SILENCE_DBFS:g} dBFS), so the face will not speak; check that "
                "the file, or the video's audio track, holds the speech.",
                stacklevel=2,
            )
        sampled = self.sample(
            conditions, source, seed=seed, nfe=nfe, solver=solver, guidance=guidance, noise=noise, progress=report
        )
        if driving is not None and mixed is not None:
            sampled = self._mix_driving(source, sampled, driving, mixed, driving_crop, report)
        track = self.apply_edits(sampled, edits, references)
        return self._video(source, track, waveform, sampled, pasting)

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
        paste_back: bool = False,
    ) -> Video:
        """A :class:`Video` of a portrait driven by a given (e.g. saved and edited) motion track.

        ``track`` must have batch 1 and the model's latent size; ``audio`` (optional) is muxed as is;
        ``paste_back`` as in :meth:`generate`.
        """
        if not isinstance(track, MotionTrack):
            raise ShapeError(f"track must be a MotionTrack (MotionTrack.load(path)), got {type(track).__name__}.")
        if track.dim != self.renderer.latent_dim or track.batch != 1:
            raise ShapeError(
                f"the track has batch {track.batch} and latent size {track.dim}; this model renders one track of "
                f"{self.renderer.latent_dim}-d latents. Use a track sampled by this model."
            )
        source, pasting = self.prepare_portrait(image, crop=crop, box=box, paste_back=paste_back)
        waveform = None if audio is None else self.load_audio(audio, sample_rate)
        sampled = track.to(self.device, torch.float32)
        edited = self.apply_edits(sampled, edits, references)
        return self._video(source, edited, waveform, sampled, pasting)

    def drive(
        self,
        image: PortraitInput,
        driving: str | Path,
        *,
        mode: TransferMode = "relative",
        axes: str | Sequence[str] | None = None,
        crop: bool = True,
        box: Box | Sequence[float] | None = None,
        driving_crop: bool = True,
        driving_box: Box | Sequence[float] | None = None,
        paste_back: bool = False,
        max_missing: float = DEFAULT_MAX_MISSING,
        progress: ProgressCallback | None = None,
    ) -> Video:
        """A portrait moved by the face of a driving video (video-driven reenactment).

        Every driving frame's motion is read (a learned renderer's encoder, or the face stack's measurements for the
        photo family) after the face is tracked and cropped by the portrait's crop rule, then transferred
        (:mod:`motionkit.pipeline.driving`): ``mode="relative"`` adds the driving face's change since its first
        frame to the portrait's own motion (LIA), ``"absolute"`` copies it; ``axes`` (names, ``"pose"``,
        ``"expression"``) limits the transfer, the other axes keep the portrait's own values. The video runs at the
        driving video's frame rate, with its audio (none when it has none).

        Args:
            image: the portrait.
            driving: the driving video file (streamed: any length).
            crop, box: portrait preparation (see :meth:`encode_portrait`).
            driving_crop, driving_box: ``False`` uses driving frames whole (videos that are already face crops);
                a box crops every driving frame around it instead of tracking the face.
            paste_back: as in :meth:`generate`.
            max_missing: the largest share of driving frames without a face that is accepted.

        Raises:
            FaceNotFoundError: too many driving frames without a face (nothing is rendered).
            ConfigError: a driving video of a single frame (no motion to transfer).
            ImageError: a missing, unreadable, corrupt or truncated driving video.
        """
        reader = VideoReader(driving)
        source, pasting = self.prepare_portrait(image, crop=crop, box=box, paste_back=paste_back)
        track, _ = self._read_driving(source, reader, driving_crop, driving_box, max_missing, progress)
        if track.frames < 2:
            raise ConfigError(
                f"the driving video {reader.path} has a single frame: there is no motion to transfer; give a video, "
                "or animate the portrait with speech (generate)."
            )
        program = transfer_program(self.motion_space, mode, axes)
        moved = within_range(program.apply(track, self.motion_space), self.renderer)
        audio = reader.audio(self.sample_rate)
        return self._video(source, moved, audio, track, pasting)

    def dub(
        self,
        video: str | Path,
        audio: str | Path | np.ndarray | torch.Tensor,
        emotion: EmotionInput = None,
        *,
        seed: int | None = 0,
        nfe: int | None = None,
        solver: str | Solver | None = None,
        guidance: GuidanceInput = None,
        extension: Extension = "ping-pong",
        identity_frame: int = 0,
        crop: bool = True,
        box: Box | Sequence[float] | None = None,
        max_missing: float = DEFAULT_MAX_MISSING,
        sample_rate: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> DubbedVideo:
        """Re-voice a video: its mouth follows ``audio``, its head pose, blinks and the rest stay its own
        (:mod:`motionkit.pipeline.dubbing`); the result has the video's size, the model's frame rate and the new
        speech as its only audio.

        Args:
            video: the video to dub (streamed: any length).
            audio, emotion, seed, nfe, solver, guidance, sample_rate: the speech and its sampling, as in
                :meth:`generate`.
            extension: how the video is extended when the speech is longer: ``ping-pong`` (forwards and
                backwards), ``loop`` or ``freeze`` (hold the last frame); a shorter speech cuts it.
            identity_frame: the frame whose appearance a learned renderer draws (its face must be found).
            crop, box: ``crop=False`` uses frames whole (already face crops); ``box`` crops every frame around it
                instead of tracking the face.
            max_missing: the largest share of frames without a face that is accepted (those frames are kept as
                they are).

        Raises:
            FaceNotFoundError: no face in the identity frame, or too many frames without one (nothing is written).
            ImageError: a missing, unreadable, corrupt or truncated video.
        """
        report = progress or no_progress
        if extension not in EXTENSIONS:
            raise ConfigError(f"extension must be one of {', '.join(EXTENSIONS)}, got {extension!r}.")
        reader = VideoReader(video, fps=self.conditioner.fps)
        source = self._identity_frame(reader, identity_frame, crop, box)
        placements: list[FramePlacement | None] = []
        original, counts = self._read_driving(source, reader, crop, box, max_missing, report, placements)
        waveform = self.load_audio(audio, sample_rate)
        report("conditioning", 0, 1)
        conditions = self.condition(waveform, emotion)
        report("conditioning", 1, 1)
        speech = self.sample(conditions, source, seed=seed, nfe=nfe, solver=solver, guidance=guidance, progress=report)
        indices = extended_indices(original.frames, speech.frames, extension)
        mouth_change = None
        if isinstance(source, PhotoPortrait):  # the frames are drawn again with the speech's mouth
            track, mouth_change = speech, spoken_opening(speech, source.neutral)
        else:
            kept = MotionTrack(original.latents[:, indices], fps=speech.fps, source=original.source)
            mix = EditProgram(edits=[Mix(reference="speech", axes=mouth_axes(self.motion_space))])
            track = mix.apply(kept, self.motion_space, references={"speech": speech})
        return DubbedVideo(
            renderer=self.renderer,
            source=source,
            track=track,
            indices=indices,
            placements=placements,
            reader=reader,
            audio=waveform,
            sample_rate=self.sample_rate,
            counts=counts,
            precision=self.precision,
            chunk_size=self.chunk_size,
            mouth_change=mouth_change,
        )

    def _identity_frame(
        self, reader: VideoReader, index: int, crop: bool, box: Box | Sequence[float] | None
    ) -> EncodedPortrait:
        """Frame ``index`` of ``reader``, encoded as the portrait whose appearance is drawn."""
        if not isinstance(index, int) or index < 0:
            raise ConfigError(f"identity_frame must be a frame index >= 0, got {index!r}.")
        try:
            frame = FrameWindow(reader, capacity=1)[index]
        except IndexError:
            raise ConfigError(
                f"the identity frame {index} is beyond the end of {reader.path}; give an earlier frame",
                fix=IDENTITY_FRAME_FIX,
            ) from None
        follower = FaceFollower(reader.fps, crop=crop, box=box)
        placement = follower.placement(frame, follower.face(frame) if follower.tracks else None)
        if placement is None:
            raise FaceNotFoundError(
                f"no face was found in frame {index} of {reader.path}, the identity frame; choose a frame with a clear "
                "face",
                fix=IDENTITY_FRAME_FIX,
            )
        if isinstance(self.renderer, PhotoRenderer):
            return self.renderer.encode_portrait(frame)
        return self.encode_portrait(frame, crop=crop, box=placement.box if crop else None)

    def _read_driving(
        self,
        source: EncodedPortrait,
        reader: VideoReader,
        crop: bool,
        box: Box | Sequence[float] | None,
        max_missing: float,
        progress: ProgressCallback | None,
        placements: list[FramePlacement | None] | None = None,
    ) -> tuple[MotionTrack, FaceCounts]:
        """The driving motion of every frame of ``reader`` (a track whose ``source`` is the portrait's motion)."""
        counts = FaceCounts()
        follower = FaceFollower(reader.fps, crop=crop, box=box)
        with self.autocast():
            track = read_driving_motion(
                self.renderer,
                source,
                reader.frames(),
                reader.fps,
                follower=follower,
                counts=counts,
                placements=placements,
                progress=progress,
                total=reader.frame_count_hint,
            )
        counts.check(max_missing, f"the video {reader.path}")
        return track, counts

    def _check_controls(self, controls: ControlsInput, controlled: bool, driving_axes: str | Sequence[str]) -> None:
        """Refuse controls for a model without them, and axes for a model whose driving video gives controls."""
        if controls and any(values is not None for values in controls.values()) and not controlled:
            family = self.config.family if self.config is not None else type(self.sampler).__name__
            raise ConfigError(
                f"this model (family {family}) takes no per-frame {', '.join(CONTROL_NAMES)} controls; only IMTalker "
                "models do. Drop them; this model's head pose is edited through its named axes",
                fix=Fix(python="with edits= (an EditProgram).", cli="with --edits PROGRAM.json."),
            )
        if controlled and driving_axes != "pose":
            raise ConfigError(
                "this model takes the head pose, camera and gaze of the driving video as its per-frame controls, not "
                f"as axes; drop driving_axes={driving_axes!r}",
                fix=Fix(python="(leave driving_axes at 'pose').", cli="(drop --pose-axes)."),
            )

    def _with_controls(
        self,
        conditions: Conditions,
        controls: ControlsInput,
        driving: str | Path | None,
        progress: ProgressCallback,
    ) -> Conditions:
        """``conditions`` with the controls measured on ``driving`` (played back and forth when shorter than the
        clip) and the given ``controls`` (which replace measured ones of the same name)."""
        assert isinstance(self.sampler, ControlledMotionGenerator)
        given: dict[str, Any] = {}
        if driving is not None:
            reader = VideoReader(driving, fps=conditions.fps)
            counts = FaceCounts()
            stack = FaceStack(config=self.sampler.measuring_stack)
            follower = FaceFollower(reader.fps, stack=stack)  # tracks the face; each frame is measured whole
            measured = read_driving_controls(
                self.sampler,
                reader.frames(),
                follower=follower,
                counts=counts,
                progress=progress,
                total=reader.frame_count_hint,
            )
            counts.check(DEFAULT_MAX_MISSING, f"the video {reader.path}")
            indices = extended_indices(counts.frames, conditions.frames, "ping-pong")
            given = {name: track[indices] for name, track in measured.items()}
        given.update({name: values for name, values in (controls or {}).items() if values is not None})
        return self.sampler.fit_controls(conditions, given)

    def _mix_axes(self, axes: str | Sequence[str]) -> tuple[str, ...]:
        """The named axes mixed driving takes from a video (``pose`` or names; not ``expression``)."""
        chosen, expression = resolve_axes(self.motion_space, axes)
        if expression or not chosen:
            raise EditError(
                "mixed driving takes named axes or 'pose' from the video (e.g. driving_axes='pose' or "
                "'yaw,pitch'); the rest of the motion follows the speech."
            )
        return chosen

    def _mix_driving(
        self,
        source: EncodedPortrait,
        sampled: MotionTrack,
        driving: str | Path,
        axes: tuple[str, ...],
        crop: bool,
        progress: ProgressCallback,
    ) -> MotionTrack:
        """The speech-driven track with ``axes`` taken from the driving video (relative transfer)."""
        reader = VideoReader(driving, fps=sampled.fps)
        track, _ = self._read_driving(source, reader, crop, None, DEFAULT_MAX_MISSING, progress)
        relative = transfer_program(self.motion_space, "relative").apply(track, self.motion_space)
        reference = extend_track(relative, sampled.frames, "ping-pong")
        mix = EditProgram(edits=[Mix(reference="driving", axes=axes)])
        mixed = mix.apply(sampled, self.motion_space, references={"driving": reference})
        return within_range(mixed, self.renderer)

    def live(
        self,
        portrait: PortraitInput | EncodedPortrait,
        *,
        config: LiveConfig | None = None,
        seed: int = 0,
        emotion: EmotionInput = None,
        edits: EditProgram | None = None,
    ) -> LiveSession:
        """Open a live session: push speech as it is spoken, get frames within a bounded delay
        (:mod:`motionkit.pipeline.live`).

        Args:
            portrait: the portrait (as for :meth:`generate`), or one encoded with :meth:`encode_portrait`.
            config: chunk, lookahead, context and solver settings (default ``LiveConfig()``).
            seed: noise seed; frame ``t``'s initial noise depends only on ``(seed, t)``.
            emotion: as for :meth:`generate`, except per-frame tensors (a constant label or weights, keyframes in
                session time, or predicted from the trailing audio when the model has a classifier).
            edits: an :class:`EditProgram` applied from the first frame (:meth:`LiveSession.apply_edits` changes it).

        Returns:
            A :class:`LiveSession` (a context manager that closes it).
        """
        return open_session(self, portrait, config=config, seed=seed, emotion=emotion, edits=edits)

    def explore(self, image: PortraitInput, **options: Any) -> AxisSweep:
        """A portrait swept along each motion axis, as a labelled grid (options: see
        :func:`motionkit.pipeline.explore.explore`)."""
        return explore(self, image, **options)

    # ------------------------------------------------------------------------------------------------ helpers

    def _video(
        self,
        source: EncodedPortrait,
        track: MotionTrack,
        waveform: np.ndarray | None,
        sampled: MotionTrack,
        paste_back: PasteBack | None = None,
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
            paste_back=paste_back,
        )

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context the models run in: autocast to :attr:`dtype`, or nothing at float32."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)
