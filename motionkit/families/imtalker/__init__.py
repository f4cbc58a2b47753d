"""The IMTalker family: IMTalker's implicit-motion-transfer renderer and flow-matching motion generator
(``bigai-nlco/IMTalker``, code Apache-2.0), loaded from its official checkpoints.

Checkpoint layout, architecture and numerics: ``../shared/imtalker/spec.md``; parity fixture:
:mod:`motionkit.testing.imtalker_parity`.
"""

from motionkit.families.base import ModelFamily
from motionkit.families.imtalker import folder
from motionkit.families.imtalker.config import IMTalkerConfig
from motionkit.families.imtalker.presets import FAMILY_NAME, PRESETS

FAMILY = ModelFamily(
    name=FAMILY_NAME,
    summary="IMTalker: implicit-motion-transfer renderer + flow-matching transformer with pose/cam/gaze controls + "
    "wav2vec2 audio features",
    config_type=IMTalkerConfig,
    presets=PRESETS,
    save_components=folder.save_components,
    load_components=folder.load_components,
    weight_files=folder.WEIGHT_FILES,
)

__all__ = ["FAMILY"]
