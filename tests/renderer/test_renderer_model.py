"""Renderer: official layout and weight loading, encode / decode / render contracts, training path, bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from motionkit import MotionTrack, SourceFace
from motionkit.config import RendererConfig
from motionkit.errors import CheckpointError, ConfigError, NonFiniteError, ShapeError
from motionkit.families.float.layout import official_renderer_entries, renderer_from_official
from motionkit.renderer import Renderer
from motionkit.renderer.layers import ModulatedConv2d
from motionkit.renderer.reference import synthesis_reference
from motionkit.space import MotionSpace, orthonormal_basis
from motionkit.testing.tolerances import assert_rounding_close

Magnitude = Callable[[torch.Tensor, torch.Tensor], float]
"""The ``warped_magnitude`` fixture: ``M`` of decoded frames from the frames and their sampling grid."""

FLOAT_512_PARAMETERS = 177
"""Parameters of FLOAT's motion auto-encoder (212 checkpoint entries minus 35 FIR-kernel buffers)."""


def test_float_512_layout_has_the_official_keys() -> None:
    with torch.device("meta"):
        renderer = Renderer()
    shapes = {k: tuple(v.shape) for k, v in renderer.state_dict().items()}
    assert len(shapes) == FLOAT_512_PARAMETERS
    assert shapes["enc.net_app.convs.0.0.weight"] == (32, 3, 1, 1)
    assert shapes["enc.net_app.convs.1.conv2.1.weight"] == (64, 32, 3, 3)
    assert shapes["enc.net_app.convs.7.skip.1.weight"] == (512, 512, 1, 1)
    assert shapes["enc.net_app.convs.8.weight"] == (512, 512, 4, 4)
    assert shapes["enc.fc.4.weight"] == (20, 512)
    assert shapes["dec.direction.weight"] == (512, 20)
    assert shapes["dec.input.input"] == (1, 512, 4, 4)
    assert shapes["dec.to_rgb1.conv.0.weight"] == (3, 512, 1, 1)
    assert shapes["dec.convs.13.conv.weight"] == (1, 32, 32, 3, 3)
    assert shapes["dec.convs.12.activate.bias"] == (1, 32, 1, 1)
    assert shapes["dec.to_flows.6.conv.weight"] == (1, 3, 32, 1, 1)
    assert shapes["dec.conv1.noise.weight"] == (1,)
    assert not any(k.endswith("kernel") for k in shapes), "FIR kernels are rebuilt, never saved"
    params = sum(v.numel() for v in renderer.state_dict().values())
    assert params == 22_726_420 + 22_513_700 - 35 * 16  # enc + dec numel of the key file minus the buffers


def test_float_state_dict_round_trip(tiny_config: RendererConfig, tiny_weights: dict[str, torch.Tensor]) -> None:
    renderer = renderer_from_official(tiny_weights, tiny_config)
    exported = official_renderer_entries(renderer)
    assert exported.keys() == tiny_weights.keys()
    for key, value in tiny_weights.items():
        assert torch.equal(exported[key], value), key
    assert all(k.startswith("motion_autoencoder.") for k in exported)


def test_loading_ignores_other_components_and_buffers(
    tiny_config: RendererConfig, tiny_weights: dict[str, torch.Tensor]
) -> None:
    full = dict(tiny_weights)
    full["fmt.blocks.0.attn.qkv.weight"] = torch.zeros(3, 3)
    full["audio_encoder.audio_projection.0.bias"] = torch.zeros(3)
    full["motion_autoencoder.enc.net_app.convs.1.conv2.0.kernel"] = torch.zeros(4, 4)
    full["motion_autoencoder.dec.to_flows.0.upsample.kernel"] = torch.zeros(4, 4)
    renderer = renderer_from_official(full, tiny_config)
    kernel = renderer.enc.net_app.convs[1].conv2[0].kernel
    assert float(kernel.sum()) == pytest.approx(1.0), "buffers come from the constructor, not the file"


