"""The FLOAT checkpoint converter: one error listing every layout problem, clear errors for bad sources and
outputs, and no partial output. (The successful conversion of the float-512 layout is tested end to end in
test_e2e_parity.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from motionkit import FlowSampler, Renderer
from motionkit.config import ConditionerConfig, FlowConfig, RendererConfig
from motionkit.errors import CheckpointError, OutputError
from motionkit.families import preset
from motionkit.families.float.convert import convert_float
from motionkit.families.float.layout import (
    check_conditioner_keys,
    check_flow_keys,
    check_renderer_keys,
    official_key_report,
)
from motionkit.families.float.licenses import FLOAT_LICENSE_NAME, float_license
from motionkit.io import atomic_folder
from motionkit.model_folder import is_non_commercial
from motionkit.validation import KeyReport, check_keys

FLOAT = preset("float-512")


def float_layout() -> dict[str, torch.Tensor]:
    """Every entry of float.pth (parameters and buffers) as meta tensors: the names and shapes, no memory."""
    with torch.device("meta"):
        renderer, sampler = Renderer(FLOAT.renderer), FlowSampler(FLOAT.flow)
        projection = check_conditioner_keys({}, FLOAT.conditioner).missing
    layout = {"motion_autoencoder." + k: v for k, v in renderer.state_dict().items()}
    layout.update({"motion_autoencoder." + k: v for k, v in renderer.named_buffers()})
    layout.update({"fmt." + k: v for k, v in sampler.state_dict().items()})
    layout["fmt.alignment_mask"] = torch.ones(60, 60, dtype=torch.bool)
    shapes = {".0.weight": (512, 9216), ".0.bias": (512,), ".1.weight": (512,), ".1.bias": (512,)}
    for key in projection:
        layout[key] = torch.empty(next(s for suffix, s in shapes.items() if key.endswith(suffix)), device="meta")
    return layout


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Placeholders for the two Hugging Face folders (the layout is checked before they are read)."""
    wav2vec2, emotion = tmp_path / "wav2vec2-base-960h", tmp_path / "emotion"
    for folder in (wav2vec2, emotion):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    return tmp_path / "float.pth", wav2vec2, emotion


def test_the_official_layout_passes_with_its_buffers_and_wav2vec2_entries() -> None:
    layout = float_layout()
    assert len(layout) == 274 + 36 + 7  # parameters, official buffers, and motionkit's warping-grid buffers
    layout["audio_encoder.wav2vec2.encoder.layer_norm.weight"] = torch.empty(768, device="meta")
    layout["emotion_encoder.wav2vec2_for_emotion.classifier.dense.bias"] = torch.empty(8, device="meta")
    report = official_key_report(layout, FLOAT.renderer, FLOAT.flow, FLOAT.conditioner)
    assert report.ok, report.describe()


def test_every_problem_of_every_component_in_one_error(sources: tuple[Path, Path, Path], tmp_path: Path) -> None:
    checkpoint, wav2vec2, emotion = sources
    state = {
        "motion_autoencoder.dec.direction.weight": torch.zeros(512, 19),  # mis-shaped
        "fmt.x_embedder.proj.weight": torch.zeros(1024, 1024),  # right
        "fmt.blocks.99.attn.qkv.weight": torch.zeros(1),  # unexpected inside a component
        "audio_encoder.audio_projection.0.bias": "not a tensor",
        "module.something": torch.zeros(1),  # belongs to no component
    }
    torch.save(state, checkpoint)
    with pytest.raises(CheckpointError) as info:
        convert_float(checkpoint, wav2vec2, emotion, tmp_path / "out")
    message = str(info.value)
    assert "does not have the layout of FLOAT's official checkpoint (float-512)" in message
    assert "motion_autoencoder.enc.net_app.convs.0.0.weight" in message  # missing renderer entry
    assert "motion_autoencoder.dec.direction.weight (512, 19) (expected (512, 20))" in message
    assert "fmt.blocks.99.attn.qkv.weight" in message
    assert "module.something" in message
    assert "audio_encoder.audio_projection.0.bias (a str)" in message
    assert "2 unexpected" in message
    assert "download_checkpoints.sh" in message
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emotion", "float.pth", "wav2vec2-base-960h"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\x00garbage, not a checkpoint", "could not be read as a PyTorch checkpoint"),
        ("truncated", "could not be read as a PyTorch checkpoint"),
        ([1, 2, 3], "holds a list, not a state dict"),
        ({"state_dict": {"fmt.x": torch.zeros(1)}, "epoch": {}}, "dict of dicts"),
    ],
)
def test_unreadable_or_foreign_checkpoints(
    sources: tuple[Path, Path, Path], tmp_path: Path, content: object, match: str
) -> None:
    checkpoint, wav2vec2, emotion = sources
    if isinstance(content, bytes):
        checkpoint.write_bytes(content)
    elif content == "truncated":
        torch.save({"fmt.x": torch.zeros(1000)}, checkpoint)
        checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    else:
        torch.save(content, checkpoint)
    with pytest.raises(CheckpointError, match=match):
        convert_float(checkpoint, wav2vec2, emotion, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_sources_say_where_to_get_them(sources: tuple[Path, Path, Path], tmp_path: Path) -> None:
    checkpoint, wav2vec2, emotion = sources
    with pytest.raises(CheckpointError, match=r"does not exist; pass the path of float.pth .*download"):
        convert_float(checkpoint, wav2vec2, emotion, tmp_path / "out")
    torch.save({}, checkpoint)
    with pytest.raises(CheckpointError, match="huggingface-cli download facebook/wav2vec2-base-960h"):
        convert_float(checkpoint, tmp_path / "nowhere", emotion, tmp_path / "out")
    with pytest.raises(CheckpointError, match="r-f/wav2vec-english-speech-emotion-recognition"):
        convert_float(checkpoint, wav2vec2, tmp_path / "nowhere", tmp_path / "out")


def test_outputs_are_protected(sources: tuple[Path, Path, Path], tmp_path: Path) -> None:
    checkpoint, wav2vec2, emotion = sources
    torch.save({}, checkpoint)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"already exists; choose another path or pass overwrite=True"):
        convert_float(checkpoint, wav2vec2, emotion, existing)
    with pytest.raises(OutputError, match="not a motionkit model folder, and only model folders are replaced"):
        convert_float(checkpoint, wav2vec2, emotion, existing, overwrite=True)
    assert (existing / "notes.txt").read_text() == "mine"
    with pytest.raises(OutputError, match="does not exist; create it first"):
        convert_float(checkpoint, wav2vec2, emotion, tmp_path / "a" / "b")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="layout"):  # an empty folder may be replaced: the check passes
        convert_float(checkpoint, wav2vec2, emotion, empty, overwrite=True)


