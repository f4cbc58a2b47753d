"""Face analyzers: the synthetic analyzer against ground truth (clean and degraded), the landmark geometry."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import data

from motionkit.data.synthetic import FaceParams, SyntheticWorld
from motionkit.errors import ImageError, ShapeError
from motionkit.eval.face import LandmarkFaceAnalyzer, SyntheticFaceAnalyzer, check_frames, landmark_measurements
from motionkit.eval.face.landmarks import FACEMESH_POINTS
from motionkit.eval.metrics import pearson


def degrade(frames: np.ndarray, seed: int = 0, blur: float = 0.8, noise: float = 0.02, quality: int = 70) -> np.ndarray:
    """Blur (sigma in pixels at 128 px), Gaussian noise (share of full scale) and JPEG compression."""
    rng = np.random.default_rng(seed)
    sigma = blur * frames.shape[1] / 128
    out = []
    for frame in frames:
        x = ndimage.gaussian_filter(frame.astype(np.float32), (sigma, sigma, 0))
        x = np.clip(x + rng.normal(0, noise * 255, x.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(x).save(buffer, "JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer)))
    return np.stack(out)


@pytest.fixture(scope="module")
def world128() -> SyntheticWorld:
    return SyntheticWorld(size=128)


@pytest.fixture(scope="module")
def clip128(world128: SyntheticWorld):  # type: ignore[no-untyped-def]
    return world128.clip(seed=203, seconds=5.0)


@pytest.fixture(scope="module")
def analyzer128(clip128) -> SyntheticFaceAnalyzer:  # type: ignore[no-untyped-def]
    return SyntheticFaceAnalyzer(identity=clip128.identity)


def test_mouth_yaw_pitch_on_ground_truth_renders(clip128, analyzer128: SyntheticFaceAnalyzer) -> None:  # type: ignore[no-untyped-def]
    measured = analyzer128.measure(clip128.frames)
    truth = clip128.params
    assert measured.found.all()
    assert pearson(measured.mouth_open, truth.mouth_open) >= 0.97
    assert np.abs(measured.mouth_open[truth.mouth_open < 0.02]).max() < 0.1, "closed mouths measure as closed"
    assert np.mean(np.abs(measured.yaw - truth.yaw)) < 2.0
    assert np.mean(np.abs(measured.pitch - truth.pitch)) < 1.5
    assert pearson(measured.blink, truth.blink) > 0.8


def test_analyzer_is_robust_to_blur_noise_and_jpeg(clip128, analyzer128: SyntheticFaceAnalyzer) -> None:  # type: ignore[no-untyped-def]
    measured = analyzer128.measure(degrade(clip128.frames))
    truth = clip128.params
    assert measured.found.all()
    assert pearson(measured.mouth_open, truth.mouth_open) >= 0.95
    assert np.mean(np.abs(measured.yaw - truth.yaw)) < 3.0
    assert np.mean(np.abs(measured.pitch - truth.pitch)) < 2.0


def test_generic_calibration_at_64_pixels() -> None:
    """Without the identity: several faces, 64 px. Correlations hold; absolute pitch has a per-face offset."""
    world = SyntheticWorld(size=64)
    analyzer = SyntheticFaceAnalyzer()
    for seed in (300, 301):
        clip = world.clip(seed, 4.0)
        measured = analyzer.measure(clip.frames)
        assert pearson(measured.mouth_open, clip.params.mouth_open) > 0.93
        assert pearson(measured.yaw, clip.params.yaw) > 0.9
        assert np.mean(np.abs(measured.yaw - clip.params.yaw)) < 3.0
        assert np.percentile(measured.mouth_open[clip.params.mouth_open < 0.02], 95) < 0.15


def test_pose_sweeps_are_monotonic(world128: SyntheticWorld, analyzer128: SyntheticFaceAnalyzer, clip128) -> None:  # type: ignore[no-untyped-def]
    angles = np.linspace(-20, 20, 9).astype(np.float32)
    for name in ("yaw", "pitch"):
        sweep = FaceParams.neutral(angles.size).replace(**{name: angles})
        measured = getattr(analyzer128.measure(world128.render(clip128.identity, sweep)), name)
        assert (np.diff(measured) > 0).all(), name
        assert np.abs(measured - angles).max() < 2.5, name


def test_check_frames_errors() -> None:
    with pytest.raises(ImageError, match="uint8"):
        check_frames(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ImageError, match=r"\(T, H, W, 3\)"):
        check_frames(np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ImageError, match="too small"):
        check_frames(np.zeros((1, 16, 16, 3), np.uint8))
    assert check_frames(np.zeros((64, 64, 3), np.uint8)).shape == (1, 64, 64, 3)


def test_analyzer_reports_nan_without_a_face() -> None:
    blank = np.full((3, 64, 64, 3), 90, np.uint8)
    measured = SyntheticFaceAnalyzer().measure(blank)
    assert not measured.found.any()
    assert np.isnan(measured.yaw).all()


# ----------------------------------------------------------------------------------------- landmark geometry
def _landmarks(yaw: float, pitch: float, mouth_gap: float, eye_gap: float) -> np.ndarray:
    """A FaceMesh-like point set (only the indices the geometry reads are placed), posed by yaw and pitch."""
    canonical = np.zeros((FACEMESH_POINTS, 3))
    canonical[234] = (-70, 0, 30)  # cheeks, behind the face plane
    canonical[454] = (70, 0, 30)
    canonical[10] = (0, -90, 20)  # forehead (image y grows downwards)
    canonical[152] = (0, 90, 20)  # chin
    canonical[61], canonical[291] = (-25, 50, 0), (25, 50, 0)
    canonical[13], canonical[14] = (0, 50 - mouth_gap / 2, 0), (0, 50 + mouth_gap / 2, 0)
    for upper, lower, outer, inner, x in ((159, 145, 33, 133, -30), (386, 374, 263, 362, 30)):
        canonical[outer], canonical[inner] = (x - 12 * np.sign(x) * -1, -20, 0), (x + 12 * np.sign(x) * -1, -20, 0)
        canonical[upper], canonical[lower] = (x, -20 - eye_gap / 2, 0), (x, -20 + eye_gap / 2, 0)
    # camera: x right, y down, z away from the camera. Yaw > 0 turns the nose (-z) to +x; pitch > 0 lifts the chin.
    a, b = np.radians(yaw), np.radians(pitch)
    turn = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    lift = np.array([[1, 0, 0], [0, np.cos(b), np.sin(b)], [0, -np.sin(b), np.cos(b)]])
    return canonical @ (lift @ turn).T + np.array([200.0, 200.0, 0.0])


def test_landmark_geometry_recovers_pose_mouth_and_blink() -> None:
    frames = [
        _landmarks(0, 0, 0, 10),
        _landmarks(20, 0, 10, 10),
        _landmarks(-15, 10, 25, 2),
        _landmarks(0, -12, 0, 10),
    ]
    measured = landmark_measurements(np.stack(frames))
    assert np.allclose(measured.yaw[[0, 1, 3]], [0, 20, 0], atol=1e-6)
    assert np.allclose(measured.pitch, [0, 0, 10, -12], atol=1e-6)
    assert measured.yaw[2] == pytest.approx(-15, abs=0.5)  # pitch tilts the cheek line only slightly
    # the mouth width is foreshortened by cos(yaw): 10 / (50 cos 20deg)
    assert measured.mouth_open[0] == pytest.approx(0.0)
    assert measured.mouth_open[1] == pytest.approx(0.213, abs=1e-3)
    assert measured.mouth_open[2] > measured.mouth_open[1]
    assert measured.blink[2] > 0.7
    assert measured.blink[0] < 0.1


def test_landmark_geometry_rejects_other_layouts() -> None:
    with pytest.raises(ShapeError, match="468"):
        landmark_measurements(np.zeros((2, 68, 2)))


def test_landmark_analyzer_measures_a_real_face() -> None:
    """The face stack on the astronaut photograph (skimage.data): a frontal smiling face, its mirror image, a blank
    frame. The frames jump between the photograph and its mirror image: each frame must still be measured.
    """
    analyzer = LandmarkFaceAnalyzer()
    face = data.astronaut()
    mirrored = np.ascontiguousarray(face[:, ::-1])
    frames = np.stack([face, mirrored, face, np.zeros_like(face)])
    landmarks = analyzer.landmarks(frames)
    assert landmarks.shape == (4, FACEMESH_POINTS, 3)
    assert np.isfinite(landmarks[:3]).all()
    assert np.isnan(landmarks[3]).all()  # no face in a blank frame
    measured = analyzer.measure(frames)
    assert measured.mouth_open[0] == pytest.approx(0.16, abs=0.04)  # lips apart in a smile
    assert measured.mouth_open[1] == pytest.approx(measured.mouth_open[0], abs=0.03)
    assert abs(measured.yaw[0]) < 5.0  # frontal
    assert measured.yaw[1] == pytest.approx(-measured.yaw[0], abs=2.0)  # the mirror image turns the other way
    assert measured.yaw[2] == pytest.approx(measured.yaw[0], abs=1.0)