def test_weight_mismatches_are_reported_together(
    tiny_config: RendererConfig, tiny_weights: dict[str, torch.Tensor]
) -> None:
    broken = dict(tiny_weights)
    del broken["motion_autoencoder.enc.fc.0.weight"]
    del broken["motion_autoencoder.dec.to_rgb1.bias"]
    broken["motion_autoencoder.dec.extra.weight"] = torch.zeros(1)
    broken["motion_autoencoder.dec.direction.weight"] = torch.zeros(32, 9)
    with pytest.raises(CheckpointError) as info:
        renderer_from_official(broken, tiny_config)
    message = str(info.value)
    assert "2 missing" in message
    assert "motion_autoencoder.enc.fc.0.weight" in message
    assert "motion_autoencoder.dec.to_rgb1.bias" in message
    assert "1 unexpected: motion_autoencoder.dec.extra.weight" in message
    assert "motion_autoencoder.dec.direction.weight (32, 9) (expected (32, 8))" in message
    assert "RendererConfig" in message


def test_weights_of_another_layout_are_rejected(tiny_weights: dict[str, torch.Tensor]) -> None:
    with pytest.raises(CheckpointError, match=r"missing.*wrong shape"):
        renderer_from_official(tiny_weights, RendererConfig())  # float-512 layout
    with pytest.raises(CheckpointError, match=r"unexpected: enc\.fc\.0\.weight"):
        renderer_from_official({"enc.fc.0.weight": torch.zeros(1)}, RendererConfig(size=64))
    with pytest.raises(CheckpointError, match="mapping"):
        renderer_from_official([1, 2], RendererConfig(size=64))  # type: ignore[arg-type]


def test_encode_outputs(tiny_renderer: Renderer, portraits: torch.Tensor, tiny_config: RendererConfig) -> None:
    source = tiny_renderer.encode(portraits)
    assert isinstance(source, SourceFace)
    assert source.identity.shape == (2, tiny_config.latent_dim)
    assert source.coefficients.shape == (2, tiny_config.motion_dim)
    torch.testing.assert_close(source.motion, tiny_renderer.space.compose(source.coefficients))
    assert [tuple(f.shape) for f in source.features] == [
        (2, 32, 8, 8),
        (2, 32, 16, 16),
        (2, 16, 32, 32),
        (2, 8, 64, 64),
    ]
    assert source.image is portraits
    assert not source.identity.requires_grad


def test_space_is_the_decoder_basis(tiny_renderer: Renderer) -> None:
    space = tiny_renderer.space
    assert isinstance(space, MotionSpace)
    assert torch.equal(space.basis, orthonormal_basis(tiny_renderer.dec.direction.weight.detach()))


def test_decode_matches_the_official_form(
    tiny_renderer: Renderer, portraits: torch.Tensor, decode_depth: int, warped_magnitude: Magnitude
) -> None:
    source = tiny_renderer.encode(portraits[:1])
    latents = source.motion + 0.3 * torch.randn(3, source.motion.shape[1])
    with torch.no_grad():
        frames, grid = tiny_renderer.decode(source, latents)
        features = [f.expand(3, -1, -1, -1) for f in source.features]
        expected, expected_grid = synthesis_reference(tiny_renderer.dec, source.identity + latents, features)
    assert frames.shape == (3, 3, 64, 64)
    assert grid.shape == (3, 64, 64, 2)
    # the official form modulates weights per sample and convolves in groups: another order of the same sums
    assert_rounding_close(frames, expected, depth=decode_depth, magnitude=warped_magnitude(expected, expected_grid))
    assert_rounding_close(grid, expected_grid, depth=decode_depth)


@pytest.mark.parametrize("form", ["per_sample", "shared"])
def test_batched_decode_equals_frame_by_frame(
    tiny_renderer: Renderer, portraits: torch.Tensor, form: str, decode_depth: int, warped_magnitude: Magnitude
) -> None:
    for module in tiny_renderer.modules():
        if isinstance(module, ModulatedConv2d):
            module.weight_form = form  # type: ignore[assignment]
    source = tiny_renderer.encode(portraits[:1])
    latents = 0.3 * torch.randn(4, source.motion.shape[1])
    with torch.no_grad():
        batched, grid = tiny_renderer.decode(source, latents)
        single = torch.cat([tiny_renderer.decode(source, latents[i : i + 1])[0] for i in range(4)])
    assert_rounding_close(batched, single, depth=decode_depth, magnitude=warped_magnitude(single, grid))


