"""The contracts between the pipeline and the components of any model family.

The Pipeline, the CLI, training exports and evaluation use components only through these protocols, so a family
whose renderer or motion generator is built differently (another architecture, other conditions) plugs in by
implementing them. motionkit's own classes implement them: :class:`~motionkit.renderer.Renderer` (the LIA motion
auto-encoder of FLOAT and synthetic-demo), :class:`~motionkit.flow.FlowSampler` and
:class:`~motionkit.conditioner.Conditioner`. ``docs/architecture.md`` draws the data flow between them.

::

    portrait --PortraitRenderer.encode_portrait--> EncodedPortrait (its own motion r_s (B, D))
    speech   --SpeechConditioner(waveform, emotion)--> Conditions (B, T, .) at fps
    MotionGenerator.stream(window chunks of Conditions, r_s, seed | noise) --> MotionTrack (B, T, D) per window
    PortraitRenderer.render(portrait, track, chunk_size) --> frames (B, n, 3, H, W) in [-1, 1], chunk by chunk
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch

from motionkit.conditioner.stream import ConditionStream, WaveformStats
from motionkit.config.flow import GuidanceConfig
from motionkit.flow.live import LiveMotion
from motionkit.flow.noise import NoiseInput
from motionkit.space import MotionSpace
from motionkit.types import Conditions, MotionTrack, Precision

if TYPE_CHECKING:
    from motionkit.face import Face, FaceStackConfig


@runtime_checkable
class EncodedPortrait(Protocol):
    """A portrait prepared by a renderer: whatever the renderer needs to draw it, plus its own motion.

    ``motion`` is the portrait's own motion latent ``r_s`` ``(B, D)``: the motion generator starts from it and the
    renderer draws ``motion`` itself as the unchanged portrait.
    """

    @property
    def motion(self) -> torch.Tensor: ...

    @property
    def batch(self) -> int: ...


@runtime_checkable
class PortraitRenderer(Protocol):
    """Draws a portrait moved by motion latents.

    A track of ``(B, T, D)`` latents (``D == latent_dim``) is drawn as ``T`` frames of ``frame_shape(portrait)``;
    ``space`` is the motion space of those latents, with the family's named axes.
    """

    @property
    def space(self) -> MotionSpace: ...

    @property
    def latent_dim(self) -> int: ...

    @property
    def device(self) -> torch.device: ...

    def encode_portrait(self, image: Any, *, crop: bool = True, box: Any = None) -> EncodedPortrait: ...

    # A renderer draws only the portraits it encoded itself, so the portrait parameters are typed by each family.
    def frame_shape(self, portrait: Any) -> tuple[int, int]: ...

    def render(
        self, source: Any, track: MotionTrack, chunk_size: int = 8, *, precision: Precision = "float32"
    ) -> Iterator[torch.Tensor]: ...

    def to(self, *args: Any, **kwargs: Any) -> Any: ...

    def eval(self) -> Any: ...


@runtime_checkable
class SpeechConditioner(Protocol):
    """Turns speech into per-frame conditions: ``(waveform, emotion) -> Conditions`` at ``fps`` frames per second."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def fps(self) -> float: ...

    @property
    def predicts_emotion(self) -> bool: ...

    def __call__(self, audio: np.ndarray | torch.Tensor | str | Path, emotion: Any = None) -> Conditions: ...

    def to(self, *args: Any, **kwargs: Any) -> Any: ...

    def eval(self) -> Any: ...


@runtime_checkable
class MotionGenerator(Protocol):
    """Samples motion latents from conditions, ``window`` frames at a time (a window sees the previous ones)."""

    @property
    def window(self) -> int: ...

    @property
    def latent_dim(self) -> int: ...

    @property
    def default_guidance(self) -> GuidanceConfig: ...

    def stream(
        self,
        conditions: Iterable[Conditions],
        source_motion: torch.Tensor,
        *,
        nfe: int | None = None,
        solver: Any = None,
        guidance: GuidanceConfig | None = None,
        seed: int | None = None,
        noise: NoiseInput | None = None,
    ) -> Iterator[MotionTrack]: ...

    def to(self, *args: Any, **kwargs: Any) -> Any: ...

    def eval(self) -> Any: ...


@runtime_checkable
class ControlledMotionGenerator(Protocol):
    """A motion generator that also takes per-frame controls (``Conditions.pose``, ``cam``, ``gaze``; IMTalker's):
    it checks and fits given controls to a clip, and converts a face the face stack found in a frame into the
    controls it can measure (the others are left out), with a face stack configured as ``measuring_stack`` says."""

    @property
    def measuring_stack(self) -> FaceStackConfig: ...

    def fit_controls(self, conditions: Conditions, controls: Mapping[str, Any]) -> Conditions: ...

    def measure_controls(self, face: Face, shape: tuple[int, int]) -> dict[str, np.ndarray]: ...


@runtime_checkable
class LiveMotionGenerator(Protocol):
    """A motion generator that also samples live (:mod:`motionkit.flow.live`): conditions pushed as they arrive,
    motion out in chunks of ``chunk_frames`` after ``lookahead_frames`` more condition frames, in the renderer's
    latent space. :class:`~motionkit.flow.FlowSampler` and the photo family's ``ParameterMotion`` implement it."""

    @property
    def window(self) -> int: ...

    def live(
        self,
        source_motion: torch.Tensor,
        *,
        chunk_frames: int,
        lookahead_frames: int,
        nfe: int | None = None,
        seed: int = 0,
        window_frames: int | None = None,
    ) -> LiveMotion: ...


@runtime_checkable
class LiveSpeechConditioner(Protocol):
    """A speech conditioner with a push-driven, causal live path (:meth:`motionkit.Conditioner.live`)."""

    def live(
        self,
        emotion: Any = None,
        *,
        context_frames: int | None = None,
        lookahead_frames: int | None = None,
        prior: WaveformStats | None = None,
        prior_seconds: float = 0.0,
    ) -> ConditionStream: ...
