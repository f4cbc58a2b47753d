"""Parity of the converted face models with MediaPipe's original ``.tflite`` files run by a TFLite interpreter.

Used by ``tests/face/test_face_parity.py`` (which asserts the tolerances) and ``benchmarks/face_parity.py`` (which
prints the errors). The interpreter is ``ai-edge-litert`` (a test dependency only); the ``.tflite`` files come from
the wheel (or the folder holding it) named by ``MOTIONKIT_MEDIAPIPE_SOURCE`` (the README's test command downloads
it) or from an installed ``mediapipe==0.10.21``. Inputs are real photos (scikit-image's astronaut and matplotlib's
Grace Hopper, both public domain, and the bundled portrait) and a synthetic face from
:mod:`motionkit.data.synthetic`, prepared exactly as the pipeline prepares them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionkit.face.convert import read_source
from motionkit.face.detector import FaceDetector, letterbox
from motionkit.face.landmarks import INPUT_SIZE as LANDMARK_SIZE
from motionkit.face.roi import FaceRegion
from motionkit.face.sampling import image_tensor, sample_region
from motionkit.face.segmenter import INPUT_SIZE as SEGMENTER_SIZE
from motionkit.face.weights import MEDIAPIPE_VERSION, MODEL_FILES, load_net
from motionkit.io.image import load_image

SOURCE_ENV = "MOTIONKIT_MEDIAPIPE_SOURCE"
"""Environment variable naming a mediapipe 0.10.21 wheel or site-packages folder to read the ``.tflite`` files from."""

CUSTOM_OP_MODELS = ("face_landmark_with_attention",)
"""Converted models with MediaPipe's custom operators, which ai-edge-litert's interpreter cannot run: they are
checked against MediaPipe's own graph (:func:`mediapipe_landmarks`) instead."""

INTERPRETER_MODELS = tuple(name for name in MODEL_FILES if name not in CUSTOM_OP_MODELS)
"""The models checked against the ``.tflite`` files in ai-edge-litert's interpreter."""

SYNTHETIC_SEED = 3
"""The synthetic face drawn for the parity inputs."""


def mediapipe_source() -> Path | None:
    """Where the original ``.tflite`` files are: ``$MOTIONKIT_MEDIAPIPE_SOURCE`` (a wheel, a folder holding one, or
    a site-packages folder), else an installed mediapipe; ``None`` when there is neither."""
    if os.environ.get(SOURCE_ENV):
        source = Path(os.environ[SOURCE_ENV])
        wheels = sorted(source.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl")) if source.is_dir() else []
        return wheels[0] if wheels else source
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


LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
node {
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  input_side_packet: "WITH_ATTENTION:with_attention"
  output_stream: "LANDMARKS:landmarks"
}
"""
"""MediaPipe's own landmark subgraph (network, custom operators and the attention mesh's refinement) on one crop."""


def mediapipe_runtime_available() -> bool:
    """Whether an installed ``mediapipe`` (with OpenCV, which it imports) can run its graphs here."""
    return all(importlib.util.find_spec(name) is not None for name in ("mediapipe", "cv2"))


def mediapipe_landmarks(crop: np.ndarray, refined: bool) -> np.ndarray | None:
    """MediaPipe's landmarks of a 192 x 192 uint8 RGB ``crop`` read as the whole region: (468 or 478, 3) in crop
    pixels (``z`` on the same scale), ``None`` when its presence test finds no face.

    The region is the whole crop, so MediaPipe's resampling to the network's 192 x 192 input is the identity and both
    sides see the same ``crop / 255``; what remains is the networks' arithmetic and the refinement. Needs an installed
    mediapipe 0.10.21 (``FaceLandmarkCpu`` runs the attention mesh with MediaPipe's custom TFLite operators, which no
    stock interpreter has).
    """
    import mediapipe as mp
    from mediapipe.framework.formats import rect_pb2
    from mediapipe.python._framework_bindings import resource_util

    resource_util.set_resource_dir(str(Path(mp.__file__).parent.parent))
    graph = mp.CalculatorGraph(graph_config=LANDMARK_GRAPH)
    found: list[Any] = []
    graph.observe_output_stream("landmarks", lambda _, packet: found.append(mp.packet_getter.get_proto(packet)))
    graph.start_run(input_side_packets={"with_attention": mp.packet_creator.create_bool(refined)})
    whole = rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1.0, height=1.0, rotation=0.0)
    image = mp.packet_creator.create_image_frame(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(crop))
    graph.add_packet_to_input_stream("image", image.at(0))
    graph.add_packet_to_input_stream("roi", mp.packet_creator.create_proto(whole).at(0))
    graph.close()
    if not found:
        return None
    height, width = crop.shape[:2]
    return np.array([[p.x * width, p.y * height, p.z * width] for p in found[0].landmark])


def landmark_crop(image: np.ndarray) -> np.ndarray:
    """The pipeline's 192 x 192 landmark crop of ``image``'s largest face, as uint8 (what MediaPipe is given)."""
    crop = sample_region(image, _face_region(image), LANDMARK_SIZE)[0].permute(1, 2, 0)
    return np.asarray((crop * 255).round().to(torch.uint8).numpy())
