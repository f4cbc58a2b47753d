"""Training configurations: presets, overrides, validation messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from motionkit.config.train import (
    TRAIN_PRESETS,
    AETrainConfig,
    FlowTrainConfig,
    TrainConfig,
    load_train_config,
    train_config_from_dict,
)
from motionkit.errors import ConfigError


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


def test_preset_with_overrides(tmp_path: Path) -> None:
    config = load_train_config(
        _write(
            tmp_path,
            {"preset": "ae-float-512", "videos": "data/videos", "output_dir": "runs/ae", "losses": {"l1": 2.0}},
        )
    )
    assert isinstance(config, AETrainConfig)
    assert (config.lr, config.batch_size, config.steps) == (2e-4, 8, 460_000)
    assert config.losses.l1 == 2.0
    assert config.losses.adversarial == 1.0
    assert config.resolved_model().renderer.size == 512
    flow = train_config_from_dict({"preset": "flow-tiny", "features": "f", "output_dir": "o", "steps": 50})
    assert isinstance(flow, FlowTrainConfig)
    assert flow.steps == 50
    assert flow.resolved_model().flow.window == 10


def test_every_preset_validates_with_its_data_paths() -> None:
    for name, fields in TRAIN_PRESETS.items():
        data = {"videos": "v"} if fields["kind"] == "ae" else {"features": "f"}
        config = train_config_from_dict({"preset": name, "output_dir": "o", **data})
        assert config.kind == fields["kind"]


def test_configs_are_frozen_and_round_trip_through_json() -> None:
    config = train_config_from_dict({"preset": "ae-tiny", "videos": "v", "output_dir": "o"})
    with pytest.raises(ValidationError):
        config.lr = 1.0  # type: ignore[misc]
    again = train_config_from_dict(json.loads(config.model_dump_json()))
    assert again == config


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"preset": "ae-tiny", "output_dir": "o"}, r"videos: required field is missing"),
        ({"preset": "ae-tiny", "videos": "v", "output_dir": "o", "lrr": 1}, r"lrr: unknown field"),
        ({"preset": "ae-tiny", "videos": "v", "output_dir": "o", "lr": -1}, r"lr: Input should be greater than 0"),
        ({"preset": "nope"}, r"unknown training preset 'nope'; known presets: ae-float-512"),
        ({"steps": 3}, r'needs "kind": "ae" or "flow"'),
        ({"preset": "ae-tiny", "videos": "v", "output_dir": "o", "betas": [0.9, 1.0]}, r"betas must both be in"),
        ({"preset": "ae-tiny", "videos": "v", "output_dir": "o", "warmup_steps": 1000}, r"warmup_steps 1000 exceeds"),
        ({"preset": "ae-tiny", "videos": "v", "output_dir": "o", "device": "cpu", "precision": "fp16"}, r"needs CUDA"),
        ({"preset": "ae-tiny", "videos": "v", "output_dir": "o", "model": "huge"}, r"unknown preset 'huge'"),
        (
            {"preset": "ae-tiny", "videos": "v", "output_dir": "o", "losses": {"perceptual": 1.0}},
            r"losses.perceptual > 0 needs VGG19 weights.*set losses.perceptual to 0",
        ),
        (
            {"preset": "flow-tiny", "features": "f", "output_dir": "o", "sample_every": 10},
            r"sample_every needs preview_image and preview_audio",
        ),
    ],
)
def test_invalid_configs_name_the_field_and_the_fix(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        train_config_from_dict(data)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_train_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"preset": "ae-tiny",\n "videos": }')
    with pytest.raises(ConfigError, match=r"not valid JSON: .* line 2, column"):
        load_train_config(bad)
    with pytest.raises(ConfigError, match="must be a JSON object"):
        load_train_config(_write(tmp_path, [1, 2]))


def test_base_config_accepts_any_kind_for_generic_tasks(tmp_path: Path) -> None:
    config = TrainConfig(kind="flow", output_dir=tmp_path, steps=1, batch_size=1, lr=1e-3)
    assert config.ema_decay == 0.9999
    assert config.grad_clip == 1.0
    assert config.schedule == "constant"
