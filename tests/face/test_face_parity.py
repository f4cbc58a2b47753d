"""The converted face models against MediaPipe's original .tflite files run by ai-edge-litert's interpreter.

Tolerances. Both sides compute in float32 from the same float16 weights (widened exactly), so the difference is
rounding alone: XNNPACK and PyTorch sum each convolution's terms (at most 3 x 3 x 128 = 1152 here) in different
orders. A float32 sum of n terms has a worst-case relative error of about n * 2^-24 and a typical one of
sqrt(n) * 2^-24 ~ 2e-6 of the terms' magnitude; through ~30 layers in sequence the typical error grows to ~1e-5 of
the activations' scale. The landmark outputs are pixels of the 192-px crop (values up to ~200), so 0.02 px
(1e-4 of the crop, 10x below the ~1e-3 of the crop that matters to anyone) bounds them with margin; the detector's
regressors are pixels of its 128/192-px input (same bound); scores are in [0, 1] (sigmoid of logits up to ~100),
bounded by 1e-4. The segmenter is deeper (squeeze-excitation gates, upsampling) and its final logits reach ~20, so
a 1e-5 relative error is 2e-4 in the logit and up to 5e-5 in the probability where it is 0.5; its bound is 1e-3 at a
pixel and 1e-5 on average. Measured maxima: 1.5e-4 px (landmarks), 2e-4 (detector), 1.4e-4 (segmenter
probability), printed by benchmarks/face_parity.py.
"""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pytest
import torch

from motionkit.face.convert import read_source
from motionkit.face.landmarks import (
    EYE_CONTOUR_POINTS,
    MIN_PRESENCE,
    NUM_LANDMARKS,
    NUM_REFINED_LANDMARKS,
    FaceLandmarker,
)
from motionkit.face.measures import LEFT_EYE_EAR, LIPS_INNER, RIGHT_EYE_EAR
from motionkit.face.weights import MODEL_FILES, provenance
from motionkit.testing.face_parity import (
    INTERPRETER_MODELS,
    interpreter_runner,
    landmark_crop,
    mediapipe_landmarks,
    mediapipe_runtime_available,
    mediapipe_source,
    model_input,
    torch_outputs,
)
from motionkit.testing.optional import skip_or_fail

PIXEL_TOL = 0.02
"""Largest difference of a coordinate output, in pixels of the network input (see the module docstring)."""

PROBABILITY_TOL = 1e-4
"""Largest difference of a detector or landmark score (after the sigmoid)."""

MASK_TOL, MASK_MEAN_TOL = 1e-3, 1e-5
"""Largest and mean difference of the segmenter's person probability."""

CI_HINT = (
    "the README's test command downloads the mediapipe 0.10.21 wheel and names it in MOTIONKIT_MEDIAPIPE_SOURCE; "
    "ai-edge-litert comes with the dev extra"
)


@pytest.fixture(scope="module")
def runner():  # type: ignore[no-untyped-def]
    source = mediapipe_source()
    if source is None:
        skip_or_fail("no mediapipe 0.10.21 to read the original .tflite files from", CI_HINT)
    if importlib.util.find_spec("ai_edge_litert") is None:
        skip_or_fail("ai-edge-litert (the TFLite interpreter) is not installed", CI_HINT)
    return interpreter_runner(source)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x.astype(np.float64), -100, 100)))


@pytest.mark.parametrize("model", INTERPRETER_MODELS)
@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper", "demo_portrait", "synthetic"])
def test_converted_model_matches_tflite(runner, images, model: str, photo: str) -> None:  # type: ignore[no-untyped-def]
    x = model_input(model, images[photo])
    expected = runner(model, x)
    actual = torch_outputs(model, x)
    assert [a.shape for a in actual] == [e.shape for e in expected]
    if model.startswith("face_detection"):
        np.testing.assert_allclose(actual[0], expected[0], rtol=0, atol=PIXEL_TOL)
        np.testing.assert_allclose(_sigmoid(actual[1]), _sigmoid(expected[1]), rtol=0, atol=PROBABILITY_TOL)
        assert _sigmoid(expected[1]).max() > 0.5 or photo == "synthetic"  # a real face was in the input
    elif model == "face_landmark":
        np.testing.assert_allclose(actual[0], expected[0], rtol=0, atol=PIXEL_TOL)
        np.testing.assert_allclose(_sigmoid(actual[1]), _sigmoid(expected[1]), rtol=0, atol=PROBABILITY_TOL)
    else:
        np.testing.assert_allclose(actual[0], expected[0], rtol=0, atol=MASK_TOL)
        assert np.abs(actual[0] - expected[0]).mean() < MASK_MEAN_TOL


def test_shipped_weights_record_the_source_files() -> None:
    record = provenance()
    assert record["mediapipe_version"] == "0.10.21"
    assert set(record["files"]) == set(MODEL_FILES.values())  # type: ignore[arg-type]
    source = mediapipe_source()
    if source is None:
        skip_or_fail("no mediapipe 0.10.21 to hash the original .tflite files of", CI_HINT)
    files = read_source(source)
    for member, digest in record["files"].items():  # type: ignore[attr-defined]
        assert hashlib.sha256(files[member]).hexdigest() == digest, member


@pytest.mark.parametrize("refined", [False, True])
@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper", "demo_portrait"])
def test_landmarks_match_mediapipes_own_graph(images, photo: str, refined: bool) -> None:  # type: ignore[no-untyped-def]
    """The attention mesh's custom operators run only inside MediaPipe, so it is checked against MediaPipe's
    ``FaceLandmarkCpu`` subgraph itself (network, operators and refinement) where a developer has mediapipe installed
    (see ``test_pipeline_matches_mediapipe_face_mesh``; CI does not install it). Same tolerance as against the
    interpreter: both sides compute in float32 from the same weights (measured: 1e-4 px)."""
    if not mediapipe_runtime_available():
        pytest.skip("mediapipe 0.10.21 with its runtime packages is not installed (an optional developer cross-check)")
    crop = landmark_crop(images[photo])
    expected = mediapipe_landmarks(crop, refined)
    assert expected is not None
    landmarker = FaceLandmarker(refined)
    with torch.no_grad():
        points, presence = landmarker(torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255)
    assert points.shape[1] == (NUM_REFINED_LANDMARKS if refined else NUM_LANDMARKS)
    np.testing.assert_allclose(points[0].numpy(), expected, rtol=0, atol=PIXEL_TOL)
    assert float(presence[0]) > MIN_PRESENCE


def test_refined_regions_are_mediapipes_refinement_tables() -> None:
    """The points the attention mesh refines (read from its cropping operators) are MediaPipe's tables: lips
    (outer, inner and two rings between, corners first), then each eye's lid contour and four halos to the brow."""
    lips, right_eye, left_eye = FaceLandmarker(refined=True).regions
    assert len(lips) == 80
    assert len(right_eye) == len(left_eye) == 71
    assert lips[:11] == (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)  # lower outer lip, corner to corner
    assert right_eye[:9] == (33, 7, 163, 144, 145, 153, 154, 155, 133)  # lower lid of the image-left eye
    assert left_eye[:9] == (263, 249, 390, 373, 374, 380, 381, 382, 362)
    assert set(RIGHT_EYE_EAR) <= set(right_eye[:EYE_CONTOUR_POINTS])
    assert set(LEFT_EYE_EAR) <= set(left_eye[:EYE_CONTOUR_POINTS])
    assert set(LIPS_INNER) <= set(lips)
