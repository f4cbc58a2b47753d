"""Configuration of the synthetic talking-face world: speech, motion and rendering settings.

Every tunable number of the world lives here, with its unit, so that a dataset's manifest (which stores this
configuration) fully describes how the dataset was made.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig


class SpeechConfig(FrozenConfig):
    """Syllable timeline and source-filter synthesis."""

    syllables_per_phrase: tuple[int, int] = Field((2, 9), description="Inclusive range of syllables per phrase.")
    pause_seconds: tuple[float, float] = Field((0.18, 0.75), description="Range of pauses between phrases (s).")
    lead_silence_seconds: tuple[float, float] = Field(
        (0.2, 0.5), description="Range of the silence before the first phrase of a clip (s)."
    )
    vowel_seconds: tuple[float, float] = Field((0.08, 0.19), description="Range of unstressed vowel durations (s).")
    consonant_seconds: tuple[float, float] = Field((0.05, 0.11), description="Range of consonant durations (s).")
    stress_lengthening: float = Field(1.4, description="Duration factor of stressed vowels.")
    stress_probability: float = Field(0.4, description="Probability that a syllable is stressed.")
    onset_probability: float = Field(0.8, description="Probability that a syllable starts with a consonant.")
    coda_probability: float = Field(0.35, description="Probability that a syllable ends with a consonant.")
    declination: tuple[float, float] = Field(
        (1.18, 0.85), description="f0 factor at the start and at the end of a phrase (declination)."
    )
    accent_rise: tuple[float, float] = Field((0.08, 0.25), description="Range of the f0 rise of a stressed vowel.")
    formant_smoothing_seconds: float = Field(0.02, description="Gaussian sigma of formant transitions (s).")
    amplitude_ramp_seconds: float = Field(0.012, description="Gaussian sigma of source amplitude ramps (s).")
    control_block: int = Field(80, description="Samples per block of constant formant filters (5 ms at 16 kHz).")
    glottal_pole_hz: float = Field(100.0, description="Corner of the two-pole glottal low-pass (Hz).")
    tilt_corner_hz: float = Field(700.0, description="Corner of the one-pole spectral-tilt low-pass (Hz).")
    formant_bandwidths_hz: tuple[float, float, float, float, float] = Field(
        (80.0, 120.0, 180.0, 250.0, 300.0), description="Bandwidths of the five cascade formants (Hz)."
    )
    upper_formants_hz: tuple[float, float] = Field((3400.0, 4100.0), description="F4 and F5 before voice scaling.")
    burst_seconds: float = Field(0.015, description="Duration of a stop release burst (s).")
    closure_fraction: float = Field(0.65, description="Fraction of a stop spent in silent (or voiced) closure.")
    loudness_percentile: float = Field(95.0, description="Percentile of frame levels that is normalised.")
    loudness_dbfs: float = Field(-16.0, description="Target level of that percentile (dB full scale, RMS).")
    noise_floor_db: tuple[float, float] = Field(
        (-48.0, -30.0), description="Range of the background noise level relative to the normalised percentile (dB)."
    )
    peak_limit: float = Field(0.99, description="Absolute sample limit after normalisation.")


class MotionConfig(FrozenConfig):
    """Per-frame face parameters driven by the syllable timeline and its prosody."""

    yaw_limit: float = Field(25.0, description="Soft limit of |yaw| (degrees).")
    pitch_limit: float = Field(15.0, description="Soft limit of |pitch| (degrees).")
    roll_limit: float = Field(10.0, description="Soft limit of |roll| (degrees).")
    viseme_sigma_seconds: float = Field(
        0.03, description="Gaussian sigma of the zero-phase coarticulation smoothing of mouth targets (s)."
    )
    unstressed_opening: float = Field(0.8, description="Mouth-opening factor of unstressed vowels.")
    drift_seconds: float = Field(1.6, description="Correlation time of the slow random head drift (s).")
    yaw_drift_degrees: float = Field(7.0, description="Standard deviation of the yaw drift (degrees).")
    pitch_drift_degrees: float = Field(3.0, description="Standard deviation of the pitch drift (degrees).")
    roll_drift_degrees: float = Field(2.5, description="Standard deviation of the roll drift (degrees).")
    phrase_turn_degrees: float = Field(9.0, description="Standard deviation of the yaw target set per phrase.")
    phrase_turn_seconds: float = Field(0.35, description="Gaussian sigma of the yaw transition between phrases.")
    pitch_per_octave: float = Field(10.0, description="Head pitch (degrees, chin up) per octave of f0 rise.")
    prosody_sigma_seconds: float = Field(0.12, description="Smoothing of the f0 contour that drives pitch (s).")
    nod_degrees: tuple[float, float] = Field((1.5, 4.5), description="Range of the nod on a stressed syllable.")
    nod_seconds: float = Field(0.14, description="Time scale (Gaussian sigma) of a nod (s).")
    roll_from_yaw: float = Field(0.25, description="Largest roll coupled to yaw (degrees per degree).")
    brow_rest: tuple[float, float] = Field((0.1, 0.35), description="Range of the resting brow raise.")
    brow_raise: tuple[float, float] = Field((0.35, 0.7), description="Range of an accent brow raise.")
    brow_raise_probability: float = Field(0.45, description="Probability that a stressed syllable raises the brows.")
    brow_seconds: float = Field(0.22, description="Gaussian sigma of a brow raise (s).")
    blink_rate_hz: tuple[float, float] = Field((0.2, 0.45), description="Range of a face's mean blink rate (Hz).")
    blink_min_gap_seconds: float = Field(0.9, description="Shortest interval between two blinks (s).")
    blink_close_seconds: float = Field(0.075, description="Eyelid closing time (s).")
    blink_hold_seconds: float = Field(0.04, description="Time the eyes stay closed (s).")
    blink_open_seconds: float = Field(0.15, description="Eyelid opening time (s).")


class RenderConfig(FrozenConfig):
    """2.5-D rasteriser of ellipsoid heads with textured features."""

    head_radius: float = Field(0.25, description="Head half-width of an average face, as a fraction of the image.")
    head_center: tuple[float, float] = Field(
        (0.5, 0.43), description="Head centre (x, y) as fractions of the image (y down)."
    )
    pivot_below: float = Field(1.1, description="Rotation pivot below the head centre, in head half-widths.")
    light: tuple[float, float, float] = Field(
        (-0.45, 0.55, 0.7), description="Direction towards the light in camera space (x right, y up, z to viewer)."
    )
    ambient: float = Field(0.55, description="Ambient share of the Lambert shading.")
    edge_pixels: float = Field(1.0, description="Width of the analytic anti-aliasing ramp (pixels).")
    chunk_frames: int = Field(32, description="Frames rendered per vectorised batch (bounds memory).")


class SyntheticWorldConfig(FrozenConfig):
    """The whole synthetic world: image size, timing and the three parts above."""

    size: int = Field(128, description="Image side in pixels.")
    fps: float = Field(25.0, description="Video frame rate.")
    sample_rate: int = Field(16000, description="Audio sample rate (Hz).")
    speech: SpeechConfig = Field(default_factory=SpeechConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    render: RenderConfig = Field(default_factory=RenderConfig)

    @model_validator(mode="after")
    def _check(self) -> SyntheticWorldConfig:
        if self.size < 32:
            raise ValueError(f"size must be at least 32 pixels, got {self.size}")
        if self.fps <= 0 or self.sample_rate <= 0:
            raise ValueError("fps and sample_rate must be positive")
        ratio = self.sample_rate / self.fps
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"sample_rate / fps must be a whole number of samples, got {ratio}")
        return self

    @property
    def samples_per_frame(self) -> int:
        """Audio samples per video frame (640 at 16 kHz and 25 fps)."""
        return round(self.sample_rate / self.fps)


CLOSE_UP_RENDER = {"head_radius": 0.36, "head_center": (0.5, 0.47)}
"""Framing of :func:`close_up`: a head half-width of 0.36 of the image, centred a little lower."""


def close_up() -> SyntheticWorldConfig:
    """The world framed like a face crop (the synthetic-demo model's world): the head fills about 70 % of the image
    width, as in crops made by :func:`motionkit.face.crop_portrait`, against 50 % by default. At 64 px the mouth
    is 1.4 times wider in pixels, which is what lets a small auto-encoder read it on unseen faces (measured: encoder
    read-out of the mouth opening r 0.85-0.99 on held-out faces after 1500 steps, against 0.05-0.63 in the default
    framing; the synthetic analyzer's mouth r on ground-truth frames 0.98-0.99 against 0.81-0.97)."""
    return SyntheticWorldConfig(render=RenderConfig(**CLOSE_UP_RENDER))
