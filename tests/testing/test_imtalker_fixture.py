"""The IMTalker fixture plumbing: the weight recipe reproduces weights_check.json, the summaries reproduce the stored
statistics, and the comparison rules (outlier share, index mismatch share) accept and reject as the README states."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from motionkit.testing.imtalker_parity import ImtalkerFixture, imtalker_fixture, summaries
from motionkit.testing.imtalker_weights import (
    GENERATOR_PREFIX,
    RENDERER_PREFIX,
    imtalker_tensor,
    imtalker_weight_rule,
    is_generated,
)
from motionkit.testing.parity import compare_to_reference, locate_fixture

pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def fixture() -> ImtalkerFixture:
    return imtalker_fixture()


def test_rules_match_fixture_kinds(fixture: ImtalkerFixture) -> None:
    assert len(fixture.weights_check) == 1045
    for entry in fixture.weights_check:
        rule = imtalker_weight_rule(entry["key"], entry["shape"])
        assert rule.kind == entry["kind"], entry["key"]
        assert rule.std == pytest.approx(entry["std"], rel=1e-12), entry["key"]
        assert rule.offset == entry["offset"], entry["key"]


@pytest.mark.parametrize("prefix", [RENDERER_PREFIX, GENERATOR_PREFIX])
def test_generated_tensors_match_checksums(fixture: ImtalkerFixture, prefix: str) -> None:
    entries = [e for e in fixture.weights_check if e["key"].startswith(prefix)]
    assert entries
    for entry in entries:
        tensor = imtalker_tensor(entry["key"], entry["shape"])
        assert tensor.dtype == torch.float32
        values = tensor.double()
        assert math.isclose(float(values.sum()), entry["sum"], rel_tol=1e-9, abs_tol=1e-6), entry["key"]
        assert math.isclose(float((values**2).sum()), entry["sum_sq"], rel_tol=1e-9, abs_tol=1e-6), entry["key"]
        assert tensor.flatten()[:3].tolist() == entry["first"], entry["key"]
        assert float(tensor.flatten()[-1]) == entry["last"], entry["key"]


def test_constructor_buffers_are_not_generated() -> None:
    for key in ("gen.frame_decoder.transformer_blocks.3.blocks.1.attn_mask", "model.fmt.rotary_emb.inv_freq"):
        assert not is_generated(key)
        with pytest.raises(KeyError, match="constructor buffer"):
            imtalker_weight_rule(key, (1,))
    with pytest.raises(KeyError, match="start with"):
        imtalker_weight_rule("enc.weight", (2, 2))


@pytest.mark.parametrize(
    ("full", "summary", "row"),
    [("self_frame", "self_frame", 0), ("vid_frame_0", "vid_frames", 0), ("adrv_frame_last", "adrv_frames", 1)],
)
def test_summaries_reproduce_the_stored_statistics(fixture: ImtalkerFixture, full: str, summary: str, row: int) -> None:
    """Statistics and crops computed from a stored full frame equal the stored ones (same reductions, float64)."""
    computed = summaries(fixture.tensor(full), fixture.tensor(f"{summary}_crop").shape[-1], squeeze=False)
    for name in fixture.summary_names(summary):
        stored = fixture.tensor(name)[row : row + 1]
        torch.testing.assert_close(computed[name[len(summary) + 1 :]], stored, rtol=0, atol=1e-12)


def test_index_tensors_allow_the_stated_share_of_flips(fixture: ImtalkerFixture) -> None:
    reference = fixture.tensor("self_top1_idx")
    allowed = fixture.tolerance("self_top1_idx")["max_mismatch_fraction"]
    flips = int(allowed * reference.numel())
    near = reference.clone()
    near[:flips] = (near[:flips] + 1) % 4096
    assert fixture.compare("self_top1_idx", near).ok
    far = reference.clone()
    far[: flips + 1] = (far[: flips + 1] + 1) % 4096
    result = fixture.compare("self_top1_idx", far)
    assert not result.ok
    assert "indices differ" in result.detail
    assert not fixture.compare("self_top1_idx", reference.double()).ok


def test_frames_allow_the_stated_share_of_outliers(fixture: ImtalkerFixture) -> None:
    reference = fixture.tensor("adrv_frame_last")
    tolerance = fixture.tolerance("adrv_frame_last")
    outliers = int(tolerance["max_frac_gt_1e-3"] * reference.numel())
    near = reference.clone().flatten()
    near[:outliers] += 0.02  # over 1e-3, inside max-abs and rms
    assert compare_to_reference("f", near.view_as(reference), reference, tolerance).ok
    far = reference.clone().flatten()
    far[: outliers + 1] += 0.02
    result = compare_to_reference("f", far.view_as(reference), reference, tolerance)
    assert not result.ok
    assert "fraction of errors > 0.001" in result.detail


def test_missing_fixture_skips_or_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="IMTalker parity fixture not found"):
        locate_fixture(tmp_path, "IMTalker", "MOTIONKIT_IMTALKER_PARITY_DIR")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must run the parity tests"):
        locate_fixture(tmp_path, "IMTalker", "MOTIONKIT_IMTALKER_PARITY_DIR")
