"""The photo family: a motion model of named parameters in real units for the geometric portrait renderer.

Its model folders hold the motion model only (:mod:`motionkit.families.photo.folder`): audio -> per-frame yaw,
pitch, roll (degrees), mouth opening and width, blink and brows (0 .. 1), sampled by a flow model over the
normalised parameter vector (:class:`~motionkit.families.photo.motion.ParameterMotion`). The geometric renderer
draws those parameters on any photo and has no weights. The shipped model (``motionkit/assets/models/photo-motion``)
is trained on the synthetic world by ``motionkit train --preset photo-motion`` (:mod:`motionkit.train.photo`;
docs/photo-motion.md).
"""

from motionkit.families.base import ModelFamily
from motionkit.families.photo import folder
from motionkit.families.photo.config import ParameterAxis, PhotoMotionConfig
from motionkit.families.photo.motion import ParameterMotion, parameter_space
from motionkit.families.photo.presets import FAMILY_NAME, PRESETS

FAMILY = ModelFamily(
    name=FAMILY_NAME,
    summary="motion of named parameters in real units (yaw, pitch, roll, mouth, blink, brows) for the geometric "
    "portrait renderer, trained by motionkit on the synthetic world (Apache-2.0)",
    config_type=PhotoMotionConfig,
    presets=PRESETS,
    save_components=folder.save_components,
    load_components=folder.load_components,
    weight_files=folder.WEIGHT_FILES,
)

__all__ = ["FAMILY", "ParameterAxis", "ParameterMotion", "PhotoMotionConfig", "parameter_space"]
