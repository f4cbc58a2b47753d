"""State-dict key checks shared by every loader."""

from __future__ import annotations

import pytest
import torch

from motionkit.errors import CheckpointError
from motionkit.validation import KeyReport, check_keys, raise_for_keys

LAYOUT = {"m.a": (2, 3), "m.b": (4,)}


def test_check_keys_reports_every_kind_of_problem() -> None:
    state = {"m.a": torch.zeros(3, 2), "m.extra": torch.zeros(1), "m.buffer": torch.zeros(9), "other.x": 1}
    report = check_keys(state, LAYOUT, optional={"m.buffer"}, prefix="m.")
    assert report == KeyReport(missing=("m.b",), unexpected=("m.extra",), misshaped=("m.a (3, 2) (expected (2, 3))",))
    assert not report.ok
    assert (
        report.describe()
        == "1 missing: m.b; 1 unexpected: m.extra; 1 with the wrong shape: m.a (3, 2) (expected (2, 3))"
    )


def test_check_keys_floating_rejects_other_dtypes_only_when_asked() -> None:
    state = {"m.a": torch.zeros(2, 3, dtype=torch.int64), "m.b": "weights"}
    assert check_keys(state, LAYOUT).misshaped == ("m.b (a str) (expected a tensor of shape (4,))",)
    assert check_keys(state, LAYOUT, floating=True).misshaped == (
        "m.a (dtype int64) (expected a floating-point tensor)",
        "m.b (a str) (expected a tensor of shape (4,))",
    )


def test_raise_for_keys_lists_everything_in_one_error() -> None:
    raise_for_keys(check_keys({"m.a": torch.zeros(2, 3), "m.b": torch.zeros(4)}, LAYOUT), "unused", "unused")
    report = check_keys({f"m.x{i}": torch.zeros(1) for i in range(10)}, LAYOUT)
    with pytest.raises(CheckpointError) as info:
        raise_for_keys(report, "w.safetensors does not match", "Export it again.")
    assert str(info.value) == (
        "w.safetensors does not match: 2 missing: m.a, m.b; 10 unexpected: m.x0, m.x1, m.x2, m.x3, m.x4, m.x5, "
        "m.x6, m.x7, ... (+2 more). Export it again."
    )