def test_decode_with_one_source_per_latent(
    tiny_renderer: Renderer, portraits: torch.Tensor, decode_depth: int, warped_magnitude: Magnitude
) -> None:
    sources = tiny_renderer.encode(portraits)
    latents = 0.2 * torch.randn(2, sources.motion.shape[1])
    with torch.no_grad():
        both, _ = tiny_renderer.decode(sources, latents)
        second, grid = tiny_renderer.decode(tiny_renderer.encode(portraits[1:]), latents[1:])
    assert_rounding_close(both[1:], second, depth=decode_depth, magnitude=warped_magnitude(second, grid))


def test_render_streams_chunks_that_equal_decode(
    tiny_renderer: Renderer, portraits: torch.Tensor, decode_depth: int, warped_magnitude: Magnitude
) -> None:
    source = tiny_renderer.encode(portraits[:1])
    track = MotionTrack(0.3 * torch.randn(2, 7, source.motion.shape[1]))
    passes: list[int] = []
    hook = tiny_renderer.dec.register_forward_hook(lambda _m, args, _o: passes.append(int(args[0].shape[0])))
    try:
        chunks = list(tiny_renderer.render(source, track, chunk_size=3, frames_per_pass=3))
        assert max(passes) == 3, "the decoder never sees more than chunk_size frames"
        passes.clear()
        per_frame = list(tiny_renderer.render(source, track, chunk_size=3))
        assert max(passes) == 1, "on CPU the default decodes one frame per pass"
    finally:
        hook.remove()
    assert [tuple(c.shape) for c in chunks] == [(2, 3, 3, 64, 64), (2, 3, 3, 64, 64), (2, 1, 3, 64, 64)]
    frames = torch.cat(chunks, dim=1)
    with torch.no_grad():
        decoded = [tiny_renderer.decode(source, track.latents[b]) for b in range(2)]
    expected = torch.stack([frames for frames, _ in decoded])
    magnitude = max(warped_magnitude(f, grid) for f, grid in decoded)
    # passes of 3 frames, of 1 frame and of 7: other batch sizes, other blockings of the same sums
    assert_rounding_close(torch.cat(per_frame, dim=1), frames, depth=decode_depth, magnitude=magnitude)
    assert_rounding_close(frames, expected, depth=decode_depth, magnitude=magnitude)


def test_render_is_lazy(tiny_renderer: Renderer, portraits: torch.Tensor) -> None:
    source = tiny_renderer.encode(portraits[:1])
    calls: list[int] = []
    hook = tiny_renderer.dec.register_forward_hook(lambda *_: calls.append(1))
    try:
        chunks = tiny_renderer.render(source, MotionTrack(torch.zeros(1, 10, 32)), chunk_size=2)
        assert not calls
        next(chunks)
        assert len(calls) == 2, "only the first chunk (2 frames, one pass each on CPU) of 10 frames is decoded"
    finally:
        hook.remove()


def test_render_per_portrait_sources(
    tiny_renderer: Renderer, portraits: torch.Tensor, decode_depth: int, warped_magnitude: Magnitude
) -> None:
    sources = tiny_renderer.encode(portraits)
    track = MotionTrack(torch.stack([sources.motion, sources.motion], dim=1))  # (2, 2, D)
    (chunk,) = list(tiny_renderer.render(sources, track, chunk_size=4))
    with torch.no_grad():
        reconstruction = tiny_renderer(portraits, portraits)
        _, grid = tiny_renderer.decode(sources, sources.motion)
    magnitude = warped_magnitude(reconstruction, grid)
    assert_rounding_close(chunk[:, 0], reconstruction, depth=decode_depth, magnitude=magnitude)
    torch.testing.assert_close(chunk[:, 1], chunk[:, 0], rtol=0, atol=0)  # the same latents in one pass: equal


