"""Training objective: loss definition, draw order, condition dropout, gradients, and that training works."""

from __future__ import annotations

import pytest
import torch

from motionkit.config import FlowConfig
from motionkit.errors import ShapeError
from motionkit.flow import ConditionDropout, FlowTransformer, VectorFieldInputs, flow_matching_loss


def _batch(config: FlowConfig, batch: int = 4, seed: int = 0) -> dict[str, torch.Tensor | VectorFieldInputs]:
    """``x1`` and the ``inputs`` of :func:`flow_matching_loss`."""
    g = torch.Generator().manual_seed(seed)
    L, Lc = config.window, config.context
    x1 = torch.randn(batch, L, config.motion_dim, generator=g)
    inputs = VectorFieldInputs(
        wa=torch.randn(batch, L, config.audio_dim, generator=g),
        wr=torch.randn(batch, config.motion_dim, generator=g),
        we=torch.softmax(torch.randn(batch, 1, config.emotion_dim, generator=g), -1),
        prev_x=torch.randn(batch, Lc, config.motion_dim, generator=g),
        prev_wa=torch.randn(batch, Lc, config.audio_dim, generator=g),
    )
    return {"x1": x1, "inputs": inputs}


class ZeroField:
    """Predicts v = 0 everywhere and records what it was given."""

    def __init__(self, config: FlowConfig) -> None:
        self.config = config
        self.seen: dict[str, torch.Tensor] = {}

    def __call__(self, x, t, inputs):
        self.seen = dict(x=x, t=t, **dict(zip(VectorFieldInputs.names(), inputs.tensors())))
        return torch.zeros(x.shape[0], self.config.sequence_length, x.shape[2])


def test_loss_definition_and_draw_order(tiny_config):
    """With v = 0: L_OT = mean(u^2), L_vel = mean((u[i+1] - u[i])^2), u = x1 - x0; t then x0 from the generator."""
    batch = _batch(tiny_config)
    model = ZeroField(tiny_config)
    out = flow_matching_loss(model, **batch, generator=torch.Generator().manual_seed(7))
    replay = torch.Generator().manual_seed(7)
    t = torch.rand(4, generator=replay)
    x0 = torch.randn(batch["x1"].shape, generator=replay)
    u = batch["x1"] - x0
    torch.testing.assert_close(out.ot, u.pow(2).mean())
    torch.testing.assert_close(out.vel, (u[:, 1:] - u[:, :-1]).pow(2).mean())
    torch.testing.assert_close(out.total, out.ot + out.vel)
    torch.testing.assert_close(model.seen["t"], t)
    torch.testing.assert_close(model.seen["x"], (1 - t[:, None, None]) * x0 + t[:, None, None] * batch["x1"])


def test_only_current_frames_are_scored(tiny_config):
    class ContextNoise(ZeroField):
        def __call__(self, x, t, inputs):
            out = super().__call__(x, t, inputs)
            out[:, : self.config.context] = 100.0
            return out

    batch = _batch(tiny_config)
    generator_seed = 3
    plain = flow_matching_loss(ZeroField(tiny_config), **batch, generator=torch.Generator().manual_seed(generator_seed))
    noisy = flow_matching_loss(
        ContextNoise(tiny_config), **batch, generator=torch.Generator().manual_seed(generator_seed)
    )
    torch.testing.assert_close(plain.total, noisy.total)


