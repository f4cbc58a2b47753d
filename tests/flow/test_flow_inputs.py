"""VectorFieldInputs: the conditions of one vector-field call as one frozen type."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from motionkit.errors import ShapeError
from motionkit.flow import VectorFieldInputs


def _inputs(batch: int = 2, seed: int = 0) -> VectorFieldInputs:
    g = torch.Generator().manual_seed(seed)
    return VectorFieldInputs(
        wa=torch.randn(batch, 5, 3, generator=g),
        wr=torch.randn(batch, 4, generator=g),
        we=torch.rand(batch, 1, 7, generator=g),
        prev_x=torch.randn(batch, 2, 4, generator=g),
        prev_wa=torch.randn(batch, 2, 3, generator=g),
    )


def test_tensors_round_trip_in_name_order() -> None:
    inputs = _inputs()
    assert VectorFieldInputs.names() == ("wa", "wr", "we", "prev_x", "prev_wa")
    again = VectorFieldInputs.from_tensors(inputs.tensors())
    for name in VectorFieldInputs.names():
        assert getattr(again, name) is getattr(inputs, name)
    with pytest.raises(ShapeError, match=r"5 tensors \(wa, wr, we, prev_x, prev_wa\), got 4"):
        VectorFieldInputs.from_tensors(inputs.tensors()[:4])


def test_nulled_zeroes_only_the_named_members_and_keeps_the_input() -> None:
    inputs = _inputs()
    before = [value.clone() for value in inputs.tensors()]
    nulled = inputs.nulled(("wa", "we"))
    assert torch.count_nonzero(nulled.wa) == 0
    assert torch.count_nonzero(nulled.we) == 0
    for name in ("wr", "prev_x", "prev_wa"):
        assert getattr(nulled, name) is getattr(inputs, name)
    for value, original in zip(inputs.tensors(), before):
        assert torch.equal(value, original)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.wa = nulled.wa  # type: ignore[misc]


def test_cat_and_map_act_member_wise() -> None:
    a, b = _inputs(seed=1), _inputs(batch=3, seed=2)
    both = VectorFieldInputs.cat([a, b])
    for name in VectorFieldInputs.names():
        assert torch.equal(getattr(both, name), torch.cat([getattr(a, name), getattr(b, name)]))
    doubled = a.map(lambda value: 2 * value)
    for name in VectorFieldInputs.names():
        assert torch.equal(getattr(doubled, name), 2 * getattr(a, name))
