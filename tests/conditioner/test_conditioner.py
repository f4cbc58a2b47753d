"""The Conditioner: frame counts, batches, emotion options, errors, windows, training mode, checkpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conditioner_helpers import TINY_CONDITIONER, audio_depth
from hypothesis import given, settings
from hypothesis import strategies as st

from motionkit import Conditioner, Conditions
from motionkit.conditioner import (
    DefaultEmotionWarning,
    EmotionKeyframe,
    KeyframeEmotion,
    LabelEmotion,
    PredictedEmotion,
    SlidingEmotion,
)
from motionkit.conditioner.emotion import onehot
from motionkit.config import ConditionerConfig
from motionkit.errors import AudioError, CheckpointError, ConfigError, ShapeError
from motionkit.families.float.layout import load_official_projection
from motionkit.io.audio import normalize_waveform
from motionkit.testing.tolerances import assert_rounding_close

MakeConditioner = Callable[..., Conditioner]
Speech = Callable[..., np.ndarray]


@pytest.fixture
def conditioner(make_conditioner: MakeConditioner) -> Conditioner:
    return make_conditioner()


def test_output_shapes_and_frame_rule(conditioner: Conditioner, speech: Speech) -> None:
    with torch.no_grad():
        conditions = conditioner(speech(16000))
    assert isinstance(conditions, Conditions)
    assert conditions.audio.shape == (1, 25, 16)
    assert conditions.emotion.shape == (1, 25, 7)
    assert conditions.fps == 25.0
    assert conditions.audio.dtype == conditions.emotion.dtype == torch.float32


@settings(max_examples=10)
@given(st.integers(min_value=640, max_value=9000))
def test_frame_count_is_ceil_n_over_640(make_conditioner: MakeConditioner, num_samples: int) -> None:
    conditioner = make_conditioner(emotion=False)
    with torch.no_grad():
        conditions = conditioner(np.sin(np.arange(num_samples) / 7.0).astype(np.float32), emotion="neutral")
    assert conditions.frames == -(-num_samples * 25 // 16000) == conditioner.frames_for(num_samples)


def test_batch_rows_equal_single_clips(conditioner: Conditioner, speech: Speech) -> None:
    clips = np.stack([speech(8000, seed=1), 0.1 * speech(8000, seed=2)])
    with torch.no_grad():
        batch = conditioner(torch.from_numpy(clips))
        singles = [conditioner(clip) for clip in clips]
    depth = audio_depth(conditioner, 8000)  # each row normalized on its own, then other GEMM blockings
    for row, single in enumerate(singles):
        assert_rounding_close(batch.audio[row], single.audio[0], depth=depth)
        assert_rounding_close(batch.emotion[row], single.emotion[0], depth=depth)


def test_each_clip_is_normalised_on_its_own(conditioner: Conditioner, speech: Speech) -> None:
    clip = speech(6400)
    prepared = conditioner.prepare(np.stack([clip, 3.0 * clip + 0.2]))
    expected = torch.from_numpy(normalize_waveform(clip))
    depth = 3 * clip.size + 2  # the clip's mean and variance, then (x - mean) / std
    assert_rounding_close(prepared[0], expected, depth=depth)
    # 3 x + 0.2 rounds each sample by u |3 x + 0.2|, which normalizing divides by 3 std(x)
    magnitude = float((0.2 + 3 * np.abs(clip).max()) / (3 * clip.std()))
    assert_rounding_close(prepared[1], expected, depth=depth + 2, magnitude=magnitude)


def test_files_and_other_rates(conditioner: Conditioner, speech: Speech, tmp_path: Path) -> None:
    clip = speech(16000)
    path = tmp_path / "speech.wav"
    sf.write(path, clip, 16000, subtype="FLOAT")
    with torch.no_grad():
        from_file = conditioner(path, emotion="sad")
        from_array = conditioner(clip, emotion="sad")
        upsampled = conditioner(np.repeat(clip, 3), emotion="sad", sample_rate=48000)
    torch.testing.assert_close(from_file.audio, from_array.audio)
    assert upsampled.frames == 25


def test_deterministic_and_input_untouched(conditioner: Conditioner, speech: Speech) -> None:
    audio = torch.from_numpy(speech(5000))
    before = audio.clone()
    with torch.no_grad():
        first, second = conditioner(audio), conditioner(audio)
    assert torch.equal(audio, before)
    assert torch.equal(first.audio, second.audio)
    assert torch.equal(first.emotion, second.emotion)


def test_silence_is_valid_input(conditioner: Conditioner) -> None:
    with torch.no_grad():
        conditions = conditioner(np.zeros(3200, np.float32))
    assert conditions.frames == 5
    assert bool(torch.isfinite(conditions.audio).all())
    torch.testing.assert_close(conditions.emotion.sum(-1), torch.ones(1, 5))


@pytest.mark.parametrize(
    ("audio", "error", "message"),
    [
        (np.zeros(639, np.float32), AudioError, r"639 samples \(39\.9 ms\).*at least one frame \(640 samples, 40 ms\)"),
        (np.zeros(0, np.float32), AudioError, "no audio samples"),
        (np.array([0.0, np.nan] * 1000, np.float32), AudioError, "NaN or infinite"),
        (np.zeros((1, 2, 800), np.float32), ShapeError, r"\(N,\) or \(B, N\)"),
        ([0.0] * 1000, AudioError, "file path, a numpy array or a torch tensor"),
    ],
)
def test_bad_audio(conditioner: Conditioner, audio: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        conditioner(audio)  # type: ignore[arg-type]


def test_predicted_emotion_is_the_classifier_soft_label(conditioner: Conditioner, speech: Speech) -> None:
    waveform = conditioner.prepare(speech(12000))
    expected = torch.softmax(conditioner.emotion_classifier.logits(waveform), -1)  # type: ignore[union-attr]
    with torch.no_grad():
        for emotion in (None, "S2E", PredictedEmotion()):
            weights = conditioner(speech(12000), emotion=emotion).emotion
            torch.testing.assert_close(weights, expected[:, None].expand(1, 19, 7))
        half = conditioner(speech(12000), emotion=PredictedEmotion(intensity=0.5)).emotion
    torch.testing.assert_close(half[0, 0], 0.5 * expected[0] + 0.5 * onehot("neutral"))


def test_emotion_options_give_per_frame_weights(conditioner: Conditioner, speech: Speech) -> None:
    clip = speech(32000)  # 2 s, 50 frames
    keyframes = KeyframeEmotion(
        keyframes=(
            EmotionKeyframe(time=0.4, emotion=LabelEmotion(label="happy")),
            EmotionKeyframe(time=1.2, emotion=LabelEmotion(label="sad", intensity=0.5)),
        )
    )
    with torch.no_grad():
        label = conditioner(clip, emotion=("angry", 0.8)).emotion
        frames = conditioner(clip, emotion=keyframes).emotion
        sliding = conditioner(clip, emotion=SlidingEmotion(window_seconds=0.5, hop_seconds=0.25)).emotion
        explicit = conditioner(clip, emotion=torch.rand(50, 7)[None]).emotion
    for weights in (label, frames, sliding, explicit):
        assert weights.shape == (1, 50, 7)
    torch.testing.assert_close(label[0, 17], 0.8 * onehot("angry") + 0.2 * onehot("neutral"))
    torch.testing.assert_close(frames[0, 5], onehot("happy"))  # frame 10 = 0.4 s
    torch.testing.assert_close(frames[0, 10], onehot("happy"))
    sad = 0.5 * onehot("sad") + 0.5 * onehot("neutral")
    torch.testing.assert_close(frames[0, 20], 0.5 * onehot("happy") + 0.5 * sad)  # halfway between 10 and 30
    torch.testing.assert_close(frames[0, 30:], sad.expand(20, 7))
    torch.testing.assert_close(sliding.sum(-1), torch.ones(1, 50))
    assert not torch.allclose(sliding[0, 0], sliding[0, -1])  # the windows see different audio


def test_keyframes_can_use_the_prediction(conditioner: Conditioner, speech: Speech) -> None:
    clip = speech(16000)
    spec = KeyframeEmotion(
        keyframes=(
            EmotionKeyframe(time=0.0, emotion=PredictedEmotion()),
            EmotionKeyframe(time=0.96, emotion=LabelEmotion(label="fear")),
        )
    )
    with torch.no_grad():
        predicted = conditioner(clip).emotion[0, 0]
        weights = conditioner(clip, emotion=spec).emotion[0]
    torch.testing.assert_close(weights[0], predicted)
    torch.testing.assert_close(weights[24], onehot("fear"))


def test_without_classifier(make_conditioner: MakeConditioner, speech: Speech) -> None:
    conditioner = make_conditioner(emotion=False)
    with pytest.warns(DefaultEmotionWarning, match="using the neutral label"), torch.no_grad():
        weights = conditioner(speech(3200)).emotion
    torch.testing.assert_close(weights, onehot("neutral").expand(1, 5, 7))
    for emotion in ("predicted", SlidingEmotion()):
        with pytest.raises(ConfigError, match="no speech-emotion classifier is loaded"):
            conditioner(speech(3200), emotion=emotion)


def test_whole_clip_equals_windows_with_full_context(make_conditioner: MakeConditioner, speech: Speech) -> None:
    base = make_conditioner()
    windowed = make_conditioner(TINY_CONDITIONER.model_copy(update={"window_frames": 7, "window_context_frames": 40}))
    near = make_conditioner(TINY_CONDITIONER.model_copy(update={"window_frames": 7, "window_context_frames": 2}))
    waveform = base.prepare(speech(20000))  # 32 frames: 40 frames of context cover the clip
    with torch.no_grad():
        whole = base.encode_audio(waveform)
        full_context = windowed.encode_audio(waveform)
        short_context = near.encode_audio(waveform)
    assert whole.shape == full_context.shape == short_context.shape == (1, 32, 16)
    # With 40 frames of context every block's window is the whole clip.
    assert_rounding_close(full_context, whole, depth=audio_depth(base, 20000))
    assert not torch.allclose(short_context, whole, atol=1e-3)


def test_training_mode_and_gradients(conditioner: Conditioner, speech: Speech) -> None:
    conditioner.train()
    assert conditioner.training
    assert not conditioner.audio_encoder.wav2vec2.training  # type: ignore[union-attr]
    assert not conditioner.emotion_classifier.training  # type: ignore[union-attr]
    conditions = conditioner(speech(6400), emotion="happy")
    conditions.audio.square().mean().backward()
    trainable = {n for n, p in conditioner.named_parameters() if p.grad is not None}
    assert trainable == set(conditioner.trainable_state_dict())
    assert trainable == {f"audio_encoder.audio_projection.{i}.{k}" for i in (0, 1) for k in ("weight", "bias")}


def test_mel_conditioner_needs_no_weights(speech: Speech) -> None:
    from motionkit.families import preset

    conditioner = Conditioner(preset("tiny").conditioner)
    with torch.no_grad():
        conditions = conditioner(speech(16000), emotion="happy")
    assert conditions.audio.shape == (1, 25, 32)
    assert set(conditioner.trainable_state_dict()) == set(conditioner.state_dict())


def test_constructor_errors(tiny_wav2vec2: object) -> None:
    with pytest.raises(ConfigError, match="needs the wav2vec2 model"):
        Conditioner(ConditionerConfig())
    with pytest.raises(ConfigError, match="hidden size 32 but the conditioner config says wav2vec2_hidden=768"):
        Conditioner(ConditionerConfig(), wav2vec2=tiny_wav2vec2)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="wav2vec2_layers=3"):
        Conditioner(TINY_CONDITIONER.model_copy(update={"wav2vec2_layers": 3}), wav2vec2=tiny_wav2vec2)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r'config\.encoder is "mel"'):
        Conditioner(ConditionerConfig(encoder="mel"), wav2vec2=tiny_wav2vec2)  # type: ignore[arg-type]


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="whole number of samples per frame"):
        ConditionerConfig(fps=30.0)
    with pytest.raises(ValueError, match="must divide"):
        ConditionerConfig(encoder="mel", mel={"hop_length": 150})
    assert ConditionerConfig().frames_for(64000) == 100
    assert ConditionerConfig().frames_for(41000) == 65
    assert ConditionerConfig().stacked_dim == 9216


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints


def test_save_and_load_round_trip(conditioner: Conditioner, speech: Speech, tmp_path: Path) -> None:
    folder = conditioner.save_pretrained(tmp_path / "conditioner")
    assert sorted(p.name for p in folder.iterdir()) == ["conditioner.safetensors", "config.json", "emotion", "wav2vec2"]
    manifest = json.loads((folder / "config.json").read_text())
    assert manifest["format"] == "motionkit.Conditioner"
    assert manifest["backbones"] == {"wav2vec2": "wav2vec2", "emotion": "emotion"}
    loaded = Conditioner.from_pretrained(folder)
    clip = speech(9000)
    with torch.no_grad():
        assert torch.equal(loaded(clip).audio, conditioner(clip).audio)
        assert torch.equal(loaded(clip).emotion, conditioner(clip).emotion)
    assert loaded.config == conditioner.config


def test_save_without_backbones(conditioner: Conditioner, tmp_path: Path, speech: Speech) -> None:
    conditioner.save_pretrained(tmp_path / "light", include_backbones=False)
    conditioner.save_pretrained(tmp_path / "full")
    with pytest.raises(CheckpointError, match="saved without its wav2vec2 backbone; pass wav2vec2_dir="):
        Conditioner.from_pretrained(tmp_path / "light")
    loaded = Conditioner.from_pretrained(tmp_path / "light", wav2vec2_dir=tmp_path / "full" / "wav2vec2")
    assert loaded.emotion_classifier is None
    with torch.no_grad():
        torch.testing.assert_close(loaded(speech(4000), "sad").audio, conditioner(speech(4000), "sad").audio)


def test_mel_round_trip(tmp_path: Path, speech: Speech) -> None:
    conditioner = Conditioner(ConditionerConfig(encoder="mel", audio_dim=8, mel={"channels": 8, "layers": 2}))
    conditioner.save_pretrained(tmp_path / "mel")
    loaded = Conditioner.from_pretrained(tmp_path / "mel")
    with torch.no_grad():
        assert torch.equal(loaded(speech(5000), "happy").audio, conditioner(speech(5000), "happy").audio)


def test_checkpoint_errors(conditioner: Conditioner, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"config\.json is missing"):
        Conditioner.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(CheckpointError, match="does not describe a motionkit conditioner"):
        Conditioner.from_pretrained(tmp_path)
    folder = conditioner.save_pretrained(tmp_path / "c")
    (folder / "conditioner.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"conditioner\.safetensors is missing"):
        Conditioner.from_pretrained(folder)
    with pytest.raises(
        CheckpointError, match=r"1 missing: audio_encoder\.audio_projection\.1\.bias\. Build the conditioner"
    ):
        conditioner.load_trainable_state_dict(
            {k: v for k, v in conditioner.trainable_state_dict().items() if not k.endswith("1.bias")}
        )
    with pytest.raises(CheckpointError, match="wrong shape"):
        conditioner.load_trainable_state_dict(
            {k: torch.zeros(3) if k.endswith("1.bias") else v for k, v in conditioner.trainable_state_dict().items()}
        )


def test_float_state_dict(conditioner: Conditioner) -> None:
    state = {f"audio_encoder.{k}": torch.randn_like(v) for k, v in conditioner.audio_encoder.state_dict().items()}
    state["fmt.pos_embed"] = torch.zeros(1)  # other FLOAT keys are ignored
    projection = {k: v for k, v in state.items() if "audio_projection" in k}
    load_official_projection(conditioner, state)
    for key, value in projection.items():
        assert torch.equal(conditioner.state_dict()[key], value)
    with pytest.raises(CheckpointError, match=r"no audio_encoder\.audio_projection\.\* entries"):
        load_official_projection(conditioner, {"fmt.pos_embed": torch.zeros(1)})


def test_projection_layer_by_layer_equals_the_stacked_projection(conditioner: Conditioner, speech: Speech) -> None:
    waveform = conditioner.prepare(speech(9000))
    encoder = conditioner.audio_encoder
    with torch.no_grad():
        stacked = encoder.audio_projection(encoder.hidden_features(waveform))  # type: ignore[operator]
        assert stacked.shape == (1, 15, 16)
        assert_rounding_close(encoder(waveform), stacked, depth=audio_depth(encoder, waveform.shape[-1]))
