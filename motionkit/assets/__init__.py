"""Files shipped inside motionkit: a real speech clip for demos and a portrait of the synthetic world.

- ``arctic_a0007.wav``: "And you always want to see it in the superlative degree", CMU ARCTIC (speaker bdl),
  16 kHz mono PCM, 4.0 s, shipped unmodified. Its licence requires its notice to travel with it:
  ``ARCTIC-NOTICE.txt`` beside it (:func:`demo_speech_notice_path`).
- ``models/photo-motion/``: the bundled default model (:data:`DEFAULT_MODEL`), the photo family's motion model
  trained on the synthetic world by ``motionkit train --preset photo-motion``; it animates real photos through the
  geometric renderer (``motionkit demo``, ``motionkit generate`` without ``--model``).
- ``models/synthetic-demo/``: the learned 64-px demo model (a :mod:`motionkit.model_folder` folder trained on the
  synthetic world by ``motionkit train --preset synthetic-demo``), by name ``--model synthetic-demo``.
- ``grace_hopper.jpg``: a public-domain photo of Grace Hopper (U.S. Navy, 1984), 512 x 600, the default demo's
  portrait; provenance in ``grace_hopper.txt`` beside it (:func:`demo_photo_path`).
- ``demo_portrait.png``: the synthetic-world face of seed :data:`DEMO_FACE_SEED`, frontal and neutral, rendered at
  128 pixels in the close-up framing the demo model is trained in (:func:`motionkit.data.synthetic.close_up`;
  :func:`render_demo_portrait` re-creates it).
- ``demo_portrait.face.json``: the portrait's face box ``[24, 24, 104, 104]``, read by
  :func:`motionkit.face.crop_portrait` in place of the landmarks' box (the face stack finds this drawn face, but
  its mesh box would frame it wider). FLOAT's crop rule around it (half side ``int(1.6 * 40) = 64`` about the centre
  ``(64, 64)``) is the whole image: the demo model's framing.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from motionkit.data.synthetic import FaceIdentity, SyntheticWorld, close_up
from motionkit.errors import CheckpointError

DEMO_FACE_SEED = 9
"""Seed of the synthetic face shown by the demo portrait."""
DEMO_PORTRAIT_SIZE = 128
BUNDLED_MODELS: dict[str, str] = {"photo-motion": "models/photo-motion", "synthetic-demo": "models/synthetic-demo"}
"""Name -> folder (inside this package) of each shipped model; ``--model NAME`` accepts these names."""
DEFAULT_MODEL = "photo-motion"
"""The model ``motionkit demo`` and ``motionkit generate`` use when none is given."""
LEARNED_DEMO_MODEL = "synthetic-demo"
DEMO_PHOTO = "grace_hopper.jpg"


def _asset(name: str) -> Path:
    return Path(str(resources.files(__name__).joinpath(name)))


def demo_speech_path() -> Path:
    """Path of the bundled real speech clip (``arctic_a0007.wav``, 16 kHz mono, 4 s)."""
    return _asset("arctic_a0007.wav")


def demo_speech_notice_path() -> Path:
    """Path of the CMU ARCTIC licence notice that must accompany the speech clip."""
    return _asset("ARCTIC-NOTICE.txt")


def demo_portrait_path() -> Path:
    """Path of the bundled demo portrait (``demo_portrait.png``, 128 x 128 RGB)."""
    return _asset("demo_portrait.png")


def demo_photo_path() -> Path:
    """Path of the bundled real photo (``grace_hopper.jpg``, public domain, 512 x 600 RGB)."""
    return _asset(DEMO_PHOTO)


def bundled_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of the shipped model folder called ``name`` (one of :data:`BUNDLED_MODELS`).

    Raises:
        CheckpointError: an unknown name, or the folder is not part of this installation.
    """
    if name not in BUNDLED_MODELS:
        raise CheckpointError(
            f"{name!r} is not a model shipped with motionkit (those are {', '.join(sorted(BUNDLED_MODELS))}); give "
            "a model folder's path instead."
        )
    path = _asset(BUNDLED_MODELS[name])
    if not (path / "config.json").is_file():
        raise CheckpointError(
            f"the bundled model {name!r} is missing from this installation ({path}); reinstall motionkit, or train it "
            f"with `motionkit train --preset {name}` and pass --model with the folder it writes."
        )
    return path


def demo_model_path() -> Path:
    """Path of the learned 64-px demo model folder (``models/synthetic-demo``; see :func:`bundled_model_path`)."""
    return bundled_model_path(LEARNED_DEMO_MODEL)


def demo_identity() -> FaceIdentity:
    """The synthetic face of the demo portrait (for calibrating the synthetic analyzer on it)."""
    return SyntheticWorld(size=DEMO_PORTRAIT_SIZE).identity(DEMO_FACE_SEED)


def render_demo_portrait(size: int = DEMO_PORTRAIT_SIZE) -> np.ndarray:
    """``(size, size, 3)`` uint8 close-up render of the demo face; at 128 px it equals ``demo_portrait.png``."""
    world = SyntheticWorld(close_up(), size=size)
    return world.portrait(world.identity(DEMO_FACE_SEED))
