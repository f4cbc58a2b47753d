"""The synthetic-weight generator reproduces every tensor of the parity fixture's weights_check.json."""

from __future__ import annotations

import math

import pytest
import torch

from motionkit.testing import parity_fixture, synthetic_tensor, synthetic_weight_rule

pytestmark = pytest.mark.parity


def test_rules_match_fixture_kinds() -> None:
    fixture = parity_fixture()
    for entry in fixture.weights_check:
        rule = synthetic_weight_rule(entry["key"], entry["shape"])
        assert rule.kind == entry["kind"], entry["key"]
        if entry["std"] is not None:
            std = list(rule.std) if isinstance(rule.std, tuple) else rule.std
            assert std == pytest.approx(entry["std"]), entry["key"]
            assert rule.offset == entry["offset"], entry["key"]


def test_generated_tensors_match_checksums() -> None:
    fixture = parity_fixture()
    for entry in fixture.weights_check:
        tensor = synthetic_tensor(entry["key"], entry["shape"])
        assert tensor.dtype == torch.float32
        values = tensor.double()
        assert math.isclose(float(values.sum()), entry["sum"], rel_tol=1e-9, abs_tol=1e-6), entry["key"]
        assert math.isclose(float((values**2).sum()), entry["sum_sq"], rel_tol=1e-9, abs_tol=1e-6), entry["key"]
        assert tensor.flatten()[:3].tolist() == entry["first"], entry["key"]
        assert float(tensor.flatten()[-1]) == entry["last"], entry["key"]
