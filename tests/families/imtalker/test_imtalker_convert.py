"""``motionkit convert-imtalker``: Lightning checkpoints read without running pickled code, one error listing every
layout problem, and a model folder that ``motionkit info``, ``Pipeline.from_pretrained``, ``generate`` and ``edit``
use. The checkpoints are built here, Lightning-style, from the synthetic weight recipe (the renderer at its only
size, the generator at a tiny size, a tiny wav2vec2 folder)."""

from __future__ import annotations

import argparse
import datetime
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
import torch

from motionkit import Pipeline
from motionkit.conditioner import save_wav2vec2
from motionkit.conditioner.wav2vec2 import freeze, wav2vec2_config
from motionkit.errors import CheckpointError
from motionkit.families.imtalker.convert import convert_imtalker
from motionkit.families.imtalker.generator import IMTalkerMotion
from motionkit.families.imtalker.licenses import WEIGHTS_REPO
from motionkit.families.imtalker.presets import tiny_motion
from motionkit.families.imtalker.renderer import IMTalkerRenderer
from motionkit.model_folder import read_manifest
from motionkit.testing.imtalker_weights import GENERATOR_PREFIX, RENDERER_PREFIX, imtalker_state_dict
from motionkit.testing.signals import speech_like
from motionkit.types import MotionTrack
from tests.cli.cli_helpers import one_error_line, run

TINY_WAV2VEC2 = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": [32] * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}
"""wav2vec2-base's structure (post-LN, GroupNorm conv stem), tiny."""

LIGHTNING_MODULE = "pytorch_lightning.utilities.parsing"


def module_shapes(module: torch.nn.Module, prefix: str) -> dict[str, tuple[int, ...]]:
    return {prefix + name: tuple(t.shape) for name, t in module.state_dict().items()}


@pytest.fixture(scope="module")
def attribute_dict() -> Iterator[type]:
    """Lightning's ``AttributeDict``, importable under its real module path while the checkpoints are written
    (Lightning itself is not installed)."""
    names = ("pytorch_lightning", "pytorch_lightning.utilities", LIGHTNING_MODULE)
    saved = {name: sys.modules.get(name) for name in names}
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    cls = type("AttributeDict", (dict,), {"__module__": LIGHTNING_MODULE})
    sys.modules[LIGHTNING_MODULE].AttributeDict = cls  # type: ignore[attr-defined]
    yield cls
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


def lightning_checkpoint(path: Path, state: dict[str, torch.Tensor], attribute_dict: type, **extra: object) -> Path:
    """A file shaped like a PyTorch-Lightning 2.2 checkpoint (bookkeeping, argparse options as hyper-parameters)."""
    options = argparse.Namespace(fps=25, nfe=10, a_cfg_scale=3.0, dim_motion=32)
    torch.save(
        {
            "epoch": 3,
            "global_step": 1200,
            "pytorch-lightning_version": "2.2.1",
            "state_dict": state,
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4}}}},
            "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_path": "/runs/last.ckpt"}},
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}],
            "lr_schedulers": [],
            "hparams_name": "opt",
            "hyper_parameters": attribute_dict(opt=options),
            **extra,
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, attribute_dict: type) -> tuple[Path, Path, Path]:
    """``renderer.ckpt`` (with discriminator entries), ``generator.ckpt`` (tiny generator, with an EMA copy) and a
    tiny wav2vec2 folder."""
    from transformers import Wav2Vec2Model

    root = tmp_path_factory.mktemp("imtalker-sources")
    with torch.device("meta"):
        renderer, motion = IMTalkerRenderer(), IMTalkerMotion(tiny_motion())
    renderer_state = imtalker_state_dict(module_shapes(renderer, RENDERER_PREFIX))
    renderer_state["disc.convs.0.weight"] = torch.zeros(4, 3, 3, 3)
    generator_state = imtalker_state_dict(module_shapes(motion, GENERATOR_PREFIX))
    projection = {"0.weight": (32, 32), "0.bias": (32,), "1.weight": (32,), "1.bias": (32,)}
    generator_state.update(
        imtalker_state_dict({f"{GENERATOR_PREFIX}audio_projection.{k}": s for k, s in projection.items()})
    )
    ema = {key[len(GENERATOR_PREFIX) :]: value for key, value in generator_state.items()}
    torch.manual_seed(0)
    wav2vec2 = root / "wav2vec2-base-960h"
    save_wav2vec2(freeze(Wav2Vec2Model(wav2vec2_config(TINY_WAV2VEC2))), wav2vec2)
    return (
        lightning_checkpoint(root / "renderer.ckpt", renderer_state, attribute_dict),
        lightning_checkpoint(root / "generator.ckpt", generator_state, attribute_dict, ema_state_dict=ema),
        wav2vec2,
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, sources: tuple[Path, Path, Path]) -> Path:
    renderer, generator, wav2vec2 = sources
    out = tmp_path_factory.mktemp("models") / "imtalker"
    return convert_imtalker(renderer, generator, wav2vec2, out, motion=tiny_motion())


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, speech_like(0.08), 16000, subtype="PCM_16")  # two frames: each one costs seconds to render
    return path


