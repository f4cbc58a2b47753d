"""Print the converted face models' differences from MediaPipe's .tflite files (max and mean, per model and photo).

Needs ai-edge-litert and a mediapipe 0.10.21 wheel or installation (see motionkit.testing.face_parity); the attention
mesh, whose custom operators only MediaPipe runs, is compared with MediaPipe's graph by tests/face/test_face_parity.py::

    python benchmarks/face_parity.py
"""

from __future__ import annotations

import numpy as np

from motionkit.testing.face_parity import (
    INTERPRETER_MODELS,
    interpreter_runner,
    mediapipe_source,
    model_input,
    photos,
    torch_outputs,
)


def main() -> None:
    source = mediapipe_source()
    if source is None:
        raise SystemExit("no mediapipe 0.10.21 found: pip download --no-deps mediapipe==0.10.21 and set the source")
    run = interpreter_runner(source)
    images = photos()
    print(f"{'model':28s} {'photo':14s} {'output':8s} {'max |diff|':>11s} {'mean |diff|':>11s} {'max |ref|':>10s}")
    for model in INTERPRETER_MODELS:
        for photo, image in images.items():
            x = model_input(model, image)
            for index, (ours, ref) in enumerate(zip(torch_outputs(model, x), run(model, x))):
                diff = np.abs(ours.astype(np.float64) - ref)
                figures = f"{diff.max():11.3g} {diff.mean():11.3g} {np.abs(ref).max():10.3g}"
                print(f"{model:28s} {photo:14s} {index:<8d} {figures}")


if __name__ == "__main__":
    main()