def test_reduced_precision_and_channels_last(
    tiny_renderer: Renderer, portraits: torch.Tensor, decode_depth: int, warped_magnitude: Magnitude
) -> None:
    source = tiny_renderer.encode(portraits[:1])
    latents = 0.3 * torch.randn(2, source.motion.shape[1])
    with torch.no_grad():
        reference, grid = tiny_renderer.decode(source, latents, channels_last=False)
        channels_last, _ = tiny_renderer.decode(source, latents, channels_last=True)
        low, low_grid = tiny_renderer.decode(source, latents, precision="bfloat16")
    assert_rounding_close(channels_last, reference, depth=decode_depth, magnitude=warped_magnitude(reference, grid))
    assert low.dtype == torch.float32
    pixel = 2 / 64  # grid units per pixel at the 64 x 64 level
    assert float((low_grid - grid).abs().max()) < 0.1 * pixel, "the flow path stays float32 under autocast"
    assert float((low - reference).square().mean().sqrt()) < 0.05
    assert float((low - reference).abs().max()) > 0, "bfloat16 autocast must actually run in low precision"


def test_decode_is_deterministic(tiny_renderer: Renderer, portraits: torch.Tensor) -> None:
    source = tiny_renderer.encode(portraits[:1])
    latents = torch.randn(2, 32)
    with torch.no_grad():
        first, _ = tiny_renderer.decode(source, latents)
        second, _ = tiny_renderer.decode(source, latents)
    assert torch.equal(first, second)


def test_reconstruct_is_the_lia_forward_and_trains(
    tiny_renderer: Renderer, portraits: torch.Tensor, decode_depth: int, warped_magnitude: Magnitude
) -> None:
    source, driving = portraits[:1], portraits[1:]
    frames = tiny_renderer.reconstruct(source, driving)
    assert frames.shape == (1, 3, 64, 64)
    assert frames.requires_grad
    with torch.no_grad():
        src = tiny_renderer.encode(source)
        drv = tiny_renderer.encode(driving)
        expected, grid = tiny_renderer.decode(src, drv.motion)
    assert_rounding_close(frames.detach(), expected, depth=decode_depth, magnitude=warped_magnitude(expected, grid))
    (frames - driving).abs().mean().backward()
    unused = {"dec.to_rgb1.conv.0.weight", "dec.to_rgb1.conv.1.bias", "dec.to_rgb1.bias"}
    for name, param in tiny_renderer.named_parameters():
        if name in unused or name.endswith("noise.weight"):
            assert param.grad is None, name
            continue
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert float(param.grad.abs().sum()) > 0, name


