"""Parity with the official FLOAT motion auto-encoder at 512 px (synthetic weights, ../shared/float-parity).

Weights are regenerated from the renderer's own key names with the fixture's recipe; the input image is loaded
from the shipped PNG with motionkit's loader. Every compared tensor must be inside the manifest tolerances.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from motionkit import MotionTrack, SourceFace
from motionkit.config import RendererConfig
from motionkit.families.float.layout import RENDERER_PREFIX as FLOAT_PREFIX
from motionkit.families.float.layout import renderer_from_official
from motionkit.io import image_to_tensor, load_image
from motionkit.renderer import Renderer
from motionkit.renderer.layers import ModulatedConv2d
from motionkit.testing import ParityFixture, parity_fixture

pytestmark = pytest.mark.parity

FEATURE_NAMES = ("enc_feat0_8x8", "enc_feat1_16x16", "enc_feat2_32x32")


@pytest.fixture(scope="module")
def fixture() -> ParityFixture:
    return parity_fixture()


@pytest.fixture(scope="module")
def renderer(
    fixture: ParityFixture, float_weights_for: Callable[[RendererConfig], dict[str, torch.Tensor]]
) -> Renderer:
    return renderer_from_official(float_weights_for(RendererConfig()), RendererConfig())


@pytest.fixture(scope="module")
def source(renderer: Renderer, fixture: ParityFixture) -> SourceFace:
    return renderer.encode(fixture.tensor("input_image"))


def test_weight_keys_are_the_official_ones(fixture: ParityFixture) -> None:
    with torch.device("meta"):
        layout = Renderer().state_dict()
    ours = {FLOAT_PREFIX + k: tuple(v.shape) for k, v in layout.items()}
    assert ours == fixture.shapes(FLOAT_PREFIX)


def test_loader_reproduces_the_input_image(fixture: ParityFixture) -> None:
    image = image_to_tensor(load_image(fixture.image_path))
    fixture.assert_close("input_image", image)
    assert torch.equal(image, fixture.tensor("input_image"))


def test_encoder(renderer: Renderer, source: SourceFace, fixture: ParityFixture) -> None:
    fixture.assert_close("enc_s_r", source.identity)
    fixture.assert_close("enc_lambda", source.coefficients)
    fixture.assert_close("enc_r_s", source.motion)
    fixture.assert_close("enc_Q", renderer.space.basis)
    for name, feature in zip(FEATURE_NAMES, source.features):
        fixture.assert_close(name, feature)


def test_encoder_feature_statistics(source: SourceFace, fixture: ParityFixture) -> None:
    means, stds = [], []
    for level, feature in enumerate(source.features):
        values = feature[0].double()
        fixture.assert_close(f"enc_feat{level}_chan_mean", values.mean(dim=(1, 2)))
        fixture.assert_close(f"enc_feat{level}_chan_std", values.std(dim=(1, 2), correction=0))
        means.append(values.mean())
        stds.append(values.std(correction=0))
    fixture.assert_close("enc_feats_mean", torch.stack(means))
    fixture.assert_close("enc_feats_std", torch.stack(stds))


@pytest.mark.parametrize("form", ["per_sample", "shared"])
def test_decoder(renderer: Renderer, source: SourceFace, fixture: ParityFixture, form: str) -> None:
    """Both evaluations of the modulated convolution (CPU default and GPU default) stay inside the tolerances."""
    for module in renderer.modules():
        if isinstance(module, ModulatedConv2d):
            module.weight_form = form  # type: ignore[assignment]
    try:
        with torch.no_grad():
            image, grid = renderer.decode(source, source.motion)
    finally:
        for module in renderer.modules():
            if isinstance(module, ModulatedConv2d):
                module.weight_form = "auto"
    fixture.assert_close("dec_img_sr_plus_rs", image)
    fixture.assert_close("dec_flow_sr_plus_rs", grid)


def test_rendered_frames_of_the_sampled_motion(renderer: Renderer, source: SourceFace, fixture: ParityFixture) -> None:
    """The pipeline's path: render(source, track) of the fixture's sampled motion r_d gives the official frames."""
    motion = fixture.tensor("sample_r_d")  # (1, T, 512): the official sampler's output
    indices = fixture.tensor("frame_indices").tolist()
    track = MotionTrack(motion[:, indices])
    frames = torch.cat(list(renderer.render(source, track, chunk_size=2)), dim=1)[0]
    for frame, name in zip(frames, ("frame_first", "frame_second", "frame_mid", "frame_last")):
        fixture.assert_close(name, frame)


@pytest.mark.slow
def test_statistics_of_all_frames(renderer: Renderer, source: SourceFace, fixture: ParityFixture) -> None:
    motion = fixture.tensor("sample_r_d")
    frames = torch.cat(list(renderer.render(source, MotionTrack(motion), chunk_size=4)), dim=1)[0].double()
    fixture.assert_close("frames_mean", frames.mean(dim=(1, 2, 3)))
    fixture.assert_close("frames_std", frames.std(dim=(1, 2, 3), correction=0))
    fixture.assert_close("frames_chan_mean", frames.mean(dim=(2, 3)))
    fixture.assert_close("frames_chan_std", frames.std(dim=(2, 3), correction=0))
