"""Learning-rate schedules and the weight EMA."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from motionkit.errors import CheckpointError, ConfigError
from motionkit.train.ema import EMA
from motionkit.train.schedules import LRSchedule


def test_schedule_values() -> None:
    assert [LRSchedule("constant", 10)(s) for s in (0, 5, 9)] == [1.0, 1.0, 1.0]
    warm = LRSchedule("warmup_constant", 10, warmup_steps=4)
    assert [warm(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    cosine = LRSchedule("warmup_cosine", 12, warmup_steps=2, min_ratio=0.1)
    assert cosine(0) == 0.5
    assert cosine(1) == 1.0
    assert cosine(2) == 1.0
    assert cosine(7) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert cosine(12) == pytest.approx(0.1)
    assert cosine(100) == pytest.approx(0.1)
    assert LRSchedule("warmup_cosine", 4)(0) == 1.0  # no warm-up


@given(st.integers(1, 500), st.integers(0, 100), st.floats(0, 1), st.sampled_from(["warmup_constant", "warmup_cosine"]))
def test_schedule_properties(total: int, warmup: int, ratio: float, name: str) -> None:
    schedule = LRSchedule(name, total, min(warmup, total), ratio)  # type: ignore[arg-type]
    values = [schedule(s) for s in range(total + 2)]
    assert all(min(ratio, 1 / max(1, warmup)) - 1e-12 <= v <= 1.0 for v in values)
    w = min(warmup, total)
    assert all(a <= b for a, b in itertools.pairwise(values[:w]))  # warm-up rises
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(values[w:]))  # then never rises


def test_schedule_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="min_ratio"):
        LRSchedule("warmup_cosine", 10, min_ratio=2.0)
    with pytest.raises(ConfigError, match="total_steps"):
        LRSchedule("constant", 0)


def _module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))


def test_ema_update_formula_with_and_without_warmup() -> None:
    module = _module()
    ema = EMA({"m": module}, 0.9, warmup=False)
    start = module[0].weight.detach().clone()
    with torch.no_grad():
        module[0].weight.add_(1.0)
        module[1].running_mean.fill_(7.0)
    ema.update()
    expected = 0.9 * start + 0.1 * (start + 1.0)
    torch.testing.assert_close(ema.shadow["m"]["0.weight"], expected)
    assert torch.equal(ema.shadow["m"]["1.running_mean"], torch.full((3,), 7.0))  # buffers copied
    warm = EMA({"m": _module()}, 0.999)
    assert [warm.current_decay() for _ in range(1)] == [0.1]
    warm.update()
    assert warm.current_decay() == pytest.approx(2 / 11)


def test_ema_swapped_restores_the_training_weights() -> None:
    module = _module()
    ema = EMA({"m": module}, 0.5, warmup=False)
    with torch.no_grad():
        module[0].weight.mul_(3.0)
    ema.update()
    trained = module[0].weight.detach().clone()
    with ema.swapped():
        assert torch.equal(module[0].weight, ema.shadow["m"]["0.weight"])
    assert torch.equal(module[0].weight, trained)
    with pytest.raises(RuntimeError), ema.swapped():
        raise RuntimeError
    assert torch.equal(module[0].weight, trained)


def test_ema_load_checks_the_names() -> None:
    ema = EMA({"m": _module()}, 0.5)
    other = EMA({"m": _module()}, 0.5)
    other.update()
    ema.load(other.shadow, other.updates)
    assert ema.updates == 1
    assert torch.equal(ema.shadow["m"]["0.weight"], other.shadow["m"]["0.weight"])
    with pytest.raises(CheckpointError, match="no EMA weights for module 'm'"):
        ema.load({}, 0)
    with pytest.raises(CheckpointError, match="lack"):
        ema.load({"m": {}}, 0)