def test_folder_loads_with_the_checkpoint_weights(model: Path, sources: tuple[Path, Path, Path]) -> None:
    pipeline = Pipeline.from_pretrained(model)
    assert isinstance(pipeline.renderer, IMTalkerRenderer)
    assert isinstance(pipeline.sampler, IMTalkerMotion)
    loaded = torch.load(sources[1], weights_only=False)["state_dict"]
    for name, value in pipeline.sampler.state_dict().items():
        assert torch.equal(value, loaded[GENERATOR_PREFIX + name]), name
    projection = pipeline.conditioner.state_dict()["audio_encoder.audio_projection.0.weight"]  # type: ignore[attr-defined]
    assert torch.equal(projection, loaded[f"{GENERATOR_PREFIX}audio_projection.0.weight"])
    renderer = torch.load(sources[0], weights_only=False)["state_dict"]
    weight = "dense_feature_encoder.initial_conv.0.weight"
    assert torch.equal(pipeline.renderer.state_dict()[weight], renderer[RENDERER_PREFIX + weight])  # type: ignore[attr-defined]


def test_manifest_records_sources_and_licences(model: Path, sources: tuple[Path, Path, Path]) -> None:
    manifest = read_manifest(model)
    assert set(manifest["sources"]) == {"renderer", "generator", "wav2vec2"}
    assert manifest["sources"]["generator"]["file"] == "generator.ckpt"
    assert len(manifest["sources"]["renderer"]["sha256"]) == 64
    assert "Apache-2.0" in manifest["license"]["code"]
    assert WEIGHTS_REPO in manifest["license"]["check_weights_terms"]


def test_info_shows_the_family_and_the_weights_terms(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", model)
    assert code == 0
    assert "imtalker" in out
    assert "check the weights' own terms" in out
    assert "RoPE" in out


@pytest.mark.slow
def test_generate_and_edit_with_the_converted_folder(
    model: Path, speech: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from motionkit.assets import demo_portrait_path

    video, track = tmp_path / "talk.mp4", tmp_path / "talk.safetensors"
    common = ("--model", model, "--no-crop", "--quiet")
    code, _, err = run(capsys, "generate", demo_portrait_path(), speech, "-o", video, "--save-track", track, *common)
    assert code == 0, err
    assert video.stat().st_size > 0
    assert MotionTrack.load(track).latents.shape == (1, 2, 32)
    edits = tmp_path / "hold.json"
    edits.write_text('{"edits": [{"kind": "offset", "axis": "d0", "value": 0.5}]}')
    edited = tmp_path / "edited.mp4"
    code, _, err = run(capsys, "edit", track, "--image", demo_portrait_path(), "-o", edited, "--edits", edits, *common)
    assert code == 0, err
    assert edited.stat().st_size > 0


def test_every_layout_problem_of_both_files_in_one_error(
    sources: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renderer, generator, wav2vec2 = sources
    # the CLI converts to the official size: the tiny generator's entries are misshaped or missing
    code, _, err = run(
        capsys, "convert-imtalker", "--renderer", renderer, "--generator", generator, "--wav2vec2", wav2vec2,
        "--out", tmp_path / "out", "--quiet",
    )  # fmt: skip
    line = one_error_line(err)
    assert code != 0
    assert "do not have the layout of IMTalker's official checkpoints" in line
    assert "60 missing: model.fmt.blocks.2.attn.qkv.weight" in line  # blocks 2..7 are absent at the tiny depth
    assert "31 with the wrong shape: model.fmt.x_embedder.proj.weight (64, 64) (expected (512, 64))" in line
    assert not (tmp_path / "out").exists()


def test_untrusted_globals_are_refused_by_name(
    sources: tuple[Path, Path, Path], tmp_path: Path, attribute_dict: type
) -> None:
    renderer, _, wav2vec2 = sources
    generator = lightning_checkpoint(
        tmp_path / "generator.ckpt", {}, attribute_dict, created=datetime.date(2025, 12, 1)
    )
    with pytest.raises(CheckpointError, match=r"names Python objects motionkit does not unpickle \(datetime\.date\)"):
        convert_imtalker(renderer, generator, wav2vec2, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_plain_state_dict_is_not_a_lightning_checkpoint(sources: tuple[Path, Path, Path], tmp_path: Path) -> None:
    renderer, _, wav2vec2 = sources
    plain = tmp_path / "generator.ckpt"
    torch.save({"fmt.c_embedder.weight": torch.zeros(2, 2)}, plain)
    with pytest.raises(CheckpointError, match="not a PyTorch-Lightning checkpoint: it has no 'state_dict'"):
        convert_imtalker(renderer, plain, wav2vec2, tmp_path / "out")