def test_progress_reports_hashing(sources: tuple[Path, Path, Path], tmp_path: Path) -> None:
    checkpoint, wav2vec2, emotion = sources
    torch.save({}, checkpoint)
    stages: list[tuple[str, int, int]] = []
    with pytest.raises(CheckpointError):
        convert_float(checkpoint, wav2vec2, emotion, tmp_path / "out", progress=lambda *a: stages.append(a))
    hashing = [s for s in stages if s[0] == "hashing sources"]
    total = checkpoint.stat().st_size + 2 * len("{}")
    assert hashing[0] == ("hashing sources", 0, total)
    assert hashing[-1] == ("hashing sources", total, total)


def test_atomic_folder(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with atomic_folder(target) as folder:
        (folder / "a.txt").write_text("new")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "new"

    def interrupted() -> None:
        with atomic_folder(target, overwrite=True) as folder:
            (folder / "a.txt").write_text("half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted()
    assert (target / "a.txt").read_text() == "new"  # the old folder is untouched
    with atomic_folder(target, overwrite=True) as folder:
        (folder / "b.txt").write_text("replaced")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with pytest.raises(OutputError, match="already exists"), atomic_folder(target):
        pass


def test_key_reports() -> None:
    expected = {"p.a": (2,), "p.b": (3, 4)}
    report = check_keys({"p.a": torch.zeros(3), "p.c": torch.zeros(1), "q.z": 1}, expected, prefix="p.")
    assert report == KeyReport(missing=("p.b",), unexpected=("p.c",), misshaped=("p.a (3,) (expected (2,))",))
    assert not report.ok
    assert KeyReport().ok
    combined = report + KeyReport(unexpected=("x",))
    assert combined.unexpected == ("p.c", "x")
    assert (
        combined.describe() == "1 missing: p.b; 2 unexpected: p.c, x; 1 with the wrong shape: p.a (3,) (expected (2,))"
    )
    assert "... (+2 more)" in KeyReport(missing=tuple("abcdefghij")).describe(limit=8)
    assert check_keys({"p.a": torch.zeros(2), "p.opt": 5}, {"p.a": (2,)}, optional={"p.opt"}).ok


def test_component_key_checks_use_their_own_configs() -> None:
    tiny = preset("tiny")
    with torch.device("meta"):
        renderer = Renderer(tiny.renderer)
    weights = {"motion_autoencoder." + k: v for k, v in renderer.state_dict().items()}
    assert check_renderer_keys(weights, tiny.renderer).ok
    report = check_renderer_keys(weights, RendererConfig())  # float-512 layout
    assert report.missing
    assert report.misshaped
    assert check_flow_keys(weights, FlowConfig()).missing  # no fmt.* entries at all
    assert check_conditioner_keys({}, ConditionerConfig()).missing == tuple(
        f"audio_encoder.audio_projection.{i}.{p}" for i in (0, 1) for p in ("weight", "bias")
    )


def test_licences() -> None:
    entry = float_license(with_emotion=True)
    assert entry["name"] == FLOAT_LICENSE_NAME
    assert entry["commercial_use"] is False
    assert "Apache-2.0" in entry["components"]["conditioner/emotion"]
    assert is_non_commercial(entry)
    assert is_non_commercial("CC BY-NC-ND 4.0")
    assert not is_non_commercial("Apache-2.0")
    assert "conditioner/emotion" not in float_license(with_emotion=False)["components"]
