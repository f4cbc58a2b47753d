"""wav2vec2 forward pieces: chunked conv features, transformer states, FLOAT's frame resampling."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from conditioner_helpers import TINY_STABLE, TINY_WAV2VEC2, audio_depth, random_wav2vec2
from hypothesis import given
from hypothesis import strategies as st

from motionkit.conditioner.backbone import (
    RunningGroupStats,
    conv_features,
    conv_geometry,
    first_group_norm,
    group_norm_stats,
    resample_frames,
    transformer_states,
)
from motionkit.errors import AudioError
from motionkit.testing.tolerances import assert_rounding_close


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return {"group": random_wav2vec2(TINY_WAV2VEC2, seed=3), "layer": random_wav2vec2(TINY_STABLE, seed=4)}


def test_geometry_of_the_base_conv_stack(models: dict[str, Any]) -> None:
    assert conv_geometry(models["group"]) == (400, 320)


@pytest.mark.parametrize("norm", ["group", "layer"])
@pytest.mark.parametrize(("num_samples", "chunk"), [(16000, 1000), (12345, 3000), (7000, 401), (5000, 4999)])
def test_chunked_conv_features_equal_one_pass(models: dict[str, Any], norm: str, num_samples: int, chunk: int) -> None:
    model = models[norm]
    waveform = torch.randn(2, num_samples) * torch.tensor([[1.0], [0.2]]) + 0.1
    whole = conv_features(model, waveform)
    chunked = conv_features(model, waveform, chunk_samples=chunk)
    assert chunked.shape == whole.shape == (2, (num_samples - 400) // 320 + 1, 32)
    # chunks of the same convolutions, normalized with the whole clip's statistics: rounding only
    assert_rounding_close(chunked, whole, depth=audio_depth(model.feature_extractor, num_samples))


def test_conv_features_need_one_receptive_field(models: dict[str, Any]) -> None:
    with pytest.raises(AudioError, match="shorter than the 400-sample receptive field"):
        conv_features(models["group"], torch.zeros(1, 399))


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_transformer_states_follow_hugging_face(models: dict[str, Any], norm: str) -> None:
    """Layer outputs equal the model's own hidden states; the last one equals last_hidden_state (with the final
    LayerNorm for pre-LN encoders)."""
    model = models[norm]
    waveform = torch.randn(1, 8000)
    with torch.no_grad():
        states = transformer_states(model, conv_features(model, waveform), 2)
        reference = model(waveform, output_hidden_states=True)
    assert len(states) == 2
    depth = audio_depth(model, 8000)
    assert_rounding_close(states[-1], reference.last_hidden_state, depth=depth)
    if norm == "group":  # post-LN: every layer output is a hidden state as is
        assert_rounding_close(states[0], reference.hidden_states[1], depth=depth)


def test_running_fewer_layers_gives_the_first_states(models: dict[str, Any]) -> None:
    model = models["group"]
    features = conv_features(model, torch.randn(1, 6400))
    with torch.no_grad():
        first, both = transformer_states(model, features, 1), transformer_states(model, features, 2)
        torch.testing.assert_close(first[0], both[0], rtol=0, atol=0)  # the same first layer on the same input
    with pytest.raises(ValueError, match=r"num_layers must be in 1\.\.2"):
        transformer_states(model, features, 3)


@given(st.integers(min_value=1, max_value=60))
def test_frame_resampling_picks_every_other_frame(frames: int) -> None:
    """For N = 640 T the CNN gives 2T - 1 frames; align_corners linear interpolation to T picks frames 0, 2, 4..."""
    features = torch.randn(2, 2 * frames - 1, 5)
    # weights 1 and 0 at the picked frames, up to the rounding of the positions: a lerp of 3 roundings
    assert_rounding_close(resample_frames(features, frames), features[:, ::2], depth=3)


def test_frame_resampling_is_linear() -> None:
    features = torch.arange(4.0).reshape(1, 4, 1)
    assert resample_frames(features, 7).flatten().tolist() == pytest.approx([0, 0.5, 1, 1.5, 2, 2.5, 3])


def test_a_window_with_the_clip_statistics_gives_the_clip_features(models: dict[str, Any]) -> None:
    """The first-layer GroupNorm is the conv encoder's only global operation: with the whole clip's statistics, a
    window aligned to conv frames reproduces the whole clip's frames."""
    model = models["group"]
    waveform = torch.randn(1, 640 * 20) * 0.5
    whole = conv_features(model, waveform)
    stats = group_norm_stats(model, waveform)
    window = conv_features(model, waveform[:, 640 * 6 : 640 * 15], group_stats=stats)
    depth = audio_depth(model.feature_extractor, waveform.shape[-1])
    assert_rounding_close(window, whole[:, 12 : 12 + window.shape[1]], depth=depth)
    local = conv_features(model, waveform[:, 640 * 6 : 640 * 15])
    assert not torch.allclose(local, window, atol=1e-3)
    assert group_norm_stats(models["layer"], waveform) is None


@pytest.mark.parametrize("sizes", [[7], [333, 1000], [12800]])
def test_running_statistics_of_a_stream(models: dict[str, Any], sizes: list[int]) -> None:
    """Moments collected on raw chunks give the statistics of the normalised clip, whatever the chunking."""
    model = models["group"]
    raw = torch.randn(12800) * 0.3 + 0.05
    mean, scale = float(raw.double().mean()), float(raw.double().std(unbiased=False)) * 1.1
    conv, norm = first_group_norm(model)  # type: ignore[misc]
    running = RunningGroupStats(conv, norm)
    assert running.stats(mean, scale) is None
    start, index = 0, 0
    while start < raw.numel():
        running.update(raw[start : start + sizes[index % len(sizes)]])
        start += sizes[index % len(sizes)]
        index += 1
    expected = group_norm_stats(model, ((raw - mean) / scale)[None])
    actual = running.stats(mean, scale)
    assert expected is not None
    assert actual is not None
    for got, want in zip(actual, expected):
        # float32 moments of 12800 samples summed per chunk vs in one pass, then the convolution's window
        depth = 3 * raw.numel() + conv.weight[0].numel()
        assert_rounding_close(got.double(), want.double(), depth=depth, dtype=torch.float32)
