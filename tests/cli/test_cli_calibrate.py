"""``motionkit calibrate``: named axes measured with the face stack on rendered frames, on the shipped demo model
(whose axes are known from its synthetic world) and on a model whose renders are no faces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from motionkit.assets import demo_model_path
from motionkit.cli import EXIT_INPUT, EXIT_OUTPUT, main
from motionkit.model_folder import AXES_FILE
from motionkit.pipeline import Pipeline
from motionkit.pipeline.calibrate import CALIBRATION_FILE, MEASURED_AXES

SAMPLES = 24
"""Motion samples: enough above the M + 2 = 12 the fit needs for R^2 to mean something, few enough to be quick."""


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("calibrate") / "demo"
    shutil.copytree(demo_model_path(), folder)
    code = main(["calibrate", "--model", str(folder), "--samples", str(SAMPLES), "--quiet"])
    assert code == 0
    return folder, (folder / CALIBRATION_FILE).read_text(encoding="utf-8")


def test_calibration_recovers_the_demo_models_known_turn_and_roll(calibrated: tuple[Path, str]) -> None:
    """The demo model's yaw and roll axes come from its synthetic world's known angles (yaw also rescaled to what the
    renderer draws). Measured by the face stack on the 64-px renders, the calibrated yaw points the same way (cosine
    0.96 measured) with a scale within 25 % of the known one (0.88 measured: a yaw sweep of the known axis over
    +-20 degrees reads +-22 on the stack, the two angle conventions' gain), and roll within 40 degrees of direction
    (cosine 0.79: the known roll axis kept the encoder's scale and was never rendered-checked)."""
    folder, _ = calibrated
    known = Pipeline.from_pretrained(demo_model_path()).motion_space
    space = known.load_axes(folder / AXES_FILE)
    for name, min_cosine, scale_range in (("yaw", 0.9, (0.75, 1.25)), ("roll", 0.7, (0.5, 1.5))):
        axis, reference = space.axis(name), known.axis(name)
        assert axis.unit == "deg"
        assert float(axis.vector() @ reference.vector()) > min_cosine
        assert scale_range[0] < axis.scale / reference.scale < scale_range[1]


def test_fit_quality_is_stored_and_poorly_read_axes_keep_the_models_own(calibrated: tuple[Path, str]) -> None:
    folder, text = calibrated
    record = json.loads(text)
    assert record["rendered"] == SAMPLES
    assert 12 <= record["measured"] <= SAMPLES
    assert set(record["axes"]) == set(MEASURED_AXES)
    for name, fit in record["axes"].items():
        assert fit["unit"] == MEASURED_AXES[name]
        assert fit["kept"] == (fit["r2"] >= 0.5)
    assert record["axes"]["yaw"]["r2"] > 0.95
    assert record["axes"]["roll"]["r2"] > 0.9
    # the stack does not read the drawn eyes' blink: the eyes axis is not written, the model's blink axis stays
    assert not record["axes"]["eyes"]["kept"]
    known = Pipeline.from_pretrained(demo_model_path()).motion_space
    space = known.load_axes(folder / AXES_FILE)
    assert "eyes" not in space.axes
    assert space.axis("blink") == known.axis("blink")


def test_renders_that_are_no_faces_are_a_clear_error(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_model, folder)
    code = main(["calibrate", "--model", str(folder), "--samples", "10", "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT
    assert "found a face in only 0 of the 10 rendered frames" in err
    assert "needs at least" in err
    assert not (folder / CALIBRATION_FILE).exists()
    # fewer samples than the fit needs: refused before anything is rendered
    code = main(["calibrate", "--model", str(folder), "--samples", "4", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0
    assert "8 motion coefficients needs at least 10 measured frames, but 1 portrait(s) x 4 samples" in err


@pytest.mark.parametrize("model", [None, "synthetic-demo"])
def test_a_shipped_model_is_not_overwritten(capsys: pytest.CaptureFixture[str], model: str | None) -> None:
    before = (demo_model_path() / AXES_FILE).read_bytes()
    code = main(["calibrate", "--quiet", *([] if model is None else ["--model", model])])
    err = capsys.readouterr().err
    assert code == EXIT_OUTPUT
    assert "is a model shipped inside motionkit, which calibration does not overwrite; copy it first" in err
    assert (demo_model_path() / AXES_FILE).read_bytes() == before
