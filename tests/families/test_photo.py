"""The photo family: its preset agrees with the synthetic world, the parameter track is in real units and clamped,
edits are exact on its motion space, and its model folders hold the motion model only."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from motionkit.conditioner import Conditioner
from motionkit.data.synthetic import PARAM_NAMES, FaceParams, MotionConfig
from motionkit.data.synthetic.params import UNIT_PARAMS
from motionkit.errors import CheckpointError, ConfigError, ShapeError
from motionkit.families import FAMILIES, preset
from motionkit.families.photo import ParameterMotion, PhotoMotionConfig, parameter_space
from motionkit.families.photo.config import ParameterAxis
from motionkit.families.photo.folder import save_components
from motionkit.families.photo.motion import AxisOnset, AxisSmoothing
from motionkit.families.photo.presets import HEAD_ONSET
from motionkit.families.photo.renderer import PhotoRenderer
from motionkit.model_folder import load_model, read_config, save_model
from motionkit.protocols import MotionGenerator, SpeechConditioner
from motionkit.space.edits import EditProgram, Freeze, Keyframes, Oscillate
from motionkit.types import Conditions, MotionTrack

FPS = 25.0


def tiny() -> PhotoMotionConfig:
    """The photo-motion preset at a test size."""
    config = preset("photo-motion", PhotoMotionConfig)
    flow = config.flow.model_copy(update={"hidden_dim": 16, "depth": 1, "num_heads": 2, "time_embed_dim": 8})
    return config.model_copy(update={"flow": flow})


def conditions(frames: int, audio_dim: int, seed: int = 0) -> Conditions:
    generator = torch.Generator().manual_seed(seed)
    emotion = torch.full((1, frames, 7), 1 / 7)
    return Conditions(torch.randn(1, frames, audio_dim, generator=generator), emotion, fps=FPS)


def test_the_preset_axes_are_the_synthetic_worlds_parameters() -> None:
    config = preset("photo-motion", PhotoMotionConfig)
    assert config.axis_names == PARAM_NAMES
    limits = MotionConfig()
    ranges = {"yaw": limits.yaw_limit, "pitch": limits.pitch_limit, "roll": limits.roll_limit}
    neutral = FaceParams.neutral(1).as_dict()
    for axis in config.axes:
        if axis.name in UNIT_PARAMS:
            assert (axis.unit, axis.minimum, axis.maximum) == ("ratio", 0.0, 1.0)
        else:
            assert (axis.unit, axis.minimum, axis.maximum) == ("deg", -ranges[axis.name], ranges[axis.name])
        assert axis.neutral == neutral[axis.name][0]
    assert config.latent_dim == config.flow.motion_dim == len(PARAM_NAMES)
    assert "photo" in FAMILIES
    assert any("yaw (deg)" in line for _, line in config.summary())


def test_inconsistent_configurations_are_refused() -> None:
    config = tiny()
    with pytest.raises(ValueError, match="motion_dim 7 != the 6 axes"):
        PhotoMotionConfig.model_validate({**config.model_dump(), "axes": config.model_dump()["axes"][:6]})
    with pytest.raises(ValueError, match="need minimum < maximum and the neutral value inside"):
        PhotoMotionConfig.model_validate(
            {**config.model_dump(), "axes": [{"name": "yaw", "unit": "deg", "minimum": 1, "maximum": 2}] * 7}
        )


def test_tracks_are_in_real_units_clamped_and_seeded() -> None:
    config = tiny()
    motion = ParameterMotion(config).eval()
    mean = torch.tensor([1.0, -2.0, 0.5, 0.3, 0.5, 0.05, 0.3])
    scale = torch.tensor([40.0, 30.0, 20.0, 2.0, 2.0, 2.0, 2.0])  # wide: the raw flow output leaves every range
    motion.set_normalisation(mean, scale)
    values = torch.tensor([[3.0, -1.0, 2.0, 0.2, 0.4, 0.0, 0.6]])
    torch.testing.assert_close(motion.denormalise(motion.normalise(values)), values)
    track = motion.sample(conditions(73, config.flow.audio_dim), motion.neutral(), seed=3)
    again = motion.sample(conditions(73, config.flow.audio_dim), motion.neutral(), seed=3)
    assert track.latents.shape == (1, 73, 7)
    assert torch.equal(track.latents, again.latents)
    low = torch.tensor([a.minimum for a in config.axes])
    high = torch.tensor([a.maximum for a in config.axes])
    assert bool(((track.latents >= low) & (track.latents <= high)).all())
    assert bool((track.latents == high).any() or (track.latents == low).any())  # the clamp was needed
    torch.testing.assert_close(track.source, motion.neutral())
    raw = motion.flow.sample(conditions(73, config.flow.audio_dim), motion.normalise(motion.neutral()), seed=3)
    torch.testing.assert_close(track.latents, motion.track_output(motion.neutral())(raw.latents))
    assert isinstance(motion, MotionGenerator)


def test_axis_smoothing_is_a_causal_exponential_filter_carried_across_chunks() -> None:
    """s_t = a s_(t-1) + (1 - a) z_t per axis, s_0 = z_0; chunk by chunk equals whole; a = 0 passes bit for bit."""
    frames = torch.randn(2, 20, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = np.array([0.0, 0.5, 0.9])
    expected = frames.numpy().copy()
    for t in range(1, 20):
        expected[:, t] = a * expected[:, t - 1] + (1 - a) * frames.numpy()[:, t]
    whole = AxisSmoothing(torch.from_numpy(a))(frames)
    np.testing.assert_allclose(whole.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(whole[..., 0], frames[..., 0])
    chunked = AxisSmoothing(torch.from_numpy(a))
    pieces = [chunked(part) for part in frames.split([7, 1, 0, 12], dim=1)]
    assert torch.equal(torch.cat(pieces, dim=1), whole)
    still = torch.zeros(3, dtype=torch.float64)
    assert AxisSmoothing(still)(frames) is frames
    with pytest.raises(ValueError, match="smoothing"):
        ParameterAxis(name="yaw", unit="deg", minimum=-1.0, maximum=1.0, smoothing=1.0)


def test_axis_onset_starts_at_the_source_and_eases_into_the_track() -> None:
    """x'_t = x_t - w_t (x_0 - source), w_t = (1 + cos(pi t / N)) / 2 for t < N, else 0, per axis: frame 0 is the
    source, the correction shrinks monotonically, frames from N on and axes with N = 0 pass bit for bit, and chunk
    by chunk equals whole."""
    generator = torch.Generator().manual_seed(1)
    frames = torch.randn(2, 30, 3, generator=generator, dtype=torch.float64) * 5
    lengths = torch.tensor([0, 4, 25])
    source = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    expected = frames.numpy().copy()
    for axis, n in enumerate(lengths.tolist()):
        for t in range(min(n, 30)):
            w = (1 + np.cos(np.pi * t / n)) / 2
            expected[:, t, axis] -= w * (frames.numpy()[:, 0, axis] - source.numpy()[:, axis])
    whole = AxisOnset(lengths, source)(frames)
    np.testing.assert_allclose(whole.numpy(), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(whole[:, 0, 1:], source[:, 1:], rtol=0, atol=1e-12)
    assert torch.equal(whole[..., 0], frames[..., 0])
    assert torch.equal(whole[:, 25:], frames[:, 25:])
    assert torch.equal(whole[:, 4:, 1], frames[:, 4:, 1])
    correction = (frames - whole)[:, :25, 2].abs()
    assert bool((correction[:, 1:] <= correction[:, :-1] + 1e-12).all())
    chunked = AxisOnset(lengths, source)
    parts = frames.split([1, 0, 3, 21, 5], dim=1)
    pieces = [chunked(part) for part in parts]
    assert torch.equal(torch.cat(pieces, dim=1), whole)
    assert pieces[-1] is parts[-1]  # past every onset: the chunk itself
    with pytest.raises(ValueError, match="onset"):
        ParameterAxis(name="yaw", unit="deg", minimum=-1.0, maximum=1.0, onset=-0.5)


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 20), max_size=5),
    seed=st.integers(0, 2**16),
)
def test_axis_onset_chunk_by_chunk_equals_whole(lengths: list[int], cuts: list[int], seed: int) -> None:
    """Any onset lengths, any chunking of a track: the frames are the whole track's, bit for bit."""
    frames = torch.randn(1, 20, len(lengths), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    source = torch.randn(1, len(lengths), generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    whole = AxisOnset(torch.tensor(lengths), source)(frames)
    bounds = sorted({0, 20, *cuts})
    chunked = AxisOnset(torch.tensor(lengths), source)
    pieces = [chunked(frames[:, a:b]) for a, b in itertools.pairwise(bounds)]
    assert torch.equal(torch.cat(pieces, dim=1), whole)


def test_tracks_start_at_the_portraits_pose() -> None:
    """The preset eases the head angles in over HEAD_ONSET seconds: frame 0 is the portrait's own pose (here a
    turned one, inside the axes' ranges), the rest of the first frame is the sampled one, and from the onset's last
    frame on the track is the un-eased one."""
    config = tiny()
    eased = [axis.name for axis in config.axes if axis.onset > 0]
    assert eased == ["yaw", "pitch", "roll"]
    assert {axis.onset for axis in config.axes if axis.onset > 0} == {HEAD_ONSET}
    motion = ParameterMotion(config).eval()
    motion.set_normalisation(torch.tensor([0.0, 0.0, 0.0, 0.3, 0.5, 0.05, 0.3]), torch.tensor([8.0, 4, 3, 1, 1, 1, 1]))
    portrait = torch.tensor([[6.0, -3.0, 2.0, 0.0, 0.5, 0.0, 0.0]])
    speech = conditions(90, config.flow.audio_dim, seed=2)
    track = motion.sample(speech, portrait, seed=5, nfe=3).latents
    plain = config.model_copy(update={"axes": tuple(a.model_copy(update={"onset": 0.0}) for a in config.axes)})
    reference = ParameterMotion(plain).eval()
    reference.load_state_dict(motion.state_dict())
    un_eased = reference.sample(speech, portrait, seed=5, nfe=3).latents
    head = [PARAM_NAMES.index(name) for name in eased]
    rest = [i for i in range(len(PARAM_NAMES)) if i not in head]
    torch.testing.assert_close(track[0, 0, head], portrait[0, head], rtol=0, atol=1e-5)
    assert not torch.allclose(un_eased[0, 0, head], portrait[0, head], atol=0.1)  # the sample starts elsewhere
    assert torch.equal(track[..., rest], un_eased[..., rest])
    onset_frames = round(HEAD_ONSET * config.conditioner.fps)
    assert torch.equal(track[:, onset_frames:], un_eased[:, onset_frames:])


def test_smoothed_tracks_are_the_same_sampled_whole_streamed_or_live() -> None:
    """The preset smooths and eases in the head angles only; the state of both follows the track through windows
    and chunks, so streaming and live sampling (whole windows, no lookahead) give the offline track bit for bit."""
    config = tiny()
    smoothed = [axis.name for axis in config.axes if axis.smoothing > 0]
    assert smoothed == ["yaw", "pitch", "roll"]
    motion = ParameterMotion(config).eval()
    frames = 2 * config.flow.window + 7
    speech = conditions(frames, config.flow.audio_dim, seed=4)
    offline = motion.sample(speech, motion.neutral(), seed=6, nfe=3).latents
    streamed = torch.cat([p.latents for p in motion.stream([speech], motion.neutral(), seed=6, nfe=3)], dim=1)
    assert torch.equal(streamed, offline)
    session = motion.live(motion.neutral(), chunk_frames=config.flow.window, lookahead_frames=0, seed=6, nfe=3)
    pushed = [*session.push(speech.slice(0, 60)), *session.push(speech.slice(60, frames)), *session.finish()]
    assert torch.equal(torch.cat(pushed, dim=1), offline)
    raw = motion.denormalise(motion.flow.sample(speech, motion.normalise(motion.neutral()), seed=6, nfe=3).latents)
    head = [PARAM_NAMES.index(name) for name in smoothed]
    rest = [i for i in range(len(PARAM_NAMES)) if i not in head]
    assert torch.equal(offline[..., rest], raw[..., rest])
    speed = lambda track: track[:, 1:].sub(track[:, :-1]).abs().mean()  # noqa: E731
    assert speed(offline[..., head]) < speed(raw[..., head])


def test_bad_normalisation_and_sources_are_refused() -> None:
    motion = ParameterMotion(tiny())
    with pytest.raises(ConfigError, match="positive scales"):
        motion.set_normalisation(torch.zeros(7), torch.zeros(7))
    with pytest.raises(ShapeError, match="scale"):
        motion.set_normalisation(torch.zeros(7), torch.ones(6))
    with pytest.raises(ShapeError, match=r"source_motion.*\(B, 7\) parameters"):
        motion.sample(conditions(10, 64), torch.zeros(1, 6), seed=0)


def test_edits_are_exact_on_the_parameter_space() -> None:
    space = parameter_space(tiny())
    assert {name: axis.unit for name, axis in space.axes.items()} == {
        name: ("ratio" if name in UNIT_PARAMS else "deg") for name in PARAM_NAMES
    }
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 150, 7, generator=generator)
    track = MotionTrack(latents, fps=FPS, source=torch.zeros(1, 7))
    nod = Oscillate.nod(amplitude=8.0, frequency=1.0, start=1.0, end=5.0, fade_in=0.0, fade_out=0.0)
    edited = EditProgram(edits=[nod, Keyframes.turn(15.0, start=2.0, duration=1.0)]).apply(track, space)
    change = (edited.latents - latents)[0]
    times = torch.arange(150, dtype=torch.float64) / FPS
    inside = (times >= 1.0) & (times < 5.0)
    expected_nod = torch.where(inside, 8.0 * torch.sin(2 * torch.pi * (times - 1.0)), 0.0)
    torch.testing.assert_close(change[:, PARAM_NAMES.index("pitch")].double(), expected_nod, atol=1e-5, rtol=0)
    assert float(change[-1, PARAM_NAMES.index("yaw")]) == pytest.approx(15.0, abs=1e-5)  # the turn, held
    untouched = [i for i, name in enumerate(PARAM_NAMES) if name not in ("yaw", "pitch")]
    assert torch.equal(change[:, untouched], torch.zeros(150, len(untouched)))
    lips = EditProgram(edits=[Freeze.lip_only(("mouth_open", "mouth_width"))]).apply(track, space).latents[0]
    moving = [PARAM_NAMES.index("mouth_open"), PARAM_NAMES.index("mouth_width")]
    torch.testing.assert_close(lips[:, moving], latents[0][:, moving])
    still = [i for i in range(7) if i not in moving]
    assert torch.equal(lips[:, still], torch.zeros(150, len(still)))  # held at the source's values


def test_model_folders_hold_the_motion_model_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tiny()
    torch.manual_seed(0)
    motion, conditioner = ParameterMotion(config).eval(), Conditioner(config.conditioner).eval()
    motion.set_normalisation(torch.arange(7.0), torch.full((7,), 3.0))
    folder = save_model(
        tmp_path / "model",
        config=config,
        renderer=None,
        conditioner=conditioner,
        sampler=motion,
        space=parameter_space(config),
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "axes.json",
        "conditioner",
        "config.json",
        "manifest.json",
        "motion.safetensors",
    ]
    assert read_config(folder) == config
    parts = load_model(folder)
    assert isinstance(parts.renderer, PhotoRenderer)
    assert parts.space.axes == parts.renderer.space.axes
    assert isinstance(parts.conditioner, SpeechConditioner)
    assert isinstance(parts.sampler, ParameterMotion)
    torch.testing.assert_close(parts.sampler.mean, torch.arange(7.0))
    assert parts.space.axes == parameter_space(config).axes
    waveform = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    before = motion.sample(conditioner(waveform, emotion="neutral"), motion.neutral(), seed=1)
    after = parts.sampler.sample(parts.conditioner(waveform, emotion="neutral"), motion.neutral(), seed=1)
    assert torch.equal(before.latents, after.latents)


def test_saving_a_renderer_or_mismatched_components_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tiny()
    motion, conditioner = ParameterMotion(config), Conditioner(config.conditioner)
    with pytest.raises(CheckpointError, match="draws with the geometric photo renderer, not a object"):
        save_components(tmp_path, config=config, renderer=object(), conditioner=conditioner, sampler=motion)
    other = ParameterMotion(preset("photo-motion", PhotoMotionConfig))
    with pytest.raises(CheckpointError, match="configurations other than the model configuration"):
        save_components(tmp_path, config=config, renderer=None, conditioner=conditioner, sampler=other)
