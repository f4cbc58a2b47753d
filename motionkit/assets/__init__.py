"""Files shipped inside motionkit: a real speech clip for demos and a portrait of the synthetic world.

- ``arctic_a0007.wav``: "And you always want to see it in the superlative degree", CMU ARCTIC (speaker bdl),
  16 kHz mono PCM, 4.0 s, shipped unmodified. Its licence requires its notice to travel with it:
  ``ARCTIC-NOTICE.txt`` beside it (:func:`demo_speech_notice_path`).
- ``models/synthetic-demo/``: the bundled default model (a :mod:`motionkit.model_folder` folder trained on the
  synthetic world by ``motionkit train --preset synthetic-demo``), used by ``motionkit demo``
  (:func:`demo_model_path`).
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
DEMO_MODEL = "models/synthetic-demo"


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


def demo_model_path() -> Path:
    """Path of the bundled default model folder (``models/synthetic-demo``).

    Raises:
        CheckpointError: the folder is not part of this installation.
    """
    path = _asset(DEMO_MODEL)
    if not (path / "config.json").is_file():
        raise CheckpointError(
            f"the bundled demo model is missing from this installation ({path}): this version of motionkit does not "
            "ship one yet (docs/demo-model.md says why). Train it with `motionkit train --preset synthetic-demo` "
            "(about 45 minutes on a 2-core CPU) and pass --model runs/synthetic-demo/model."
        )
    return path


def demo_identity() -> FaceIdentity:
    """The synthetic face of the demo portrait (for calibrating the synthetic analyzer on it)."""
    return SyntheticWorld(size=DEMO_PORTRAIT_SIZE).identity(DEMO_FACE_SEED)


def render_demo_portrait(size: int = DEMO_PORTRAIT_SIZE) -> np.ndarray:
    """``(size, size, 3)`` uint8 close-up render of the demo face; at 128 px it equals ``demo_portrait.png``."""
    world = SyntheticWorld(close_up(), size=size)
    return world.portrait(world.identity(DEMO_FACE_SEED))
