"""CUDA-graph sampling: the same motion as eager sampling, one capture per signature, recapture when weights move.

The GPU tests run where a CUDA device is present; the CPU tests check that the switch is inert off CUDA."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from motionkit.config import GuidanceConfig
from motionkit.errors import ConfigError
from motionkit.flow import FlowSampler, VectorFieldInputs
from motionkit.flow.cuda_graphs import CUDAGraphCache
from motionkit.testing.tolerances import assert_rounding_close

gpu = pytest.mark.gpu


def _pair(config, randomize, device: str) -> tuple[FlowSampler, FlowSampler]:
    eager = randomize(FlowSampler(config), seed=5).eval().to(device)
    graphed = randomize(FlowSampler(config), seed=5).eval().to(device).use_cuda_graphs()
    return eager, graphed


def _close(got: torch.Tensor, expected: torch.Tensor, depth: int) -> None:
    """A replayed graph runs the eager kernels, whose algorithms (and so reduction orders) cuBLAS may choose
    differently under capture: the two differ by rounding only."""
    assert_rounding_close(got, expected, depth=depth)


def test_switch_is_inert_on_cpu(tiny_config, randomize, make_conditions):
    eager, graphed = _pair(tiny_config, randomize, "cpu")
    conditions = make_conditions(tiny_config, 23)
    source = torch.randn(1, tiny_config.motion_dim)
    expected = eager.sample(conditions, source, seed=3).latents
    assert torch.equal(graphed.sample(conditions, source, seed=3).latents, expected)
    assert graphed.graph_cache.captures == 0


def test_copies_start_with_an_empty_cache(tiny_config, randomize):
    sampler = randomize(FlowSampler(tiny_config), seed=5).use_cuda_graphs()
    sampler.graph_cache.captures = 3  # stands for captured graphs, which a copy must not share
    for copy_ in (copy.deepcopy(sampler), pickle.loads(pickle.dumps(sampler))):
        assert copy_.cuda_graphs
        assert copy_.graph_cache is not sampler.graph_cache
        assert copy_.graph_cache.captures == 0
        assert len(copy_.graph_cache) == 0


def test_graphed_field_refuses_cpu_tensors(tiny_config, randomize):
    model = randomize(FlowSampler(tiny_config), seed=5).eval()
    field = CUDAGraphCache().field(model)
    cfg = tiny_config
    with pytest.raises(ConfigError, match="CUDA graphs need CUDA tensors"):
        field(
            torch.zeros(1, cfg.window, cfg.motion_dim),
            0.5,
            VectorFieldInputs(
                wa=torch.zeros(1, cfg.window, cfg.audio_dim),
                wr=torch.zeros(1, cfg.motion_dim),
                we=torch.zeros(1, 1, cfg.emotion_dim),
                prev_x=torch.zeros(1, cfg.context, cfg.motion_dim),
                prev_wa=torch.zeros(1, cfg.context, cfg.audio_dim),
            ),
        )


@gpu
@pytest.mark.parametrize("solver", ["euler", "rk4"])
def test_graphed_sampling_matches_eager(tiny_config, randomize, make_conditions, sample_depth, solver):
    """RK4 keeps four velocities alive at once: the replayed output must be copied, not aliased."""
    eager, graphed = _pair(tiny_config, randomize, "cuda")
    conditions = make_conditions(tiny_config, 2 * tiny_config.window + 3, batch=2).to("cuda")
    source = torch.randn(2, tiny_config.motion_dim, device="cuda")
    expected = eager.sample(conditions, source, seed=7, solver=solver, nfe=4).latents
    _close(graphed.sample(conditions, source, seed=7, solver=solver, nfe=4).latents, expected, sample_depth(4))
    assert graphed.graph_cache.captures == 1


@gpu
def test_one_capture_per_signature(tiny_config, randomize, make_conditions):
    _, graphed = _pair(tiny_config, randomize, "cuda")
    conditions = make_conditions(tiny_config, 3 * tiny_config.window).to("cuda")
    source = torch.randn(1, tiny_config.motion_dim, device="cuda")
    first = graphed.sample(conditions, source, seed=1).latents
    second = graphed.sample(conditions, source, seed=1).latents
    assert torch.equal(first, second)
    assert graphed.graph_cache.captures == 1
    graphed.sample(conditions, source, seed=1, guidance=GuidanceConfig(audio_scale=1.0, emotion_scale=1.0))
    assert graphed.graph_cache.captures == 2  # one branch instead of three: a new batch size
    with torch.autocast("cuda", dtype=torch.bfloat16):
        graphed.sample(conditions, source, seed=1)
    assert graphed.graph_cache.captures == 3  # autocast records other kernels


@gpu
def test_bfloat16_autocast_matches_eager(tiny_config, randomize, make_conditions):
    eager, graphed = _pair(tiny_config, randomize, "cuda")
    conditions = make_conditions(tiny_config, 2 * tiny_config.window).to("cuda")
    source = torch.randn(1, tiny_config.motion_dim, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        expected = eager.sample(conditions, source, seed=2).latents
        got = graphed.sample(conditions, source, seed=2).latents
        again = graphed.sample(conditions, source, seed=2).latents  # replay after the capturing context exited
    # Not the rounding rule: its ~200 bfloat16 roundings are past the rule's range (n u <= 1/4). Both runs launch
    # the same bfloat16 kernels, so they agree far inside one bfloat16 ulp (2^-8 at |v| ~ 1); 1e-3 checks that.
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-3)
    assert torch.equal(got, again)


@gpu
def test_weights_moved_or_updated_are_seen(tiny_config, randomize, make_conditions, sample_depth):
    eager, graphed = _pair(tiny_config, randomize, "cuda")
    conditions = make_conditions(tiny_config, tiny_config.window).to("cuda")
    source = torch.randn(1, tiny_config.motion_dim, device="cuda")
    graphed.sample(conditions, source, seed=4)
    old = [p.data for p in graphed.parameters()]  # held, so that the new copies cannot reuse their addresses
    graphed.cpu().cuda()  # new parameter memory: the old graphs would read stale storage
    assert all(p.data_ptr() != o.data_ptr() for p, o in zip(graphed.parameters(), old))
    _close(
        graphed.sample(conditions, source, seed=4).latents,
        eager.sample(conditions, source, seed=4).latents,
        sample_depth(),
    )
    assert graphed.graph_cache.captures == 2
    randomize(eager, seed=9)
    graphed.load_state_dict(eager.state_dict())  # in place: same addresses, the replay reads the new values
    _close(
        graphed.sample(conditions, source, seed=4).latents,
        eager.sample(conditions, source, seed=4).latents,
        sample_depth(),
    )
    assert graphed.graph_cache.captures == 2


@gpu
def test_streaming_with_graphs_matches_eager_sampling(tiny_config, randomize, make_conditions, sample_depth):
    eager, graphed = _pair(tiny_config, randomize, "cuda")
    conditions = make_conditions(tiny_config, 2 * tiny_config.window + 5).to("cuda")
    source = torch.randn(1, tiny_config.motion_dim, device="cuda")
    expected = eager.sample(conditions, source, seed=6).latents
    chunks = [conditions.slice(0, 7), conditions.slice(7, conditions.frames)]
    streamed = torch.cat([part.latents for part in graphed.stream(chunks, source, seed=6)], dim=1)
    _close(streamed, expected, sample_depth())
    graphed.use_cuda_graphs(False)
    assert len(graphed.graph_cache) == 0
