"""The synthetic talking-face world: identities, paired speech and face motion, rendered clips.

Everything is a pure function of a seed: ``SyntheticWorld(size=64).clip(7, 4.0)`` returns the same frames, audio and
parameters on every call. A clip's seed drives the face and voice (unless given) and independent random streams for
the syllable timeline, the synthesiser's noise and the head motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from motionkit.data.synthetic.config import SyntheticWorldConfig
from motionkit.data.synthetic.identity import FaceIdentity, Voice, sample_face, sample_voice
from motionkit.data.synthetic.motion import face_motion
from motionkit.data.synthetic.params import PARAM_NAMES, FaceParams
from motionkit.data.synthetic.phonetics import Timeline, sample_timeline
from motionkit.data.synthetic.render import FaceRenderer
from motionkit.data.synthetic.speech import synthesize
from motionkit.errors import ConfigError, ShapeError, require

_STREAM_TIMELINE, _STREAM_SYNTHESIS, _STREAM_MOTION, _STREAM_POSES = 0x71E, 0x5F1, 0x30E, 0x905E


@dataclass(frozen=True)
class SyntheticClip:
    """One talking-face clip with its ground truth.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB frames, or ``None`` when the clip was made without rendering.
        audio: ``(T * S,)`` float32 mono waveform, ``S = sample_rate / fps`` samples per frame.
        params: per-frame face parameters (frame ``t`` is the face at time ``(t + 0.5) / fps``).
        identity, voice: who is shown and who speaks.
        timeline: the phones, which both the audio and the mouth follow.
        seed, fps, sample_rate: how the clip was made.
    """

    frames: np.ndarray | None
    audio: np.ndarray
    params: FaceParams
    identity: FaceIdentity
    voice: Voice
    timeline: Timeline
    seed: int
    fps: float
    sample_rate: int

    @property
    def num_frames(self) -> int:
        return self.params.frames

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps

    @property
    def silent(self) -> np.ndarray:
        """``(T,)`` bool: the frame centre falls in a pause of the timeline (ground-truth silence)."""
        return self.timeline.silent_frames(self.fps, self.num_frames)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description: seed, timing, identity and voice."""
        return {
            "seed": self.seed,
            "fps": self.fps,
            "sample_rate": self.sample_rate,
            "frames": self.num_frames,
            "identity": self.identity.to_dict(),
            "voice": self.voice.to_dict(),
        }


class SyntheticWorld:
    """Procedural talking faces with paired speech.

    Args:
        config: the whole world's configuration; ``size``, ``fps`` and ``sample_rate`` override its fields.

    Example::

        world = SyntheticWorld(size=64)
        clip = world.clip(seed=3, seconds=2.0)
        clip.frames.shape, clip.audio.shape  # (50, 64, 64, 3), (32000,)
    """

    def __init__(
        self,
        config: SyntheticWorldConfig | None = None,
        *,
        size: int | None = None,
        fps: float | None = None,
        sample_rate: int | None = None,
    ) -> None:
        config = config or SyntheticWorldConfig()
        overrides = {k: v for k, v in {"size": size, "fps": fps, "sample_rate": sample_rate}.items() if v is not None}
        if overrides:
            try:
                config = SyntheticWorldConfig.model_validate({**config.model_dump(), **overrides})
            except ValueError as exc:
                raise ConfigError(f"invalid synthetic world settings {overrides}: {exc}") from None
        self.config = config
        self._renderer = FaceRenderer(config.size, config.render)

    @property
    def size(self) -> int:
        return self.config.size

    @property
    def fps(self) -> float:
        return self.config.fps

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def samples_per_frame(self) -> int:
        return self.config.samples_per_frame

    def identity(self, seed: int) -> FaceIdentity:
        """The face drawn from ``seed``."""
        return sample_face(seed)

    def voice(self, seed: int) -> Voice:
        """The voice drawn from ``seed``."""
        return sample_voice(seed)

    def render(self, identity: FaceIdentity, params: FaceParams) -> np.ndarray:
        """``(T, size, size, 3)`` uint8 frames of ``identity`` posed by ``params``."""
        require(params.frames > 0, ShapeError, "params has no frames; give at least one frame to render.")
        return self._renderer.render(identity, params)

    def random_params(self, seed: int, frames: int) -> FaceParams:
        """``frames`` independent poses drawn uniformly over the whole parameter range.

        Angles are uniform in ``[-limit, limit]`` of :class:`MotionConfig` and the other parameters in ``[0, 1]``;
        useful to train an auto-encoder on poses that speech alone visits rarely.
        """
        require(frames >= 1, ConfigError, f"frames must be at least 1, got {frames}.")
        rng = _stream(seed, _STREAM_POSES)
        motion = self.config.motion
        limits = {"yaw": motion.yaw_limit, "pitch": motion.pitch_limit, "roll": motion.roll_limit}
        values = {
            name: rng.uniform(-limits[name], limits[name], frames) if name in limits else rng.uniform(0, 1, frames)
            for name in PARAM_NAMES
        }
        return FaceParams(**values)

    def portrait(self, identity: FaceIdentity) -> np.ndarray:
        """``(size, size, 3)`` uint8 frontal, neutral image of ``identity`` (closed mouth, open eyes)."""
        return self.render(identity, FaceParams.neutral(1))[0]

    def clip(
        self,
        seed: int,
        seconds: float,
        *,
        identity: FaceIdentity | None = None,
        voice: Voice | None = None,
        render: bool = True,
    ) -> SyntheticClip:
        """A clip of ``round(seconds * fps)`` frames and exactly ``frames * samples_per_frame`` audio samples.

        Args:
            seed: drives everything not given explicitly.
            seconds: clip length.
            identity, voice: override the face or voice drawn from ``seed``.
            render: ``False`` skips rendering (``frames`` is ``None``), e.g. to study audio and parameters.
        """
        frames = round(seconds * self.fps)
        require(
            frames >= 1,
            ConfigError,
            f"a clip needs at least one frame; seconds={seconds} gives {frames} at {self.fps} fps.",
        )
        identity = identity or self.identity(seed)
        voice = voice or self.voice(seed)
        duration = frames / self.fps
        timeline = sample_timeline(_stream(seed, _STREAM_TIMELINE), duration, voice, self.config.speech)
        speech = synthesize(
            timeline,
            voice,
            self.config.speech,
            sample_rate=self.sample_rate,
            samples=frames * self.samples_per_frame,
            frame=self.samples_per_frame,
            rng=_stream(seed, _STREAM_SYNTHESIS),
        )
        params = face_motion(
            timeline,
            speech,
            voice,
            self.config.motion,
            fps=self.fps,
            frames=frames,
            rng=_stream(seed, _STREAM_MOTION),
        )
        return SyntheticClip(
            frames=self.render(identity, params) if render else None,
            audio=speech.audio,
            params=params,
            identity=identity,
            voice=voice,
            timeline=timeline,
            seed=int(seed),
            fps=self.fps,
            sample_rate=self.sample_rate,
        )


def _stream(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream]))
