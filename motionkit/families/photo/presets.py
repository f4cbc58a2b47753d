"""The photo family's preset: the motion model of the geometric portrait renderer."""

from __future__ import annotations

from motionkit.config.conditioner import ConditionerConfig, MelEncoderConfig
from motionkit.config.flow import FlowConfig, GuidanceConfig
from motionkit.families.photo.config import ParameterAxis, PhotoMotionConfig

FAMILY_NAME = "photo"
ANGLE_UNIT = "deg"
RATIO_UNIT = "ratio"

HEAD_SMOOTHING = 0.5
"""Smoothing of the sampled head angles (``ParameterAxis.smoothing``; a lag of one frame): the flow output's head
angles carry a frame-to-frame residue of the sampling noise that the world's head motion has not (docs/photo-motion.md,
"Head motion")."""

HEAD_ONSET = 1.0
"""Seconds over which a track's head angles ease from the portrait's own pose into the sampled motion
(``ParameterAxis.onset``): the first window's sample starts about 9 degrees of yaw away from it on average
(docs/photo-motion.md, "The start of a track"), which a live session would show as a jump from the still portrait."""

AXES = (
    ParameterAxis(name="yaw", unit=ANGLE_UNIT, minimum=-25.0, maximum=25.0, smoothing=HEAD_SMOOTHING, onset=HEAD_ONSET),
    ParameterAxis(
        name="pitch", unit=ANGLE_UNIT, minimum=-15.0, maximum=15.0, smoothing=HEAD_SMOOTHING, onset=HEAD_ONSET
    ),
    ParameterAxis(
        name="roll", unit=ANGLE_UNIT, minimum=-10.0, maximum=10.0, smoothing=HEAD_SMOOTHING, onset=HEAD_ONSET
    ),
    ParameterAxis(name="mouth_open", unit=RATIO_UNIT, minimum=0.0, maximum=1.0),
    ParameterAxis(name="mouth_width", unit=RATIO_UNIT, minimum=0.0, maximum=1.0, neutral=0.5),
    ParameterAxis(name="blink", unit=RATIO_UNIT, minimum=0.0, maximum=1.0),
    ParameterAxis(name="brows", unit=RATIO_UNIT, minimum=0.0, maximum=1.0),
)
"""The synthetic world's parameters (motionkit.data.synthetic.PARAM_NAMES, in its order), with its soft angle limits
as ranges (motionkit.data.synthetic.MotionConfig); tests/families/test_photo.py checks that the two agree."""


def photo_motion() -> PhotoMotionConfig:
    """The motion model shipped in ``motionkit/assets/models/photo-motion`` (see docs/photo-motion.md)."""
    return PhotoMotionConfig(
        name="photo-motion",
        family=FAMILY_NAME,
        axes=AXES,
        conditioner=ConditionerConfig(
            encoder="mel",
            audio_dim=64,
            mel=MelEncoderConfig(n_mels=40, channels=128, layers=3, kernel_size=4),
        ),
        flow=FlowConfig(
            motion_dim=len(AXES),
            audio_dim=64,
            # 96 wide (not the synthetic-demo's 128) keeps the folder near 3 MB, under the 5 MB the package allows.
            hidden_dim=96,
            depth=3,
            num_heads=4,
            time_embed_dim=64,
            window=50,
            context=10,
            # Full attention over the window and its context: the world's head drift is correlated over about 40
            # frames, and a band of +/-2 frames per block (FLOAT's 2) left the head angles coherent over only about
            # 12 frames, i.e. a visible frame-to-frame wobble (docs/photo-motion.md).
            attention_window=60,
            # The source (the portrait's own parameters) carries no information about the speech; the model always
            # sees its context, and the step into each window is weighted as in the synthetic-demo preset (seams).
            reference_dropout=0.0,
            context_dropout=0.0,
            boundary_velocity=True,
            boundary_velocity_weight=20.0,
            guidance=GuidanceConfig(audio_scale=2.0, emotion_scale=1.0),
        ),
    )


PRESETS = {"photo-motion": photo_motion}
