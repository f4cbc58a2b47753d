"""Offline loading of wav2vec2 / emotion folders: every layout, exact names, clear errors, never the network."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import torch
from conditioner_helpers import TINY_EMOTION, TINY_WAV2VEC2, audio_depth, random_emotion, random_wav2vec2
from safetensors.torch import save_file

from motionkit.conditioner import EmotionClassifier, build_wav2vec2, load_wav2vec2, save_wav2vec2
from motionkit.conditioner.huggingface import to_file_names
from motionkit.conditioner.wav2vec2 import write_config
from motionkit.errors import CheckpointError
from motionkit.testing.tolerances import TRANSCENDENTAL_DEPTH, assert_rounding_close
from motionkit.types import EMOTION_LABELS

POS_CONV = "encoder.pos_conv_embed.conv"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def model() -> Any:
    return random_wav2vec2(TINY_WAV2VEC2, seed=7)


def outputs(wav2vec2: Any, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    with torch.no_grad():
        return wav2vec2(torch.randn(1, 4000)).last_hidden_state


def write_folder(
    folder: Path, state: dict[str, torch.Tensor], config: dict[str, Any], fmt: str = "safetensors"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    else:
        torch.save(state, folder / "pytorch_model.bin")
    write_config(config, folder / "config.json")
    return folder


def test_hugging_face_save_pretrained_folder_loads(model: Any, tmp_path: Path) -> None:
    """A folder written by transformers itself (torch parametrization names) loads offline, weights identical."""
    model.save_pretrained(tmp_path / "hf")
    loaded = load_wav2vec2(tmp_path / "hf")
    assert torch.equal(outputs(loaded), outputs(model))
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_checkpoint_file_names_and_ctc_layout(model: Any, tmp_path: Path, fmt: str) -> None:
    """Original checkpoint layout: ``wav2vec2.`` prefix, ``weight_g``/``weight_v`` names, a CTC head, .bin or
    .safetensors. The pos-conv g and v must land in the parametrization, not be re-initialised."""
    state = {f"wav2vec2.{k}": v for k, v in to_file_names(model.state_dict()).items()}
    state["lm_head.weight"] = torch.zeros(32, 32)
    assert f"wav2vec2.{POS_CONV}.weight_g" in state
    folder = write_folder(tmp_path / "ctc", state, TINY_WAV2VEC2, fmt)
    loaded = load_wav2vec2(folder)
    conv = loaded.encoder.pos_conv_embed.conv
    assert torch.equal(conv.parametrizations.weight.original0, state[f"wav2vec2.{POS_CONV}.weight_g"])
    assert torch.equal(conv.parametrizations.weight.original1, state[f"wav2vec2.{POS_CONV}.weight_v"])
    assert torch.equal(outputs(loaded), outputs(model))


def test_weight_norm_formula(model: Any) -> None:
    """The effective pos-conv kernel is g * v / ||v|| with the norm over dims 0 and 1 (weight norm, dim=2)."""
    state = to_file_names(model.state_dict())
    g, v = state[f"{POS_CONV}.weight_g"], state[f"{POS_CONV}.weight_v"]
    expected = g * v / v.norm(dim=(0, 1), keepdim=True)
    torch.testing.assert_close(model.encoder.pos_conv_embed.conv.weight, expected)


def test_sharded_safetensors(model: Any, tmp_path: Path) -> None:
    state = to_file_names(model.state_dict())
    keys = sorted(state)
    folder = tmp_path / "sharded"
    folder.mkdir()
    halves = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    for name, part in halves.items():
        save_file({k: state[k].contiguous() for k in part}, str(folder / name))
    weight_map = {k: name for name, part in halves.items() for k in part}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    write_config(TINY_WAV2VEC2, folder / "config.json")
    assert torch.equal(outputs(load_wav2vec2(folder)), outputs(model))


def test_save_wav2vec2_round_trip_uses_file_names(model: Any, tmp_path: Path) -> None:
    from safetensors import safe_open

    folder = save_wav2vec2(model, tmp_path / "saved")
    with safe_open(str(folder / "model.safetensors"), "pt") as handle:
        names = set(handle.keys())
    assert f"{POS_CONV}.weight_g" in names
    assert not any("parametrizations" in n for n in names)
    assert torch.equal(outputs(load_wav2vec2(folder)), outputs(model))


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        ("no folder", "the folder does not exist"),
        ("no config", "config.json is missing"),
        ("no weights", "no weights file was found"),
    ],
)
def test_missing_folder_messages_say_what_to_get(tmp_path: Path, problem: str, expected: str) -> None:
    folder = tmp_path / "wav2vec2-base-960h"
    if problem != "no folder":
        folder.mkdir()
    if problem == "no weights":
        write_config(TINY_WAV2VEC2, folder / "config.json")
    with pytest.raises(CheckpointError) as info:
        load_wav2vec2(folder)
    message = str(info.value)
    assert expected in message
    for needed in ("config.json", "model.safetensors", "pytorch_model.bin", "facebook/wav2vec2-base-960h"):
        assert needed in message
    assert "huggingface-cli download" in message
    assert "never downloads" in message


def test_missing_emotion_folder_names_the_emotion_model(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="r-f/wav2vec-english-speech-emotion-recognition"):
        EmotionClassifier.from_folder(tmp_path / "absent")


def test_a_missing_tensor_is_an_error_not_a_random_init(model: Any, tmp_path: Path) -> None:
    state = to_file_names(model.state_dict())
    del state[f"{POS_CONV}.weight_g"]
    folder = write_folder(tmp_path / "incomplete", state, TINY_WAV2VEC2)
    with pytest.raises(CheckpointError, match=r"1 missing: .*pos_conv_embed\.conv\."):
        load_wav2vec2(folder)


def test_unknown_weight_norm_names_are_an_error(model: Any, tmp_path: Path) -> None:
    state = to_file_names(model.state_dict())
    state[f"{POS_CONV}.gain"] = state.pop(f"{POS_CONV}.weight_g")
    folder = write_folder(tmp_path / "renamed", state, TINY_WAV2VEC2)
    with pytest.raises(CheckpointError, match=r"1 missing: .*; 1 unexpected: .*conv\.gain"):
        load_wav2vec2(folder)


def test_architecture_mismatch_is_an_error(model: Any, tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path / "mismatch", to_file_names(model.state_dict()), {**TINY_WAV2VEC2, "hidden_size": 48}
    )
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_wav2vec2(folder)


def test_masked_spec_embed_may_be_absent(model: Any) -> None:
    """Only used for SpecAugment in training; the loaded model works without it."""
    state = {k: v for k, v in model.state_dict().items() if k != "masked_spec_embed"}
    loaded = build_wav2vec2(TINY_WAV2VEC2, state)
    assert torch.equal(outputs(loaded), outputs(model))


def test_corrupt_files(tmp_path: Path) -> None:
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    (folder / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="not readable JSON"):
        load_wav2vec2(folder)
    write_config(TINY_WAV2VEC2, folder / "config.json")
    with pytest.raises(CheckpointError, match=r"damaged or not a safetensors file.*copy it again"):
        load_wav2vec2(folder)


def test_emotion_folder_round_trip_and_label_order(tmp_path: Path) -> None:
    emotion = random_emotion(seed=5)
    waveform = torch.randn(2, 8000)
    emotion.save(tmp_path / "emotion")
    assert torch.equal(EmotionClassifier.from_folder(tmp_path / "emotion").logits(waveform), emotion.logits(waveform))
    # The same weights with the classes listed in another order: outputs come back in FLOAT's order.
    permutation = [6, 0, 5, 1, 4, 2, 3]  # model output index of FLOAT label i
    state = to_file_names(emotion.state_dict())
    inverse = torch.argsort(torch.tensor(permutation))
    state["classifier.out_proj.weight"] = state["classifier.out_proj.weight"][inverse]
    state["classifier.out_proj.bias"] = state["classifier.out_proj.bias"][inverse]
    labels = TINY_EMOTION["id2label"]
    config = {**TINY_EMOTION, "id2label": {str(permutation[int(i)]): label for i, label in labels.items()}}
    folder = write_folder(tmp_path / "permuted", state, config)
    torch.testing.assert_close(EmotionClassifier.from_folder(folder).logits(waveform), emotion.logits(waveform))


def test_emotion_config_checks(tmp_path: Path) -> None:
    state = to_file_names(random_emotion().state_dict())
    other_labels = {**TINY_EMOTION, "id2label": {str(i): f"class{i}" for i in range(7)}}
    with pytest.raises(CheckpointError, match="not FLOAT's emotion classes"):
        EmotionClassifier.from_folder(write_folder(tmp_path / "a", state, other_labels))
    with pytest.raises(CheckpointError, match="pooling_mode 'max' is not supported"):
        EmotionClassifier.from_folder(write_folder(tmp_path / "b", state, {**TINY_EMOTION, "pooling_mode": "max"}))
    without_head = {k: v for k, v in state.items() if not k.startswith("classifier.dense")}
    with pytest.raises(CheckpointError, match=r"classifier\.dense\.bias"):
        EmotionClassifier.from_folder(write_folder(tmp_path / "c", without_head, TINY_EMOTION))


def test_emotion_classifier_matches_its_definition() -> None:
    """logits = out_proj(tanh(dense(mean_t last_hidden_state))) — checked against the backbone's own forward."""
    emotion = random_emotion(seed=6)
    waveform = torch.randn(2, 6000)
    with torch.no_grad():
        hidden = emotion.wav2vec2(waveform).last_hidden_state.mean(dim=1)
        expected = emotion.classifier.out_proj(torch.tanh(emotion.classifier.dense(hidden)))
    depth = audio_depth(emotion, 6000)
    assert_rounding_close(emotion.logits(waveform), expected, depth=depth)
    # exp, the sum over labels, the division; a logit's error moves its probability by at most a quarter of it
    softmax_depth = depth + TRANSCENDENTAL_DEPTH + len(EMOTION_LABELS) + 1
    magnitude = float(expected.abs().max())
    assert_rounding_close(emotion(waveform), torch.softmax(expected, -1), depth=softmax_depth, magnitude=magnitude)
    emotion.train()
    assert not emotion.training