def test_boundary_velocity_scores_the_step_into_the_window(tiny_config):
    """With v = 0 the boundary term of a kept-context sample is u[:, 0]^2, averaged with the interior steps;
    samples whose context is dropped add no term, and the OT loss is unchanged."""
    batch = _batch(tiny_config)
    config = tiny_config.model_copy(update={"boundary_velocity": True, "context_dropout": 0.5})
    plain = flow_matching_loss(
        ZeroField(tiny_config),
        **batch,
        config=config.model_copy(update={"boundary_velocity": False}),
        generator=torch.Generator().manual_seed(7),
    )
    out = flow_matching_loss(ZeroField(tiny_config), **batch, config=config, generator=torch.Generator().manual_seed(7))
    replay = torch.Generator().manual_seed(7)
    torch.rand(4, generator=replay)
    x0 = torch.randn(batch["x1"].shape, generator=replay)
    kept = ~ConditionDropout.draw(4, config, replay).prev_x
    assert 0 < int(kept.sum()) < 4  # the seed exercises both cases
    u = batch["x1"] - x0
    steps = (u[:, 1:] - u[:, :-1]).pow(2)
    boundary = u[kept, 0].pow(2)
    torch.testing.assert_close(out.vel, (steps.sum() + boundary.sum()) / (steps.numel() + boundary.numel()))
    torch.testing.assert_close(out.ot, plain.ot)
    torch.testing.assert_close(plain.vel, steps.mean())
    padded = torch.ones(4, tiny_config.context, dtype=torch.bool)
    padded[:, -1] = False  # every window starts a clip: its context is zero padding, no boundary to score
    at_start = flow_matching_loss(
        ZeroField(tiny_config), **batch, config=config, generator=torch.Generator().manual_seed(7), context_valid=padded
    )
    torch.testing.assert_close(at_start.vel, plain.vel)
    weighted = flow_matching_loss(
        ZeroField(tiny_config),
        **batch,
        config=config.model_copy(update={"boundary_velocity_weight": 4.0}),
        generator=torch.Generator().manual_seed(7),
    )
    expected = (steps.sum() + 4 * boundary.sum()) / (steps.numel() + 4 * boundary.numel())
    torch.testing.assert_close(weighted.vel, expected)


def test_axis_loss_weights_weigh_each_dimension_in_both_losses(tiny_config):
    """With v = 0 and weights w (rescaled to mean 1): L_OT = mean(w_d u^2), L_vel and its boundary term weighted
    alike; equal weights are the unweighted loss."""
    batch = _batch(tiny_config)
    D = tiny_config.motion_dim
    raw = tuple(float(d + 1) for d in range(D))
    config = tiny_config.model_copy(update={"boundary_velocity": True, "axis_loss_weights": raw})
    out = flow_matching_loss(ZeroField(tiny_config), **batch, config=config, generator=torch.Generator().manual_seed(7))
    replay = torch.Generator().manual_seed(7)
    torch.rand(4, generator=replay)
    x0 = torch.randn(batch["x1"].shape, generator=replay)
    kept = ~ConditionDropout.draw(4, config, replay).prev_x
    u = batch["x1"] - x0
    w = torch.tensor(raw) / (sum(raw) / D)
    steps = (u[:, 1:] - u[:, :-1]).pow(2) * w
    boundary = u[kept, 0].pow(2) * w
    weight = config.boundary_velocity_weight
    torch.testing.assert_close(out.ot, (u.pow(2) * w).mean())
    torch.testing.assert_close(
        out.vel, (steps.sum() + weight * boundary.sum()) / (steps.numel() + weight * boundary.numel())
    )
    equal = flow_matching_loss(
        ZeroField(tiny_config),
        **batch,
        config=config.model_copy(update={"axis_loss_weights": (3.0,) * D}),
        generator=torch.Generator().manual_seed(7),
    )
    plain = flow_matching_loss(
        ZeroField(tiny_config),
        **batch,
        config=config.model_copy(update={"axis_loss_weights": None}),
        generator=torch.Generator().manual_seed(7),
    )
    torch.testing.assert_close(equal.total, plain.total)


@pytest.mark.parametrize("weights", [(1.0,), (1.0, 0.0), (1.0, -1.0), (1.0, float("nan")), (1.0, float("inf"))])
def test_axis_loss_weights_are_checked(weights):
    with pytest.raises(ValueError, match="axis_loss_weights must be 2 positive numbers"):
        FlowConfig(motion_dim=2, axis_loss_weights=weights)


def test_loss_weights_and_time_sampler(tiny_config):
    batch = _batch(tiny_config)
    model = ZeroField(tiny_config)
    config = tiny_config.model_copy(update={"ot_loss_weight": 2.0, "velocity_loss_weight": 0.0})

    def data_time(n, generator, device):
        return torch.ones(n, device=device)

    out = flow_matching_loss(model, **batch, config=config, time_sampler=data_time, generator=torch.Generator())
    torch.testing.assert_close(out.total, 2 * out.ot)
    assert torch.equal(model.seen["x"], batch["x1"])  # t = 1 is the data end of the path


def test_config_found_through_a_wrapper(tiny_config):
    class Wrapper:
        def __init__(self, module):
            self.module = module

        def __call__(self, *args, **kwargs):
            return self.module(*args, **kwargs)

    config = tiny_config.model_copy(update={"audio_dropout": 1.0})
    model = ZeroField(config)
    flow_matching_loss(Wrapper(model), **_batch(tiny_config), generator=torch.Generator())
    assert torch.count_nonzero(model.seen["wa"]) == 0


