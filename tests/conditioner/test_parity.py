"""FLOAT parity of the audio path: stacked wav2vec2 features, projected audio features, emotion logits / soft label."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from motionkit.conditioner import Conditioner, EmotionClassifier, build_wav2vec2
from motionkit.config import ConditionerConfig
from motionkit.families.float.layout import conditioner_from_official, load_official_projection
from motionkit.testing.float_weights import synthetic_tensor
from motionkit.testing.parity import ParityFixture, load_fixture_wav, parity_fixture

pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def fixture() -> ParityFixture:
    return parity_fixture()


def projection_state_dict(fixture: ParityFixture) -> dict[str, torch.Tensor]:
    """The four ``audio_encoder.audio_projection.*`` entries of the synthetic FLOAT checkpoint."""
    shapes = fixture.shapes("audio_encoder.audio_projection.")
    assert len(shapes) == 4
    return {key: synthetic_tensor(key, shape) for key, shape in shapes.items()}


@pytest.fixture(scope="module")
def conditioner(fixture: ParityFixture) -> Conditioner:
    """FLOAT's conditioner with the fixture's synthetic weights (base-size wav2vec2, tiny emotion model)."""
    wav2vec2 = build_wav2vec2(fixture.audio_config(), fixture.audio_wav2vec2_state_dict())
    emotion = EmotionClassifier.from_state_dict(fixture.emotion_config(), fixture.emotion_state_dict())
    conditioner = Conditioner(ConditionerConfig(), wav2vec2=wav2vec2, emotion=emotion)
    load_official_projection(conditioner, projection_state_dict(fixture))
    return conditioner


@pytest.mark.parametrize("prefix", ["", "trunc_"])
def test_stacked_wav2vec2_features(conditioner: Conditioner, fixture: ParityFixture, prefix: str) -> None:
    waveform = fixture.tensor(f"{prefix}input_audio")
    fixture.assert_close(f"{prefix}audio_w2v_stacked", conditioner.audio_encoder.hidden_features(waveform))


@pytest.mark.parametrize("prefix", ["", "trunc_"])
def test_projected_audio_features(conditioner: Conditioner, fixture: ParityFixture, prefix: str) -> None:
    with torch.no_grad():
        features = conditioner.encode_audio(fixture.tensor(f"{prefix}input_audio"))
    fixture.assert_close(f"{prefix}audio_wa", features)


@pytest.mark.parametrize("prefix", ["", "trunc_"])
def test_emotion_logits_and_soft_label(conditioner: Conditioner, fixture: ParityFixture, prefix: str) -> None:
    waveform = fixture.tensor(f"{prefix}input_audio")
    assert conditioner.emotion_classifier is not None
    fixture.assert_close(f"{prefix}audio_emo_logits", conditioner.emotion_classifier.logits(waveform))
    fixture.assert_close(f"{prefix}audio_emo_probs", conditioner.predict_emotion(waveform))


def test_end_to_end_from_the_wav_file(conditioner: Conditioner, fixture: ParityFixture) -> None:
    """File -> load -> normalise -> features and the broadcast soft label, as FLOAT's pipeline computes them."""
    fixture.assert_close("input_audio", conditioner.prepare(fixture.audio_path))
    with torch.no_grad():
        conditions = conditioner(fixture.audio_path)
    assert conditions.frames == 100
    assert conditions.fps == 25.0
    fixture.assert_close("audio_wa", conditions.audio)
    for t in (0, 57, 99):
        fixture.assert_close("audio_emo_probs", conditions.emotion[:, t])


def test_end_to_end_truncated_clip_pads_audio_but_not_emotion(conditioner: Conditioner, fixture: ParityFixture) -> None:
    samples = load_fixture_wav(fixture.audio_path)[:41000]
    with torch.no_grad():
        conditions = conditioner(samples)
    assert conditions.frames == 65
    fixture.assert_close("trunc_audio_wa", conditions.audio)
    fixture.assert_close("trunc_audio_emo_probs", conditions.emotion[:, -1])


def test_explicit_label_is_floats_one_hot(conditioner: Conditioner, fixture: ParityFixture) -> None:
    with torch.no_grad():
        conditions = conditioner(fixture.tensor("input_audio")[0], emotion="happy")
    expected = torch.zeros(1, 100, 7)
    expected[..., 3] = 1.0
    assert torch.equal(conditions.emotion, expected)


def test_chunked_conv_encoder_keeps_parity(fixture: ParityFixture, conditioner: Conditioner) -> None:
    """Conv features in 1.1 s chunks (two-pass GroupNorm statistics) still match the whole-clip reference."""
    chunked = Conditioner(
        ConditionerConfig(cnn_chunk_seconds=1.1),
        wav2vec2=conditioner.audio_encoder.wav2vec2,
        emotion=conditioner.emotion_classifier,
    )
    chunked.load_trainable_state_dict(conditioner.trainable_state_dict())
    with torch.no_grad():
        fixture.assert_close("audio_wa", chunked.encode_audio(fixture.tensor("input_audio")))
        fixture.assert_close("trunc_audio_emo_probs", chunked.predict_emotion(fixture.tensor("trunc_input_audio")))


def test_emotion_folder_round_trip_keeps_parity(fixture: ParityFixture, tmp_path: Path) -> None:
    """The tiny emotion model written in the original file layout and loaded offline through the public loader."""
    emotion = EmotionClassifier.from_state_dict(fixture.emotion_config(), fixture.emotion_state_dict())
    emotion.save(tmp_path / "emotion")
    loaded = EmotionClassifier.from_folder(tmp_path / "emotion")
    fixture.assert_close("audio_emo_logits", loaded.logits(fixture.tensor("input_audio")))


def test_from_float_with_weight_folders(fixture: ParityFixture, tmp_path: Path) -> None:
    """Base-size wav2vec2 and the emotion model as Hugging Face folders with checkpoint-file names (weight_g/_v)."""
    from safetensors.torch import save_file

    from motionkit.conditioner.wav2vec2 import write_config

    wav2vec2_dir, emotion_dir = tmp_path / "wav2vec2-base-960h", tmp_path / "emotion"
    wav2vec2_dir.mkdir()
    # Wav2Vec2ForCTC layout of facebook/wav2vec2-base-960h: backbone under "wav2vec2.", plus the CTC head.
    state = {f"wav2vec2.{k}": v for k, v in fixture.audio_wav2vec2_state_dict().items()}
    state["lm_head.weight"] = torch.zeros(32, 768)
    state["lm_head.bias"] = torch.zeros(32)
    assert "wav2vec2.encoder.pos_conv_embed.conv.weight_g" in state
    save_file(state, str(wav2vec2_dir / "model.safetensors"))
    write_config(fixture.audio_config(), wav2vec2_dir / "config.json")
    EmotionClassifier.from_state_dict(fixture.emotion_config(), fixture.emotion_state_dict()).save(emotion_dir)

    conditioner = conditioner_from_official(projection_state_dict(fixture), wav2vec2_dir, emotion_dir)
    with torch.no_grad():
        conditions = conditioner(fixture.audio_path)
    fixture.assert_close("audio_wa", conditions.audio)
    fixture.assert_close("audio_emo_probs", conditions.emotion[:, 0])
