"""Audio loading (files of every kind, arrays, layouts, resampling) and wav2vec2 normalisation."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.signal import resample_poly

from motionkit.errors import AudioError
from motionkit.io.audio import SILENCE_DBFS, is_silent, load_audio, normalize_waveform, resample
from motionkit.testing.tolerances import TRANSCENDENTAL_DEPTH, rounding_tolerance


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.fft.rfftfreq(signal.size, 1.0 / rate)[np.argmax(spectrum)])


def write_pyav(path: Path, signal: np.ndarray, rate: int, codec: str, video: bool = False) -> None:
    """Encode a stereo track (right channel at half amplitude) with PyAV, optionally with a small video stream."""
    planar = np.stack([signal, 0.5 * signal]).astype(np.float32)
    with av.open(str(path), "w") as container:
        if video:
            vstream = container.add_stream("libx264", rate=25)
            vstream.width, vstream.height, vstream.pix_fmt = 32, 32, "yuv420p"
        astream = container.add_stream(codec, rate=rate)
        astream.layout = "stereo"
        frame_size = astream.codec_context.frame_size or 1024
        # Encoders want their own sample format (mp3: s32p, aac: fltp); PyAV converts.
        converter = av.AudioResampler(format=astream.codec_context.format.name, layout="stereo", rate=rate)
        for start in range(0, planar.shape[1], frame_size):
            block = np.ascontiguousarray(planar[:, start : start + frame_size])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            for converted in converter.resample(frame):
                container.mux(astream.encode(converted))
        container.mux(astream.encode(None))
        if video:
            for i in range(5):
                image = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
                container.mux(vstream.encode(image))
            container.mux(vstream.encode(None))


# ---------------------------------------------------------------------------------------------------------------
# Files


def test_pcm16_wav_is_int16_over_32768(tmp_path: Path) -> None:
    pcm = (np.random.default_rng(0).standard_normal(8000) * 3000).astype(np.int16)
    path = tmp_path / "speech.wav"
    sf.write(path, pcm, 16000, subtype="PCM_16")
    out = load_audio(path)
    assert out.dtype == np.float32
    assert out.shape == (8000,)
    np.testing.assert_array_equal(out, pcm.astype(np.float32) / 32768.0)


@pytest.mark.parity
def test_fixture_wav_matches_reference_loader() -> None:
    from motionkit.testing.parity import load_fixture_wav, parity_fixture

    fixture = parity_fixture()
    np.testing.assert_array_equal(load_audio(fixture.audio_path), load_fixture_wav(fixture.audio_path))


def test_stereo_44k_wav_is_mixed_then_resampled(tmp_path: Path) -> None:
    left, right = tone(300, 44100, 0.5), tone(700, 44100, 0.5, 0.1)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    out = load_audio(path)
    ratio = Fraction(16000, 44100)
    expected = resample_poly(((left.astype(np.float64) + right) / 2), ratio.numerator, ratio.denominator)
    assert out.shape == (int(np.ceil(left.size * 16000 / 44100)),)
    # ours rounds the mix to float32 before the float64 filter, and both outputs are cast to float32 (3 roundings;
    # the filter passes the inputs' rounding on at most at their size: its taps' squares sum below 1)
    atol = rounding_tolerance(torch.float32, 3, float(np.abs(expected).max()))
    np.testing.assert_allclose(out, expected.astype(np.float32), rtol=0, atol=atol)


def test_flac_is_lossless(tmp_path: Path) -> None:
    signal = tone(440, 16000, 1.0)
    path = tmp_path / "clip.flac"
    sf.write(path, signal, 16000, subtype="PCM_16")
    out = load_audio(path)
    assert out.shape == signal.shape
    np.testing.assert_allclose(out, signal, atol=1.0 / 32768)


def test_ogg_vorbis(tmp_path: Path) -> None:
    path = tmp_path / "clip.ogg"
    sf.write(path, tone(440, 24000, 1.0), 24000, subtype="VORBIS")
    out = load_audio(path)
    assert out.shape == (16000,)
    assert dominant_frequency(out, 16000) == pytest.approx(440, abs=2)
    assert np.abs(out[4000:12000]).max() == pytest.approx(0.3, rel=0.1)


@pytest.mark.parametrize(("suffix", "codec"), [(".mp3", "mp3"), (".m4a", "aac")])
def test_compressed_audio_through_pyav(tmp_path: Path, suffix: str, codec: str) -> None:
    path = tmp_path / f"clip{suffix}"
    write_pyav(path, tone(440, 22050, 1.0), 22050, codec)
    out = load_audio(path)
    assert out.dtype == np.float32
    # Encoder delay and frame padding add at most a few codec frames.
    assert 16000 <= out.size <= 16000 + 3 * 1152 * 16000 // 22050 + 1
    assert dominant_frequency(out, 16000) == pytest.approx(440, abs=2)
    # Stereo (1, 0.5) averaged to mono: amplitude 0.3 * 0.75.
    assert np.abs(out[4000:12000]).max() == pytest.approx(0.225, rel=0.1)


def test_audio_track_of_video(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_pyav(path, tone(523, 48000, 0.5), 48000, "aac", video=True)
    out = load_audio(path)
    assert dominant_frequency(out, 16000) == pytest.approx(523, abs=3)


def test_video_without_audio_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode(None))
    with pytest.raises(AudioError, match="no audio track"):
        load_audio(path)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")
    garbage = tmp_path / "garbage.mp3"
    garbage.write_text("this is not audio")
    with pytest.raises(AudioError, match=r"cannot read .*garbage\.mp3"):
        load_audio(garbage)
    fake_wav = tmp_path / "fake.wav"
    fake_wav.write_bytes(b"RIFF\x00\x00")
    with pytest.raises(AudioError, match=r"fake\.wav"):
        load_audio(fake_wav)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.int16), 16000, subtype="PCM_16")
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(path)


def test_sample_rate_with_a_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(200, 16000, 0.1), 16000)
    with pytest.raises(AudioError, match="carry their own rate"):
        load_audio(path, sample_rate=16000)


# ---------------------------------------------------------------------------------------------------------------
# Arrays


def test_array_layouts_give_the_same_mono_signal() -> None:
    rng = np.random.default_rng(1)
    stereo = rng.standard_normal((2, 1000)).astype(np.float32)
    mono = stereo.mean(axis=0)
    for layout in (stereo, stereo.T.copy(), torch.from_numpy(stereo), torch.from_numpy(stereo.T.copy())):
        # the mean of two float32 values is their correctly rounded sum halved (exact), in float32 or in float64
        np.testing.assert_array_equal(load_audio(layout, sample_rate=16000), mono)
    np.testing.assert_array_equal(load_audio(mono, sample_rate=16000), mono)


def test_integer_pcm_is_scaled() -> None:
    np.testing.assert_array_equal(
        load_audio(np.array([-32768, 0, 16384], np.int16), 16000), np.array([-1.0, 0.0, 0.5], np.float32)
    )
    np.testing.assert_array_equal(
        load_audio(np.array([-(2**31), 2**30], np.int32), 16000), np.array([-1.0, 0.5], np.float32)
    )
    np.testing.assert_array_equal(load_audio(np.array([0, 128, 192], np.uint8), 16000), [-1.0, 0.0, 0.5])


def test_input_arrays_are_not_modified() -> None:
    array = np.linspace(-1, 1, 3000, dtype=np.float32).reshape(2, 1500)
    tensor = torch.from_numpy(array.copy())
    before_a, before_t = array.copy(), tensor.clone()
    out = load_audio(array, sample_rate=16000)
    out[:] = 7.0
    load_audio(tensor, sample_rate=8000)
    np.testing.assert_array_equal(array, before_a)
    assert torch.equal(tensor, before_t)


def test_array_errors() -> None:
    with pytest.raises(AudioError, match="needs its sample rate"):
        load_audio(np.zeros(100, np.float32))
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="NaN or infinite"):
        load_audio(np.array([0.0, np.nan], np.float32), 16000)
    with pytest.raises(AudioError, match="NaN or infinite"):
        load_audio(torch.tensor([0.0, float("inf")]), 16000)
    with pytest.raises(AudioError, match="batch of clips"):
        load_audio(np.zeros((40, 5000), np.float32), 16000)
    with pytest.raises(AudioError, match=r"\(N,\), \(C, N\) or \(N, C\)"):
        load_audio(np.zeros((1, 2, 100), np.float32), 16000)
    with pytest.raises(AudioError, match="floats or integer PCM"):
        load_audio(np.array(["a", "b"]), 16000)
    with pytest.raises(AudioError, match="file path, a numpy array or a torch tensor"):
        load_audio([0.0, 0.1], 16000)  # type: ignore[arg-type]
    with pytest.raises(AudioError, match="positive integer"):
        load_audio(np.zeros(10, np.float32), sample_rate=-5)


@given(
    st.integers(min_value=1, max_value=5000),
    st.sampled_from([8000, 11025, 22050, 24000, 44100, 48000]),
)
def test_resampled_length(num_samples: int, rate: int) -> None:
    out = resample(np.zeros(num_samples, np.float32), rate, 16000)
    assert out.shape == (-(-num_samples * 16000 // rate),)
    assert out.dtype == np.float32


def test_resampling_keeps_a_tone() -> None:
    out = load_audio(tone(1000, 48000, 1.0), sample_rate=48000)
    assert out.size == 16000
    assert dominant_frequency(out, 16000) == pytest.approx(1000, abs=1)
    # not rounding: the polyphase filter's passband ripple (Kaiser window, beta 5) on a 1 kHz tone
    np.testing.assert_allclose(out[2000:-2000], tone(1000, 16000, 1.0)[2000:-2000], atol=2e-3)


# ---------------------------------------------------------------------------------------------------------------
# Normalisation


def test_normalisation_is_the_feature_extractor_bit_for_bit() -> None:
    from transformers import Wav2Vec2FeatureExtractor

    extractor = Wav2Vec2FeatureExtractor(do_normalize=True, sampling_rate=16000, return_attention_mask=False)
    rng = np.random.default_rng(3)
    for size in (640, 16000, 41000):
        clip = (rng.standard_normal(size) * 0.1 + 0.01).astype(np.float32)
        expected = extractor(clip, sampling_rate=16000, return_tensors="np").input_values[0]
        np.testing.assert_array_equal(normalize_waveform(clip), expected)


@pytest.mark.parity
def test_normalisation_matches_the_parity_input() -> None:
    from motionkit.testing.parity import load_fixture_wav, parity_fixture

    fixture = parity_fixture()
    wav = load_fixture_wav(fixture.audio_path)
    fixture.assert_close("input_audio", torch.from_numpy(normalize_waveform(wav))[None])
    fixture.assert_close("trunc_input_audio", torch.from_numpy(normalize_waveform(wav[:41000]))[None])


def test_silence_stays_silent() -> None:
    np.testing.assert_array_equal(normalize_waveform(np.zeros(1000, np.float32)), np.zeros(1000, np.float32))


@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(2, 300)), elements=st.floats(-1, 1, width=32)))
def test_normalisation_properties(batch: np.ndarray) -> None:
    before = batch.copy()
    out = normalize_waveform(batch)
    np.testing.assert_array_equal(batch, before)
    assert out.shape == batch.shape
    assert out.dtype == np.float32
    for row, normed in zip(batch, out):
        np.testing.assert_array_equal(normed, normalize_waveform(row))
        # float32 mean and variance (N terms each), then (x - mean) / sqrt(var + eps): a rounding of size u |x|
        # reaches the output divided by the spread, and the variance of the output squares that size
        variance = float(row.astype(np.float64).var())
        size = float(np.abs(row).max()) / np.sqrt(variance + 1e-7)
        depth = 3 * row.size + TRANSCENDENTAL_DEPTH + 3
        assert abs(float(normed.astype(np.float64).mean())) <= rounding_tolerance(torch.float32, depth, size)
        expected_var = variance / (variance + 1e-7)
        allowed = rounding_tolerance(torch.float32, depth + row.size, size**2)
        assert float(normed.astype(np.float64).var()) == pytest.approx(expected_var, rel=0, abs=allowed)


def test_normalisation_rejects_bad_shapes() -> None:
    with pytest.raises(AudioError, match=r"\(N,\) or \(B, N\)"):
        normalize_waveform(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(AudioError, match="N >= 1"):
        normalize_waveform(np.zeros(0, np.float32))


def test_silence_is_a_peak_below_the_silence_level() -> None:
    quiet = 10.0 ** (SILENCE_DBFS / 20.0)
    assert is_silent(np.zeros(16000, dtype=np.float32))
    assert is_silent(np.array([], dtype=np.float32))
    assert is_silent(np.full(100, 0.9 * quiet, dtype=np.float32))
    assert not is_silent(np.r_[np.zeros(99), -1.1 * quiet].astype(np.float32))
