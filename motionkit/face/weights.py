"""The converted MediaPipe models shipped in ``motionkit/face/assets`` and how to load them.

Each ``<name>.safetensors`` holds a network's constant tensors (PyTorch layouts, float16 where MediaPipe stores
float16, which is lossless) and, in its header, the op list (:mod:`motionkit.face.graph`), the TFLite input and
output tensor indices and the source file's sha256. ``provenance.json`` records the MediaPipe wheel they came from
(version, file name, sha256) and the sha256 of every source ``.tflite``; ``LICENSE`` (Apache-2.0) and ``NOTICE``
sit beside them. :mod:`motionkit.face.convert` writes all of it.
"""

from __future__ import annotations

import json
from pathlib import Path

from motionkit.errors import CheckpointError
from motionkit.face.graph import OpNet, ops_from_json
from motionkit.io.tensors import read_tensors_and_metadata

ASSETS = Path(__file__).parent / "assets"
"""The folder of the converted models, their licence, NOTICE and provenance."""

MEDIAPIPE_VERSION = "0.10.21"
"""The MediaPipe release whose models are converted (its wheel bundles the .tflite files; 1.x no longer does)."""

MODEL_FILES: dict[str, str] = {
    "face_detection_short_range": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "face_detection_full_range": "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
    "face_landmark": "mediapipe/modules/face_landmark/face_landmark.tflite",
    "face_landmark_with_attention": "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite",
    "selfie_segmentation": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
}
"""Converted model name -> the ``.tflite`` file inside MediaPipe's wheel (and its installed package)."""

PROVENANCE = "provenance.json"
"""The file in :data:`ASSETS` that records the source wheel and the hashes."""


def model_path(name: str) -> Path:
    """The shipped weights file of model ``name`` (a key of :data:`MODEL_FILES`)."""
    if name not in MODEL_FILES:
        raise CheckpointError(f"no converted face model {name!r}; expected one of {', '.join(MODEL_FILES)}")
    return ASSETS / f"{name}.safetensors"


def load_net(name: str) -> OpNet:
    """The converted network ``name`` as a float32 :class:`~motionkit.face.graph.OpNet` on the CPU, in eval mode."""
    tensors, metadata = read_tensors_and_metadata(
        model_path(name), what=f"face model {name}", fix="reinstall motionkit or run python -m motionkit.face.convert"
    )
    net = OpNet(
        ops_from_json(metadata["ops"]),
        tensors,
        inputs=int(metadata["input"]),
        outputs=[int(i) for i in json.loads(metadata["outputs"])],
    )
    return net.eval()


def provenance() -> dict[str, object]:
    """The recorded source of the shipped models (wheel version, file name and sha256, each file's sha256)."""
    return dict(json.loads((ASSETS / PROVENANCE).read_text(encoding="utf-8")))
