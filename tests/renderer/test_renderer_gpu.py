"""The renderer on CUDA: float32 agrees with the CPU, reduced precision stays close, parity holds on the GPU."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from motionkit import MotionTrack
from motionkit.config import RendererConfig
from motionkit.families.float.layout import renderer_from_official
from motionkit.renderer import Renderer
from motionkit.testing import parity_fixture
from motionkit.testing.tolerances import assert_rounding_close

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _no_tf32() -> Iterator[None]:
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


def test_cuda_matches_cpu(
    tiny_renderer: Renderer,
    portraits: torch.Tensor,
    decode_depth: int,
    warped_magnitude: Callable[[torch.Tensor, torch.Tensor], float],
) -> None:
    latents = 0.3 * torch.randn(4, 32)
    with torch.no_grad():
        cpu, cpu_grid = tiny_renderer.decode(tiny_renderer.encode(portraits[:1]), latents)
        gpu_renderer = tiny_renderer.to("cuda")
        gpu, gpu_grid = gpu_renderer.decode(gpu_renderer.encode(portraits[:1].cuda()), latents.cuda())
    # TF32 is off: cuDNN and the CPU sum the same float32 products in their own orders
    assert_rounding_close(gpu.cpu(), cpu, depth=decode_depth, magnitude=warped_magnitude(cpu, cpu_grid))
    assert_rounding_close(gpu_grid.cpu(), cpu_grid, depth=decode_depth)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_render(tiny_renderer: Renderer, portraits: torch.Tensor, precision: str) -> None:
    renderer = tiny_renderer.to("cuda")
    source = renderer.encode(portraits[:1].cuda())
    track = MotionTrack(0.3 * torch.randn(1, 6, 32, device="cuda"))
    full = torch.cat(list(renderer.render(source, track, chunk_size=4)), dim=1)
    low = torch.cat(list(renderer.render(source, track, chunk_size=4, precision=precision)), dim=1)  # type: ignore[arg-type]
    assert low.dtype == torch.float32
    assert float((low - full).square().mean().sqrt()) < 0.05


@pytest.mark.parity
def test_parity_on_cuda(float_weights_for: Callable[[RendererConfig], dict[str, torch.Tensor]]) -> None:
    fixture = parity_fixture()
    renderer = renderer_from_official(float_weights_for(RendererConfig()), RendererConfig()).to("cuda")
    source = renderer.encode(fixture.tensor("input_image").cuda())
    fixture.assert_close("enc_s_r", source.identity)
    fixture.assert_close("enc_r_s", source.motion)
    with torch.no_grad():
        image, grid = renderer.decode(source, source.motion)
    fixture.assert_close("dec_img_sr_plus_rs", image)
    fixture.assert_close("dec_flow_sr_plus_rs", grid)