def test_dropout_rates_and_independence(tiny_config):
    drop = ConditionDropout.draw(40_000, tiny_config, torch.Generator().manual_seed(0))
    for name, p in [("audio", 0.1), ("reference", 0.1), ("emotion", 0.1), ("prev_x", 0.5), ("prev_wa", 0.5)]:
        rate = getattr(drop, name).float().mean().item()
        assert rate == pytest.approx(p, abs=4 * (p * (1 - p) / 40_000) ** 0.5), name
    both = (drop.prev_x & drop.prev_wa).float().mean().item()
    assert both == pytest.approx(0.25, abs=0.01)
    assert (drop.audio & drop.emotion).float().mean().item() == pytest.approx(0.01, abs=0.003)


def test_dropout_probabilities_come_from_config(tiny_config):
    config = tiny_config.model_copy(
        update={"audio_dropout": 1.0, "reference_dropout": 0.0, "emotion_dropout": 1.0, "context_dropout": 0.0}
    )
    drop = ConditionDropout.draw(64, config, torch.Generator().manual_seed(1))
    assert drop.audio.all()
    assert drop.emotion.all()
    assert not drop.reference.any()
    assert not drop.prev_x.any()
    assert not drop.prev_wa.any()


def test_dropout_zeroes_whole_samples_and_keeps_inputs(tiny_config):
    batch = _batch(tiny_config, batch=64)
    drop = ConditionDropout.draw(64, tiny_config, torch.Generator().manual_seed(2))
    inputs = batch["inputs"]
    names = VectorFieldInputs.names()
    originals = [value.clone() for value in inputs.tensors()]
    dropped = drop.apply(inputs).tensors()
    for name, mask, original, new in zip(
        names, (drop.audio, drop.reference, drop.emotion, drop.prev_x, drop.prev_wa), originals, dropped
    ):
        assert torch.equal(getattr(inputs, name), original)
        flat = new.reshape(64, -1)
        assert (flat[mask] == 0).all(), name
        assert torch.equal(flat[~mask], original.reshape(64, -1)[~mask]), name


def test_model_sees_dropped_conditions(tiny_config):
    batch = _batch(tiny_config, batch=256)
    model = ZeroField(tiny_config)
    flow_matching_loss(model, **batch, generator=torch.Generator().manual_seed(4))
    replay = torch.Generator().manual_seed(4)
    torch.rand(256, generator=replay)
    torch.randn(batch["x1"].shape, generator=replay)
    drop = ConditionDropout.draw(256, tiny_config, replay)
    assert drop.prev_x.any()
    assert drop.audio.any()
    assert torch.equal(model.seen["prev_x"].reshape(256, -1).abs().sum(1) == 0, drop.prev_x)
    assert torch.equal(model.seen["wa"].reshape(256, -1).abs().sum(1) == 0, drop.audio)


def test_gradients_reach_every_parameter(tiny_config, randomize):
    model = randomize(FlowTransformer(tiny_config), seed=2)
    out = flow_matching_loss(model, **_batch(tiny_config), generator=torch.Generator().manual_seed(0))
    out.total.backward()
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
            assert param.grad.abs().sum() > 0, name
    assert model.pos_embed.grad is None


def test_training_lowers_the_loss(tiny_config):
    torch.manual_seed(0)
    model = FlowTransformer(tiny_config)
    batch = _batch(tiny_config, batch=8, seed=5)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)

    def loss() -> torch.Tensor:
        return flow_matching_loss(model, **batch, generator=torch.Generator().manual_seed(0)).total

    initial = loss().item()
    for _ in range(40):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert loss().item() < 0.6 * initial


def test_deterministic_with_seeded_generator(tiny_config, randomize):
    model = randomize(FlowTransformer(tiny_config))
    batch = _batch(tiny_config)
    first = flow_matching_loss(model, **batch, generator=torch.Generator().manual_seed(9))
    second = flow_matching_loss(model, **batch, generator=torch.Generator().manual_seed(9))
    assert torch.equal(first.total, second.total)


def test_errors(tiny_config):
    batch = _batch(tiny_config)
    model = ZeroField(tiny_config)
    with pytest.raises(ShapeError, match="the time sampler returned 3 times for a batch of 4"):
        flow_matching_loss(model, **batch, time_sampler=lambda n, g, d: torch.rand(3))
    with pytest.raises(ShapeError, match="at least 2 frames"):
        flow_matching_loss(model, **dict(batch, x1=batch["x1"][:, :1]))
