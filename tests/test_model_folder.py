"""The model folder: round trip, and one clear error for each way a folder can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from motionkit import Axis, Conditioner, FlowSampler, Renderer
from motionkit.errors import CheckpointError, OutputError
from motionkit.families import preset
from motionkit.model_folder import load_model, read_config, save_model
from motionkit.testing.files import umask, unusual_modes


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Renderer, FlowSampler, Conditioner]:
    torch.manual_seed(1)
    config = preset("tiny")
    renderer, sampler, conditioner = (
        Renderer(config.renderer),
        FlowSampler(config.flow),
        Conditioner(config.conditioner),
    )
    for module in (renderer, sampler, conditioner):
        with torch.no_grad():
            for p in module.parameters():
                p.add_(torch.randn_like(p) * 0.01)
    space = renderer.space.with_axes([Axis.basis(0, renderer.space.rank, name="yaw", unit="deg", scale=0.1)])
    folder = tmp_path_factory.mktemp("model")
    with umask():
        save_model(
            folder,
            config=config,
            renderer=renderer,
            conditioner=conditioner,
            sampler=sampler,
            space=space,
            manifest={"license": "test-only"},
        )
    return folder, renderer, sampler, conditioner


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def test_round_trip(saved: tuple[Path, Renderer, FlowSampler, Conditioner]) -> None:
    folder, renderer, sampler, conditioner = saved
    parts = load_model(folder)
    assert parts.config == preset("tiny")
    for original, loaded in ((renderer, parts.renderer), (sampler, parts.sampler), (conditioner, parts.conditioner)):
        for (name, a), (_, b) in zip(original.state_dict().items(), loaded.state_dict().items()):
            assert torch.equal(a, b), name
    assert parts.space.axis("yaw").unit == "deg"
    assert torch.equal(parts.space.basis, renderer.space.basis)
    assert parts.manifest["license"] == "test-only"
    assert parts.manifest["motionkit_version"]
    assert not parts.renderer.training


def test_every_file_gets_the_umask_mode(saved: tuple[Path, ...]) -> None:
    """Weights, configuration, axes and manifest alike (safetensors' writer would leave weights at 0600)."""
    assert {p.suffix for p in saved[0].rglob("*") if p.is_file()} == {".json", ".safetensors"}
    assert unusual_modes(saved[0].iterdir()) == []


def test_a_folder_under_a_file_is_an_output_error(tmp_path: Path) -> None:
    config = preset("tiny")
    (tmp_path / "file.txt").write_text("a file")
    parts = {"renderer": Renderer(config.renderer), "conditioner": Conditioner(config.conditioner)}
    with pytest.raises(OutputError, match=r"cannot create the folder .*file\.txt is a file, not a folder"):
        save_model(tmp_path / "file.txt" / "model", config=config, sampler=FlowSampler(config.flow), **parts)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        read_config(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="not a motionkit model folder"):
        read_config(tmp_path)


def test_other_format_named(saved: tuple[Path, ...], tmp_path: Path) -> None:
    folder = _copy(saved[0], tmp_path)
    with pytest.raises(CheckpointError, match=r"motionkit\.Conditioner, not a motionkit model"):
        read_config(folder / "conditioner")


def test_future_version(saved: tuple[Path, ...], tmp_path: Path) -> None:
    folder = _copy(saved[0], tmp_path)
    header = json.loads((folder / "config.json").read_text())
    header["format_version"] = 99
    (folder / "config.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="Upgrade motionkit"):
        read_config(folder)


def test_invalid_config(saved: tuple[Path, ...], tmp_path: Path) -> None:
    folder = _copy(saved[0], tmp_path)
    header = json.loads((folder / "config.json").read_text())
    header["config"]["flow"]["motion_dim"] = 7
    (folder / "config.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="invalid model configuration"):
        read_config(folder)


def test_missing_and_corrupt_weights(saved: tuple[Path, ...], tmp_path: Path) -> None:
    folder = _copy(saved[0], tmp_path)
    (folder / "flow.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"flow.safetensors is missing"):
        load_model(folder)
    (folder / "flow.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="damaged"):
        load_model(folder)


def test_weights_of_another_model(saved: tuple[Path, ...], tmp_path: Path) -> None:
    folder = _copy(saved[0], tmp_path)
    from safetensors.torch import save_file

    other = FlowSampler(preset("tiny").flow.model_copy(update={"hidden_dim": 32, "num_heads": 2}))
    save_file(other.state_dict(), str(folder / "flow.safetensors"))
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_model(folder)
