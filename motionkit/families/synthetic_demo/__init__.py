"""The synthetic-demo family: FLOAT's architecture at 64 px, trained by motionkit on the synthetic world.

Its one model ships in the package (``motionkit/assets/models/synthetic-demo``, Apache-2.0, no third-party weights)
and is reproduced by ``motionkit train --preset synthetic-demo`` (the recipe is :mod:`motionkit.train.demo`). Its
model folders have FLOAT's component files (:mod:`motionkit.families.float.folder`).
"""

from motionkit.config.model import ModelConfig
from motionkit.families.base import ModelFamily
from motionkit.families.float import folder
from motionkit.families.synthetic_demo.presets import FAMILY_NAME, PRESETS

FAMILY = ModelFamily(
    name=FAMILY_NAME,
    summary="FLOAT's architecture at 64 px, trained by motionkit on the procedural synthetic world (Apache-2.0)",
    config_type=ModelConfig,
    presets=PRESETS,
    save_components=folder.save_components,
    load_components=folder.load_components,
    weight_files=folder.WEIGHT_FILES,
)

__all__ = ["FAMILY"]
