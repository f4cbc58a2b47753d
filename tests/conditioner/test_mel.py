"""The light log-mel encoder: filterbank, spectrum, frame alignment, causality and receptive field, training."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from motionkit.conditioner import MelAudioEncoder
from motionkit.conditioner.mel import LogMel, hz_to_mel, mel_filterbank, mel_to_hz
from motionkit.config import ConditionerConfig, MelEncoderConfig
from motionkit.testing.tolerances import TRANSCENDENTAL_DEPTH, rounding_tolerance

CONFIG = ConditionerConfig(encoder="mel", audio_dim=12, mel=MelEncoderConfig(n_mels=20, channels=16, layers=3))
Speech = Callable[..., np.ndarray]


@pytest.fixture(scope="module")
def encoder() -> MelAudioEncoder:
    torch.manual_seed(0)
    return MelAudioEncoder(CONFIG).eval()


def test_filterbank_is_the_triangle_definition() -> None:
    n_freqs, n_mels, rate, low, high = 201, 24, 16000, 50.0, 7600.0
    fb = mel_filterbank(n_freqs, n_mels, rate, low, high)
    assert fb.shape == (n_mels, n_freqs)
    mels = np.linspace(2595 * np.log10(1 + low / 700), 2595 * np.log10(1 + high / 700), n_mels + 2)
    edges = 700 * (10 ** (mels / 2595) - 1)
    freqs = np.linspace(0, rate / 2, n_freqs)
    # float32 edges (hz -> mel -> hz: log10, a power, 6 arithmetic steps) and slopes (f - edge) / width (3): an
    # error of u f in a frequency f inside a triangle moves its value by u f / (the triangle's narrower side)
    depth = 2 * TRANSCENDENTAL_DEPTH + 6 + 3
    for m in range(n_mels):
        expected = np.interp(freqs, edges[m : m + 3], [0.0, 1.0, 0.0], left=0.0, right=0.0)
        atol = rounding_tolerance(torch.float32, depth, float(edges[m + 2] / np.diff(edges[m : m + 3]).min()))
        np.testing.assert_allclose(fb[m].numpy(), expected, atol=atol)
    torch.testing.assert_close(
        mel_to_hz(hz_to_mel(torch.tensor([0.0, 440.0, 8000.0]))), torch.tensor([0.0, 440.0, 8000.0])
    )


def test_log_mel_against_numpy_fft() -> None:
    config = MelEncoderConfig(n_mels=10)
    log_mel = LogMel(config, 16000)
    signal = np.random.default_rng(0).standard_normal(2000).astype(np.float32)
    out = log_mel(torch.from_numpy(signal)[None])[0]
    frames = (2000 - 400) // 160 + 1
    assert out.shape == (10, frames)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hann
    fb = mel_filterbank(201, 10, 16000, 0.0, 8000.0).double().numpy()
    for k in (0, 3, frames - 1):
        power = np.abs(np.fft.rfft(signal[160 * k : 160 * k + 400] * window)) ** 2
        energy = fb @ power + 1e-5
        # float32 energies: a 400-term transform, squaring (2), 201 filter taps; log turns the absolute error of an
        # energy into a relative one, then rounds once more (a transcendental).
        energy_error = rounding_tolerance(torch.float32, 400 + 2 + 201, float(energy.max()))
        allowed = energy_error / energy + rounding_tolerance(
            torch.float32, TRANSCENDENTAL_DEPTH, float(np.abs(np.log(energy)).max())
        )
        assert np.all(np.abs(out[:, k].numpy() - np.log(energy)) <= allowed), k


def test_a_tone_lights_up_its_band() -> None:
    config = MelEncoderConfig(n_mels=40)
    t = np.arange(4000) / 16000
    tone = torch.from_numpy(np.sin(2 * np.pi * 1000 * t).astype(np.float32))[None]
    band = int(LogMel(config, 16000)(tone)[0].mean(-1).argmax())
    centres = mel_to_hz(torch.linspace(0.0, float(hz_to_mel(torch.tensor(8000.0))), 42))[1:-1]
    assert abs(float(centres[band]) - 1000) < float(centres[band + 1] - centres[band])


@settings(max_examples=10)
@given(st.integers(min_value=640, max_value=6000))
def test_frame_alignment(encoder: MelAudioEncoder, num_samples: int) -> None:
    waveform = torch.randn(2, num_samples)
    frames = -(-num_samples // 640)
    assert encoder.features(waveform).shape == (2, 4 * 20, frames)
    with torch.no_grad():
        assert encoder(waveform).shape == (2, frames, 12)


def test_causal_with_the_stated_receptive_field(encoder: MelAudioEncoder) -> None:
    """Frame t depends on samples [640 (t - L(k-1)) - (n_fft - hop), 640 (t + 1)) and on nothing else."""
    torch.manual_seed(1)
    waveform = torch.randn(1, 640 * 30)
    t, field = 20, CONFIG.mel.receptive_field_frames
    assert field == 3 * 4
    first = 640 * (t - field) - (400 - 160)
    with torch.no_grad():
        base = encoder(waveform)
        future = waveform.clone()
        future[:, 640 * (t + 1) :] += torch.randn(1, 640 * (30 - t - 1))
        past = waveform.clone()
        past[:, :first] = torch.randn(1, first)
        inside = waveform.clone()
        inside[:, first + 1] += 5.0  # the periodic Hann window is 0 at the very first sample
        inside_last = waveform.clone()
        inside_last[:, 640 * (t + 1) - 1] += 5.0
        assert torch.equal(encoder(future)[:, : t + 1], base[:, : t + 1])
        assert torch.equal(encoder(past)[:, t], base[:, t])
        assert not torch.equal(encoder(inside)[:, t], base[:, t])
        assert not torch.equal(encoder(inside_last)[:, t], base[:, t])


def test_silence_gives_constant_features(encoder: MelAudioEncoder) -> None:
    """Beyond the receptive field of the clip start (where the causal padding shows) silence is stationary."""
    with torch.no_grad():
        out = encoder(torch.zeros(1, 640 * 20))
    torch.testing.assert_close(out[:, CONFIG.mel.receptive_field_frames + 1 :], out[:, -1:].expand(1, 7, 12))


def test_mel_encoder_trains(speech: Speech) -> None:
    torch.manual_seed(2)
    encoder = MelAudioEncoder(CONFIG)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=1e-2)
    waveform = torch.from_numpy(np.stack([speech(6400, seed=1), speech(6400, seed=2)]))
    target = torch.randn(2, 10, 12) * 0.1
    losses = []
    for _ in range(30):
        loss = (encoder(waveform) - target).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.grad is not None for p in encoder.parameters())
    assert set(encoder.state_dict()) == {n for n, _ in encoder.named_parameters()}  # no derived buffers saved
