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
        2, ge=1, description="Frames sampled together by one window and emitted together (FlowSampler.live)."
    )
    lookahead_frames: int = Field(
        2, ge=0, description="Frames of conditions after a chunk that its window waits for and sees (flow lookahead)."
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
    window_frames: int | None = Field(
        None,
        ge=1,
        description="Frames of each live window (>= chunk_frames + lookahead_frames); None: the model's window "
        "(FlowConfig.window). Fewer is cheaper: a partial window.",
    )
    nfe: int | None = Field(
        None, ge=2, description="Points of the ODE time grid per window; None: the model's (FlowConfig.nfe)."
    )
    edit_history_frames: int = Field(
        50,
        ge=0,
        description="Emitted frames that edits see before each new chunk (the past of Smooth, Freeze(at='mean')).",
    )
