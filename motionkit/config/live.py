"""Settings of a live session (:meth:`motionkit.Pipeline.live`); ``docs/live.md`` measures their trade-offs."""

from __future__ import annotations

from pydantic import Field

from motionkit.config._base import FrozenConfig


class LiveConfig(FrozenConfig):
    """How a live session cuts speech into motion: chunk, lookahead, context and solver steps.

    A frame waits for its chunk to fill and for the lookahead after it, so the audio-to-frame latency is about
    ``(chunk_frames - 1 + lookahead_frames + encoder_lookahead_frames)`` frames plus the computation of a chunk;
    the motion's flow context is the model's own ``FlowConfig.context`` frames of the emitted motion.
    """

    chunk_frames: int = Field(
        3,
        ge=1,
        description="Frames sampled together by one window and emitted together (FlowSampler.live); the work per "
        "frame falls as 1 / chunk_frames, the first frame of a chunk waits chunk_frames - 1 frames for the others.",
    )
    lookahead_frames: int = Field(
        1,
        ge=0,
        description="Frames of conditions after a chunk that its window waits for and sees (flow lookahead; "
        "3 / 1 has the delay of 2 / 2 and measured as well or better on both shipped models, docs/live.md).",
    )
    encoder_lookahead_frames: int = Field(
        0,
        ge=0,
        description="Frames of future audio the audio encoder waits for (mel: none needed; wav2vec2: its error is "
        "tabulated in docs/conditioner.md).",
    )
    audio_context_frames: int = Field(
        25,
        ge=0,
        description="Frames of past audio the audio encoder re-encodes with each new block (the mel encoder is exact "
        "once this exceeds its receptive field, 16 frames at the defaults).",
    )
    prior_rms: float | None = Field(
        0.08,
        gt=0.0,
        description="Speech level (RMS of the samples) assumed before the session has heard any: the waveform is "
        "normalised by running statistics that start from it (None: from the first samples alone, which amplifies "
        "a silent start's noise to the level of speech). The bundled ARCTIC clip has 0.082, the synthetic world "
        "0.075-0.094; docs/live.md measures levels 4x off.",
    )
    prior_seconds: float = Field(
        1.0, ge=0.0, description="Weight of prior_rms, in seconds of audio, against the audio received."
    )
    window_margin_frames: int | None = Field(
        20,
        ge=0,
        description="Frames each live window holds past the chunk and its lookahead (only repeats of the last "
        "audio frame): a partial window of min(chunk + lookahead + margin, the model's window) frames, cheaper than "
        "a whole one and, at 20, within 0.05 of a whole window's chunk seams on the bundled photo-motion model "
        "(docs/live.md); None: always the model's whole window.",
    )
    nfe: int | None = Field(
        6,
        ge=2,
        description="Points of the ODE time grid per window (5 Euler steps: the shipped models' live mouth and seams "
        "stay within their targets, docs/live.md); None: the model's (FlowConfig.nfe, 10 for FLOAT's).",
    )
    max_side: int | None = Field(
        None,
        ge=16,
        description="Longest side, in pixels, of a portrait given as an image: a larger one is shrunk (area filter) "
        "before it is encoded. For families that draw at the photo's own size (photo), whose renderer's cost "
        "follows the pixel count, this is the live frame size (docs/live.md measures it); a learned renderer draws "
        "at its own resolution whatever the input. None: the portrait's own size.",
    )
    edit_history_frames: int = Field(
        50,
        ge=0,
        description="Emitted frames that edits see before each new chunk (the past of Smooth, Freeze(at='mean')).",
    )