def test_bad_images_are_rejected(tiny_renderer: Renderer, portraits: torch.Tensor) -> None:
    with pytest.raises(ShapeError, match=r"must be in \[-1, 1\].*image_to_tensor"):
        tiny_renderer.encode(portraits * 3)
    with pytest.raises(ShapeError, match=r"\(batch, 3, 64, 64\).*crop_portrait"):
        tiny_renderer.encode(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ShapeError, match="4 dimensions"):
        tiny_renderer.encode(torch.zeros(3, 64, 64))
    with pytest.raises(ShapeError, match="dtype uint8"):
        tiny_renderer.encode(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(NonFiniteError):
        tiny_renderer.encode(torch.full((1, 3, 64, 64), float("nan")))
    with pytest.raises(ShapeError, match="pair every source"):
        tiny_renderer(portraits, portraits[:1])


def test_bad_decode_and_render_arguments(tiny_renderer: Renderer, portraits: torch.Tensor) -> None:
    sources = tiny_renderer.encode(portraits)
    one = tiny_renderer.encode(portraits[:1])
    with pytest.raises(ShapeError, match="last dimension 32"):
        tiny_renderer.decode(one, torch.zeros(2, 31))
    with pytest.raises(ShapeError, match="source has batch 2 but 3 latents"):
        tiny_renderer.decode(sources, torch.zeros(3, 32))
    with pytest.raises(ConfigError, match="precision"):
        tiny_renderer.decode(one, torch.zeros(1, 32), precision="float8")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="latent dimension 16"):
        tiny_renderer.render(one, MotionTrack(torch.zeros(1, 2, 16)))
    with pytest.raises(ShapeError, match="source has batch 2 but the track has batch 3"):
        tiny_renderer.render(sources, MotionTrack(torch.zeros(3, 2, 32)))
    with pytest.raises(ConfigError, match="chunk_size"):
        tiny_renderer.render(one, MotionTrack(torch.zeros(1, 2, 32)), chunk_size=0)
    with pytest.raises(ConfigError, match="frames_per_pass"):
        tiny_renderer.render(one, MotionTrack(torch.zeros(1, 2, 32)), frames_per_pass=0)
    with pytest.raises(ConfigError, match="precision"):
        tiny_renderer.render(one, MotionTrack(torch.zeros(1, 2, 32)), precision="half")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="MotionTrack"):
        tiny_renderer.render(one, torch.zeros(1, 2, 32))  # type: ignore[arg-type]
    other = Renderer(RendererConfig(size=64, latent_dim=32, motion_dim=8, channel_base=256, max_channels=16))
    with pytest.raises(ShapeError, match="encode the portrait with this renderer"):
        other.decode(one, torch.zeros(1, 32))
    with pytest.raises(ShapeError, match="SourceFace"):
        tiny_renderer.decode(portraits, torch.zeros(1, 32))  # type: ignore[arg-type]


def test_inputs_are_not_modified(tiny_renderer: Renderer, portraits: torch.Tensor) -> None:
    images = portraits.clone()
    source = tiny_renderer.encode(images)
    latents = torch.randn(2, 32)
    kept = latents.clone()
    with torch.no_grad():
        tiny_renderer.decode(source, latents)
    assert torch.equal(images, portraits)
    assert torch.equal(latents, kept)


def test_identity_warp_initialisation_starts_at_the_identity_and_still_learns() -> None:
    from motionkit.renderer.layers import identity_grid

    torch.manual_seed(0)
    renderer = Renderer(RendererConfig(size=64, latent_dim=32, motion_dim=8, channel_base=256, max_channels=32))
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    source = renderer.encode(images)
    _, random_grid = renderer.decode(source, source.motion)
    identity = identity_grid(64)
    assert float((random_grid - identity).detach().abs().max()) > 0.05  # LIA's random start warps far from the identity

    assert renderer.init_identity_warps() is renderer
    _, grid = renderer.decode(source, source.motion)
    assert torch.equal(grid, identity.expand_as(grid))
    frames = renderer(images, images.flip(0))
    frames.square().mean().backward()
    for head in renderer.dec.to_flows:
        assert not head.conv.weight.detach().any()
        assert head.conv.weight.grad is not None
        assert float(head.conv.weight.grad.abs().max()) > 0.0


def test_source_copy_initialisation_decodes_the_source_and_still_learns() -> None:
    torch.manual_seed(0)
    renderer = Renderer(RendererConfig(size=64, latent_dim=32, motion_dim=8, channel_base=256, max_channels=32))
    # smooth images, compared inside a 2-pixel border: FLOAT's identity grid samples half a pixel outwards at the
    # borders (zero padding there), so only smooth interiors are copied exactly
    coarse = torch.rand(2, 3, 8, 8) * 2 - 1
    images = torch.nn.functional.interpolate(coarse, size=64, mode="bilinear", align_corners=False)
    drivers = images.flip(0)
    with torch.no_grad():
        before = renderer(images, drivers)
    assert float((before - images).abs().mean()) > 0.3  # a random renderer does not copy its source

    assert renderer.init_source_copy() is renderer
    frames = renderer(images, drivers)  # whatever the driver, the start is the source
    interior = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    assert float((frames - images)[interior].abs().mean().detach()) < 0.04  # the half-pixel zoom of the identity grid
    frames.square().mean().backward()
    for head in renderer.dec.to_rgbs:
        grad = head.conv[0].weight.grad
        assert grad is not None
        assert grad.abs().sum() > 0
