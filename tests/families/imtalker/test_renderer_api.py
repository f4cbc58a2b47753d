"""The IMTalker renderer's checkpoint mapping and argument checks (no fixture needed: zeros and random weights)."""

from __future__ import annotations

import pytest
import torch

from motionkit import MotionTrack
from motionkit.errors import CheckpointError, ConfigError, ShapeError
from motionkit.families.imtalker.checkpoints import RENDERER_PREFIX
from motionkit.families.imtalker.renderer import IMTalkerPortrait, IMTalkerRenderer
from motionkit.families.imtalker.renderer_attention import (
    WINDOW,
    GuidedResampler,
    merge_windows,
    partition_windows,
    relative_position_index,
    shifted_window_mask,
)
from motionkit.families.imtalker.renderer_official import (
    official_renderer_report,
    renderer_from_official,
    renderer_layout,
)
from motionkit.protocols import PortraitRenderer


def official_zeros() -> dict[str, torch.Tensor]:
    """A checkpoint-shaped state dict: every renderer entry (zeros), a constructor buffer and foreign entries."""
    entries: dict[str, torch.Tensor] = {RENDERER_PREFIX + k: torch.zeros(s) for k, s in renderer_layout().items()}
    entries[RENDERER_PREFIX + "frame_decoder.transformer_blocks.3.blocks.1.attn_mask"] = torch.zeros(256, 64, 64)
    entries[RENDERER_PREFIX + "dense_feature_encoder.equalconv.weight"] = torch.zeros(512, 512, 3, 3)
    entries["disc.convs.0.weight"] = torch.zeros(3)
    entries["criterion_vgg.vgg.0.weight"] = torch.zeros(3)
    return entries


def test_a_complete_checkpoint_reports_nothing() -> None:
    assert official_renderer_report(official_zeros()).ok


def test_every_mismatch_is_named_in_one_error() -> None:
    entries = official_zeros()
    del entries["gen.adapt.in_layer.weight"]
    entries["gen.adapt.extra.weight"] = torch.zeros(1)
    entries["gen.imt.2.block_efc.q_proj.weight"] = torch.zeros(128, 128)
    entries["gen.latent_token_decoder.const"] = torch.zeros(1, 32, 4, 4, dtype=torch.int64)
    with pytest.raises(CheckpointError) as error:
        renderer_from_official(entries)
    message = str(error.value)
    for part in (
        "gen.adapt.in_layer.weight",
        "gen.adapt.extra.weight",
        "gen.imt.2.block_efc.q_proj.weight (128, 128) (expected (256, 256))",
        "gen.latent_token_decoder.const (dtype int64)",
        "renderer.ckpt",
    ):
        assert part in message
    assert "disc." not in message


def test_swin_index_and_mask_are_swins() -> None:
    index = relative_position_index(WINDOW)
    assert index.shape == (WINDOW**2, WINDOW**2)
    assert int(index[0, 0]) == (WINDOW - 1) * (2 * WINDOW - 1) + WINDOW - 1  # zero offset: the table's centre
    assert int(index.max()) == (2 * WINDOW - 1) ** 2 - 1
    mask = shifted_window_mask(16, WINDOW, WINDOW // 2)
    assert mask.shape == (4, WINDOW**2, WINDOW**2)
    assert not mask[0].any()  # the top-left window lies in one region
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    x = torch.randn(2, 16, 24, 5)
    torch.testing.assert_close(merge_windows(partition_windows(x, WINDOW), 2, 16, 24, WINDOW), x, rtol=0, atol=0)


def test_guided_resampler_copies_block_means() -> None:
    """Every pixel of query cell q gets the mean of the source block at key cell k*(q)."""
    ratio, grid = 2, 4
    resampler = GuidedResampler(ratio)
    feature = torch.randn(1, 3, grid * ratio, grid * ratio)
    index = torch.randint(0, grid * grid, (2, grid * grid))
    out = resampler(index, resampler.source(feature))
    assert out.shape == (2, 3, grid * ratio, grid * ratio)
    for n in range(2):
        for q in range(grid * grid):
            k = int(index[n, q])
            ky, kx, qy, qx = k // grid, k % grid, q // grid, q % grid
            block = feature[0, :, ky * ratio : (ky + 1) * ratio, kx * ratio : (kx + 1) * ratio].mean(dim=(1, 2))
            cell = out[n, :, qy * ratio : (qy + 1) * ratio, qx * ratio : (qx + 1) * ratio]
            torch.testing.assert_close(cell, block[:, None, None].expand_as(cell))


@pytest.fixture(scope="module")
def renderer() -> IMTalkerRenderer:
    torch.manual_seed(0)
    return IMTalkerRenderer().eval()


def test_is_a_portrait_renderer(renderer: IMTalkerRenderer) -> None:
    assert isinstance(renderer, PortraitRenderer)
    assert renderer.latent_dim == 32
    assert renderer.space.dim == 32


def test_bad_images_are_refused(renderer: IMTalkerRenderer) -> None:
    with pytest.raises(ShapeError, match=r"takes \(batch, 3, 512, 512\)"):
        renderer.encode(torch.zeros(1, 3, 256, 256))
    with pytest.raises(ShapeError, match=r"RGB in \[0, 1\]"):
        renderer.encode_motion(torch.full((1, 3, 512, 512), -0.5))


def test_bad_render_arguments_are_refused(renderer: IMTalkerRenderer) -> None:
    portrait = _fake_portrait()
    with pytest.raises(ShapeError, match="IMTalker draws 32-d"):
        renderer.render(portrait, MotionTrack(torch.zeros(1, 2, 16)))
    with pytest.raises(ConfigError, match="chunk_size"):
        renderer.render(portrait, MotionTrack(torch.zeros(1, 2, 32)), chunk_size=0)
    with pytest.raises(ConfigError, match="precision"):
        renderer.render(portrait, MotionTrack(torch.zeros(1, 2, 32)), precision="int8")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="IMTalkerPortrait"):
        renderer.render(object(), MotionTrack(torch.zeros(1, 2, 32)))  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="guide must be"):
        renderer.decode_details(portrait, torch.zeros(2, 32), guide=torch.zeros(1, 4096, dtype=torch.long))


def _fake_portrait() -> IMTalkerPortrait:
    """A portrait-shaped value for argument checks (checks run before anything is decoded)."""
    keys = torch.zeros(1, 8, 4096, 16)
    return IMTalkerPortrait(
        image=torch.zeros(1, 3, 512, 512),
        features=(),
        identity=torch.zeros(1, 512),
        motion=torch.zeros(1, 32),
        adapted=torch.zeros(1, 32),
        motion_maps=(),
        coarse=((keys, keys),) * 4,
        fine=(),
    )
