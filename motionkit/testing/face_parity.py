"""Parity of the converted face models with MediaPipe's original ``.tflite`` files run by a TFLite interpreter.

Used by ``tests/face/test_face_parity.py`` (which asserts the tolerances) and ``benchmarks/face_parity.py`` (which
prints the errors). The interpreter is ``ai-edge-litert`` (a test dependency only); the ``.tflite`` files come from an
installed ``mediapipe==0.10.21`` (its package folder) or from the wheel named by ``MOTIONKIT_MEDIAPIPE_SOURCE``.
Inputs are real photos (scikit-image's astronaut and matplotlib's Grace Hopper, both public domain, and the bundled
portrait) and a synthetic face from :mod:`motionkit.data.synthetic`, prepared exactly as the pipeline prepares them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from motionkit.face.convert import read_source
from motionkit.face.detector import FaceDetector, letterbox
from motionkit.face.landmarks import INPUT_SIZE as LANDMARK_SIZE
from motionkit.face.roi import FaceRegion
from motionkit.face.sampling import image_tensor, sample_region
from motionkit.face.segmenter import INPUT_SIZE as SEGMENTER_SIZE
from motionkit.face.weights import MODEL_FILES, load_net
from motionkit.io.image import load_image

SOURCE_ENV = "MOTIONKIT_MEDIAPIPE_SOURCE"
"""Environment variable naming a mediapipe 0.10.21 wheel or site-packages folder to read the ``.tflite`` files from."""

SYNTHETIC_SEED = 3
"""The synthetic face drawn for the parity inputs."""


def mediapipe_source() -> Path | None:
    """Where the original ``.tflite`` files are: ``$MOTIONKIT_MEDIAPIPE_SOURCE``, else an installed mediapipe."""
    if os.environ.get(SOURCE_ENV):
        return Path(os.environ[SOURCE_ENV])
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).parent


def photos() -> dict[str, np.ndarray]:
    """The parity photos, (H, W, 3) uint8 RGB, by name."""
    import matplotlib.cbook
    import skimage.data

    from motionkit.assets import demo_portrait_path
    from motionkit.data.synthetic.world import SyntheticWorld

    world = SyntheticWorld(size=256)
    synthetic = world.render(world.identity(SYNTHETIC_SEED), world.random_params(SYNTHETIC_SEED, 1))[0]
    return {
        "astronaut": skimage.data.astronaut(),
        "grace_hopper": load_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
        "demo_portrait": load_image(demo_portrait_path()),
        "synthetic": synthetic,
    }


def _face_region(image: np.ndarray) -> FaceRegion:
    faces = FaceDetector().detect(image_tensor(image))
    if faces:
        return FaceRegion.from_detection(faces[0])
    height, width = image.shape[:2]
    return FaceRegion((width / 2, height / 2), min(height, width) * 0.8, 0.0)


def model_input(model: str, image: np.ndarray) -> torch.Tensor:
    """The (1, 3, S, S) network input the pipeline makes of ``image`` for ``model`` (a key of MODEL_FILES)."""
    if model.startswith("face_detection"):
        size = 128 if model.endswith("short_range") else 192
        return letterbox(image_tensor(image), size)[0]
    if model == "face_landmark":
        return sample_region(image, _face_region(image), LANDMARK_SIZE)
    return torch.nn.functional.interpolate(
        image_tensor(image), size=(SEGMENTER_SIZE, SEGMENTER_SIZE), mode="bilinear", antialias=True
    )


def interpreter_runner(source: Path) -> Callable[[str, torch.Tensor], list[np.ndarray]]:
    """A function ``(model, x (1, 3, S, S)) -> the .tflite outputs`` through ai-edge-litert's interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    files = read_source(source)

    def run(model: str, x: torch.Tensor) -> list[np.ndarray]:
        interpreter = Interpreter(model_content=files[MODEL_FILES[model]])
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.permute(0, 2, 3, 1).numpy())
        interpreter.invoke()
        return [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]

    return run


def torch_outputs(model: str, x: torch.Tensor) -> list[np.ndarray]:
    """The converted network's outputs for ``x``, in the interpreter's layout."""
    with torch.no_grad():
        return [out.numpy() for out in load_net(model)(x)]
