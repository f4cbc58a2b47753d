"""A procedural talking-face world for training and evaluating motionkit without downloaded data.

2.5-D faces of many identities (head shape, skin, hair, eyes) rendered with known per-frame parameters (pose,
mouth, eyelids, brows), paired with speech from a source-filter syllable synthesiser whose phones drive the mouth.
See ``docs/synthetic-world.md``.
"""

from motionkit.data.synthetic.config import (
    MotionConfig,
    RenderConfig,
    SpeechConfig,
    SyntheticWorldConfig,
    close_up,
)
from motionkit.data.synthetic.dataset import (
    SyntheticDataset,
    clip_seed,
    generate_dataset,
    read_clip,
    write_clip,
)
from motionkit.data.synthetic.identity import HAIR_STYLES, MOUTH_INTERIOR, FaceIdentity, Voice
from motionkit.data.synthetic.params import PARAM_NAMES, FaceParams
from motionkit.data.synthetic.phonetics import PHONES, Phone, Timeline
from motionkit.data.synthetic.world import SyntheticClip, SyntheticWorld

__all__ = [
    "HAIR_STYLES",
    "MOUTH_INTERIOR",
    "PARAM_NAMES",
    "PHONES",
    "FaceIdentity",
    "FaceParams",
    "MotionConfig",
    "Phone",
    "RenderConfig",
    "SpeechConfig",
    "SyntheticClip",
    "SyntheticDataset",
    "SyntheticWorld",
    "SyntheticWorldConfig",
    "Timeline",
    "Voice",
    "clip_seed",
    "close_up",
    "generate_dataset",
    "read_clip",
    "write_clip",
]
