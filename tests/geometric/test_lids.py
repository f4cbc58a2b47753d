"""Drawn eyelids: a blink covers the eye with lid skin, touches only the eye boxes, and leaves blink 0 untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionkit.eval.face import LandmarkFaceAnalyzer
from motionkit.eval.geometric import CLOSED_EAR, CLOSED_SHARE_DRAWN, eye_aspect_ratios
from motionkit.geometric import AXIS_NAMES, GeometricConfig, GeometricPortrait, GeometricRenderer, PortraitGeometry
from motionkit.geometric.lids import EYES, draw_lids


def params(**values: float) -> np.ndarray:
    out = np.zeros((1, len(AXIS_NAMES)))
    for name, value in values.items():
        out[0, AXIS_NAMES.index(name)] = value
    return out


@pytest.mark.parametrize("blinks", [(0.0, 0.0), (-0.5, 0.0), (0.0, -0.3)])
def test_an_eye_that_does_not_close_is_left_as_the_warp_drew_it(
    astronaut_portrait: GeometricPortrait, blinks: tuple[float, float]
) -> None:
    image = torch.rand(astronaut_portrait.image.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    drawn = image.clone()
    draw_lids(drawn, astronaut_portrait.mesh.points[:, :2], blinks, GeometricConfig())
    assert torch.equal(drawn, image)


@pytest.mark.parametrize("blink", [0.3, 1.0])
def test_the_lids_touch_only_their_eye_box(astronaut_portrait: GeometricPortrait, blink: float) -> None:
    """Changed pixels lie between the outer edges of the skin bands above and below the grown eye, across the grown
    eye's length, and only at the eye that blinks."""
    config = GeometricConfig()
    image = astronaut_portrait.image.clone()
    positions = astronaut_portrait.mesh.points[:, :2]
    draw_lids(image, positions, (blink, 0.0), config)
    changed = (image != astronaut_portrait.image).any(dim=0).nonzero().numpy()[:, ::-1] + 0.5
    assert len(changed) > 0
    upper, lower, (outer, inner) = EYES[0]
    width = float(np.linalg.norm(positions[inner] - positions[outer]))
    along = (positions[inner] - positions[outer]) / width
    normal = np.array([-along[1], along[0]]) * np.sign(along[0])
    u = (changed - positions[outer]) @ along / width
    v = (changed - positions[outer]) @ normal
    lids = (positions[[*upper, *lower]] - positions[outer]) @ normal
    reach = (config.lid_margin + config.lid_band) * width
    pixel = np.sqrt(0.5)  # a pixel centre lies within half a diagonal of the continuous region it samples
    assert u.min() >= -config.lid_corner_reach - pixel / width
    assert u.max() <= 1.0 + config.lid_corner_reach + pixel / width
    assert v.min() >= min(lids.min(), 0.0) - reach - pixel
    assert v.max() <= max(lids.max(), 0.0) + reach + pixel


def test_lids_move_continuously_with_the_blink(astronaut_portrait: GeometricPortrait) -> None:
    """No flicker: a blink step of 0.01 changes the eye box by far less than a step of 0.2."""
    positions = astronaut_portrait.mesh.points[:, :2]

    def drawn(blink: float) -> torch.Tensor:
        image = astronaut_portrait.image.clone()
        draw_lids(image, positions, (blink, blink), GeometricConfig())
        return image

    small = (drawn(0.51) - drawn(0.5)).abs().mean()
    large = (drawn(0.7) - drawn(0.5)).abs().mean()
    assert 0 < small < 0.1 * large


@pytest.fixture(scope="module")
def refined() -> LandmarkFaceAnalyzer:
    return LandmarkFaceAnalyzer(refined=True)


def _ears(renderer: GeometricRenderer, portrait: GeometricPortrait, reader: LandmarkFaceAnalyzer) -> np.ndarray:
    """``(3, 2)`` eye aspect ratios at blink 0, 0.5 and 1 (both eyes), each frame read on its own."""
    values = np.concatenate([params(), params(blink_left=0.5, blink_right=0.5), params(blink_left=1, blink_right=1)])
    frames = renderer.render_frames(portrait, values)
    return eye_aspect_ratios(np.stack([reader.landmarks(frame[None])[0] for frame in frames]))


def test_blink_one_closes_the_astronauts_eyes(
    renderer: GeometricRenderer, astronaut_portrait: GeometricPortrait, refined: LandmarkFaceAnalyzer
) -> None:
    open_, half, closed = _ears(renderer, astronaut_portrait, refined)
    assert (closed < CLOSED_EAR).all()
    assert (closed < half).all()
    assert (half < open_).all()


def test_blink_one_closes_grace_hoppers_eyes_behind_her_glasses(
    renderer: GeometricRenderer, hopper: np.ndarray, hopper_geometry: PortraitGeometry, refined: LandmarkFaceAnalyzer
) -> None:
    portrait = renderer.encode_portrait(hopper, geometry=hopper_geometry)
    open_, half, closed = _ears(renderer, portrait, refined)
    assert (closed < CLOSED_SHARE_DRAWN * open_).all()
    assert (closed < half).all()
    assert (half < open_).all()


@pytest.mark.parametrize("values", [{"lid_sag": 0.2}, {"lid_margin": 0.0, "lid_sag": 0.0}, {"lid_band": -0.1}])
def test_lid_settings_out_of_range_are_refused(values: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="drawn lids need"):
        GeometricConfig(**values)
