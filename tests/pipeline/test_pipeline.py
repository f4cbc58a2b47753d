"""Pipeline and Video on a tiny random model: stages, determinism, laziness, edits, saving, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from motionkit import EditProgram, MotionTrack, Pipeline, Video, runtime
from motionkit.config import GuidanceConfig
from motionkit.errors import (
    AudioError,
    CheckpointError,
    ConfigError,
    EditError,
    FaceNotFoundError,
    ImageError,
    OutputError,
    ShapeError,
)
from motionkit.io import read_video, tensor_to_image
from motionkit.space.edits import Keyframes, Oscillate
from motionkit.testing.signals import speech_like
from motionkit.testing.tolerances import assert_rounding_close, layers_depth

FRAMES = 33  # ceil(1.3 s * 25)
SAMPLE_RATE = 16000

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def video(pipeline: Pipeline, portrait: Path, speech: Path) -> Video:
    return pipeline.generate(portrait, speech, "neutral", seed=3, crop=False)


def test_generate_returns_a_lazy_video_of_the_clip(pipeline: Pipeline, video: Video) -> None:
    assert len(video) == FRAMES
    assert video.fps == 25.0
    assert video.track.latents.shape == (1, FRAMES, pipeline.renderer.config.latent_dim)
    assert video.frame_shape == (64, 64)
    assert video.audio is not None
    assert video.audio.shape == (round(1.3 * SAMPLE_RATE),)
    assert video.sampled_track is video.track  # no edits
    assert video.duration == pytest.approx(FRAMES / 25)


def test_nothing_is_rendered_before_the_frames_are_asked_for(
    pipeline: Pipeline, portrait: Path, speech: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    render = pipeline.renderer.render

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline.renderer, "render", counting)
    video = pipeline.generate(portrait, speech, "neutral", crop=False)
    assert calls == []
    first = next(video.frames())
    assert calls == [1]
    assert first.shape == (64, 64, 3)
    assert first.dtype == np.uint8


def test_same_seed_same_motion_other_seed_other_motion(pipeline: Pipeline, portrait: Path, speech: Path) -> None:
    a = pipeline.generate(portrait, speech, "neutral", seed=11, crop=False).track.latents
    b = pipeline.generate(portrait, speech, "neutral", seed=11, crop=False).track.latents
    c = pipeline.generate(portrait, speech, "neutral", seed=12, crop=False).track.latents
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_window_by_window_sampling_equals_the_samplers_whole_clip_call(
    pipeline: Pipeline, portrait: Path, speech: Path
) -> None:
    source = pipeline.encode_portrait(portrait, crop=False)
    conditions = pipeline.condition(pipeline.load_audio(speech), "happy")
    guidance = GuidanceConfig(audio_scale=1.5, emotion_scale=3.0)
    expected = pipeline.sampler.sample(conditions, source.motion, seed=5, nfe=4, solver="heun", guidance=guidance)
    stages: list[tuple[str, int, int]] = []
    track = pipeline.sample(
        conditions, source, seed=5, nfe=4, solver="heun", guidance=(1.5, 3.0), progress=lambda *a: stages.append(a)
    )
    assert torch.equal(track.latents, expected.latents)
    assert stages[0] == ("sampling motion", 0, 4)
    assert stages[-1] == ("sampling motion", 4, 4)
    noise = torch.randn(4, 1, pipeline.sampler.config.window, pipeline.sampler.config.motion_dim)
    explicit = pipeline.sampler.sample(conditions, source.motion, noise=noise)
    assert torch.equal(pipeline.sample(conditions, source, seed=123, noise=noise).latents, explicit.latents)


def test_noise_for_the_wrong_number_of_windows_is_refused_before_sampling(
    pipeline: Pipeline, portrait: Path, speech: Path
) -> None:
    noise = torch.randn(3, 1, pipeline.sampler.config.window, pipeline.sampler.config.motion_dim)
    with pytest.raises(ShapeError, match="noise has 3 windows but the clip needs 4"):
        pipeline.generate(portrait, speech, "neutral", noise=noise, crop=False)


def test_edits_as_program_json_or_file_are_the_same(
    pipeline: Pipeline, portrait: Path, speech: Path, video: Video, tmp_path: Path
) -> None:
    program = EditProgram(edits=[Oscillate.nod(amplitude=5.0, end=0.8), Keyframes.turn(10.0, start=0.5, duration=0.4)])
    path = program.save(tmp_path / "edits.json")
    results = [
        pipeline.generate(portrait, speech, "neutral", seed=3, crop=False, edits=edits)
        for edits in (program, program.to_json(), path, str(path))
    ]
    expected = program.apply(video.track, pipeline.motion_space)
    for result in results:
        assert torch.equal(result.track.latents, expected.latents)
        assert torch.equal(result.sampled_track.latents, video.track.latents)
    edited_later = video.with_track(expected)  # as `motionkit demo` edits a generated video
    assert edited_later.track is expected
    assert edited_later.sampled_track is video.track
    assert edited_later.with_track(video.track).sampled_track is video.track
    pitch = pipeline.motion_space.axis("pitch")
    change = pitch.read(pipeline.motion_space.project(results[0].track.latents - video.track.latents)[0])
    assert float(change.abs().max()) == pytest.approx(5.0, rel=0.05)


def test_bad_edits_name_the_problem(pipeline: Pipeline, portrait: Path, speech: Path, tmp_path: Path) -> None:
    with pytest.raises(EditError, match="unknown axis 'jaw'"):
        pipeline.generate(
            portrait, speech, "neutral", crop=False, edits='{"edits": [{"kind": "offset", "axis": "jaw", "value": 1}]}'
        )
    with pytest.raises(EditError, match="does not exist"):
        pipeline.generate(portrait, speech, "neutral", crop=False, edits=tmp_path / "missing.json")


def test_save_writes_every_frame_and_the_audio(video: Video, tmp_path: Path) -> None:
    stages: list[tuple[str, int, int]] = []
    path = video.save(tmp_path / "out.mp4", progress=lambda *a: stages.append(a))
    frames, fps, audio = read_video(path)
    assert frames.shape == (FRAMES, 64, 64, 3)
    assert fps == 25.0
    assert audio is not None
    assert abs(len(audio) - video.audio.shape[0]) <= 1024
    assert stages[0] == ("rendering", 0, FRAMES)
    assert stages[-1] == ("rendering", FRAMES, FRAMES)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_raw_frames_map_to_the_saved_frames(video: Video) -> None:
    raw = list(video.frames(raw=True))
    saved = list(video.frames())
    assert len(raw) == len(saved) == FRAMES
    assert raw[0].dtype == torch.float32
    assert raw[0].shape == (3, 64, 64)
    for r, s in zip(raw[:3], saved[:3]):
        assert np.array_equal(tensor_to_image(r), s)


def test_existing_output_is_refused_before_rendering(
    video: Video, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"keep me")
    monkeypatch.setattr(Video, "chunks", lambda self: pytest.fail("rendered although the output exists"))
    with pytest.raises(OutputError, match="already exists"):
        video.save(target)
    assert target.read_bytes() == b"keep me"


def test_unwritable_output_leaves_nothing(video: Video, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        video.save(tmp_path / "missing" / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_rendering_leaves_no_partial_file(
    video: Video, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = video.chunks()

    def fail_midway(self: Video):  # type: ignore[no-untyped-def]
        yield next(chunks)
        raise RuntimeError("GPU fell off the bus")

    monkeypatch.setattr(Video, "chunks", fail_midway)
    with pytest.raises(RuntimeError, match="bus"):
        video.save(tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_render_a_saved_track_reproduces_the_video(
    pipeline: Pipeline, portrait: Path, video: Video, tmp_path: Path
) -> None:
    path = video.track.save(tmp_path / "motion.safetensors")
    again = pipeline.render(portrait, MotionTrack.load(path), crop=False)
    assert again.audio is None
    for a, b in zip(again.frames(raw=True), video.frames(raw=True)):
        assert torch.equal(a, b)


def test_audio_longer_than_the_track_is_muxed_whole(
    pipeline: Pipeline, portrait: Path, video: Video, speech: Path, tmp_path: Path
) -> None:
    short = pipeline.render(portrait, video.track.slice(0, 5), speech, crop=False)
    frames, _, audio = read_video(short.save(tmp_path / "short.mp4"))
    assert frames.shape[0] == 5
    assert audio is not None
    assert len(audio) > 0.9 * 1.3 * SAMPLE_RATE


def test_render_checks_the_track(pipeline: Pipeline, portrait: Path) -> None:
    with pytest.raises(ShapeError, match="latent size 7"):
        pipeline.render(portrait, MotionTrack(torch.zeros(1, 3, 7)), crop=False)
    with pytest.raises(ShapeError, match="MotionTrack"):
        pipeline.render(portrait, torch.zeros(1, 3, 32), crop=False)  # type: ignore[arg-type]


def test_array_and_tensor_inputs(pipeline: Pipeline, portrait: Path, video: Video) -> None:
    from motionkit.io import load_image

    samples = speech_like(1.3)
    from_array = pipeline.generate(load_image(portrait), samples, "neutral", seed=3, crop=False)
    from_8k = pipeline.generate(portrait, samples[::2].copy(), "neutral", seed=3, crop=False, sample_rate=8000)
    assert from_array.track.frames == from_8k.track.frames == FRAMES
    as_tensor = torch.from_numpy(load_image(portrait)).permute(2, 0, 1).float() / 127.5 - 1
    source = pipeline.encode_portrait(as_tensor, crop=False)
    # the loader's uint8 -> [-1, 1] conversion rounds in its own order (2 roundings), then the same encoder
    from_file = pipeline.encode_portrait(portrait, crop=False).identity
    assert_rounding_close(source.identity, from_file, depth=layers_depth(pipeline.renderer) + 2)


def test_bad_inputs_say_what_to_do(pipeline: Pipeline, portrait: Path, speech: Path, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist; check the path"):
        pipeline.generate(tmp_path / "nobody.png", speech)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageError, match="not a readable image"):
        pipeline.generate(tmp_path / "text.png", speech)
    with pytest.raises(AudioError):
        pipeline.generate(portrait, tmp_path / "silence.wav", crop=False)
    sf.write(tmp_path / "blip.wav", np.zeros(300, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match="at least one frame"):
        pipeline.generate(portrait, tmp_path / "blip.wav", crop=False)
    with pytest.raises(FaceNotFoundError, match="crop=False"):
        pipeline.generate(np.full((200, 200, 3), 128, dtype=np.uint8), speech)
    with pytest.raises(ConfigError, match="guidance"):
        pipeline.generate(portrait, speech, "neutral", crop=False, guidance=(1.0,))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dtype"):
        Pipeline.from_pretrained(Path("unused"), dtype="int8")


def test_model_folder_problems_are_checkpoint_errors(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        Pipeline.from_pretrained(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="not a motionkit model"):
        Pipeline.from_pretrained(tiny_model / "conditioner")  # a folder of another kind
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    data = (broken / "renderer.safetensors").read_bytes()
    (broken / "renderer.safetensors").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(CheckpointError, match="damaged"):
        Pipeline.from_pretrained(broken)


def test_explore_grid(pipeline: Pipeline, portrait: Path, speech: Path, tmp_path: Path) -> None:
    sweep = pipeline.explore(portrait, axes=["pitch", "d3"], steps=3, span=2.0, cell=32, audio=speech, crop=False)
    assert sweep.axes == ("pitch", "d3")
    assert sweep.units == ("deg", "coef")
    assert sweep.offsets == (-2.0, 0.0, 2.0)
    assert sweep.cells.shape == (2, 3, 32, 32, 3)
    assert all(s > 0 for s in sweep.sigmas)
    assert all(sweep.measured)
    # the centre column is the unmoved portrait in every row; the others differ
    assert np.array_equal(sweep.cells[0, 1], sweep.cells[1, 1])
    assert not np.array_equal(sweep.cells[0, 0], sweep.cells[0, 2])
    grid = sweep.grid()
    assert grid.size[0] > 3 * 32
    assert grid.size[1] > 2 * 32
    path = sweep.save(tmp_path / "grid.png")
    assert path.is_file()
    with pytest.raises(OutputError, match="already exists"):
        sweep.save(path)
    with pytest.raises(ConfigError, match="steps"):
        pipeline.explore(portrait, steps=1, crop=False)
    with pytest.raises(EditError, match="unknown axis"):
        pipeline.explore(portrait, axes=["jaw"], crop=False, audio=speech)


def test_reduced_precision_runs_close_to_float32(
    tiny_model: Path, portrait: Path, speech: Path, video: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "cpu_runs_natively", lambda dtype: True)  # bf16 runs even where it is emulated
    half = Pipeline.from_pretrained(tiny_model, dtype="bfloat16")
    assert half.precision == "bfloat16"
    result = half.generate(portrait, speech, "neutral", seed=3, crop=False)
    assert result.track.latents.dtype == torch.float32
    assert float((result.track.latents - video.track.latents).abs().max()) < 0.05
    frame = next(result.frames(raw=True))
    assert frame.dtype == torch.float32
    assert bool(torch.isfinite(frame).all())


def test_emulated_bfloat16_falls_back_to_float32(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a CPU without native bfloat16 the Pipeline computes in float32 and says why, rather than run slowly."""
    monkeypatch.setattr(runtime, "cpu_runs_natively", lambda dtype: dtype == torch.float32)
    with pytest.warns(runtime.EmulatedPrecisionWarning, match=r"no native bfloat16.*--dtype float32"):
        pipeline = Pipeline.from_pretrained(tiny_model, dtype="bfloat16")
    assert pipeline.dtype == torch.float32
    assert pipeline.precision == "float32"


def test_explicit_noise_is_built_once(
    pipeline: Pipeline, portrait: Path, speech: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Pipeline checks the window count with the ExplicitNoise the sampler then uses (no second copy)."""
    from motionkit.flow import noise as noise_module

    built: list[object] = []
    original = noise_module.ExplicitNoise.__init__

    def counting(self: object, *args: object, **kwargs: object) -> None:
        built.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    source = pipeline.encode_portrait(portrait, crop=False)
    conditions = pipeline.condition(pipeline.load_audio(speech), "happy")
    monkeypatch.setattr(noise_module.ExplicitNoise, "__init__", counting)
    noise = torch.randn(4, 1, pipeline.sampler.config.window, pipeline.sampler.config.motion_dim)
    pipeline.sample(conditions, source, noise=noise)
    assert len(built) == 1
