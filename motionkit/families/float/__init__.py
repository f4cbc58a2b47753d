"""The FLOAT family: FLOAT's architecture (LIA motion auto-encoder, flow-matching transformer, wav2vec2 audio).

Its models are the official FLOAT weights, converted by :func:`motionkit.families.float.convert.convert_float`
(``motionkit convert-float``; their checkpoint layout is :mod:`motionkit.families.float.layout`), and any model of
this architecture that motionkit trains (presets ``float-512`` and the test-sized ``tiny``). Model folders:
:mod:`motionkit.families.float.folder`. The converter writes model folders, so it is imported from its own module:
this package is imported by the model-folder code and must not import it back.
"""

from motionkit.config.model import ModelConfig
from motionkit.families.base import ModelFamily
from motionkit.families.float import folder
from motionkit.families.float.layout import (
    conditioner_from_official,
    official_flow_entries,
    official_key_report,
    official_renderer_entries,
    renderer_from_official,
    sampler_from_official,
)
from motionkit.families.float.presets import FAMILY_NAME, PRESETS

FAMILY = ModelFamily(
    name=FAMILY_NAME,
    summary="FLOAT's architecture: LIA motion auto-encoder + flow-matching transformer + wav2vec2 audio features",
    config_type=ModelConfig,
    presets=PRESETS,
    save_components=folder.save_components,
    load_components=folder.load_components,
    weight_files=folder.WEIGHT_FILES,
)

__all__ = [
    "FAMILY",
    "conditioner_from_official",
    "official_flow_entries",
    "official_key_report",
    "official_renderer_entries",
    "renderer_from_official",
    "sampler_from_official",
]
