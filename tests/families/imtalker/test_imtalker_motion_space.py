"""IMTalker's 32-d motion latent as a MotionSpace: every edit applies on its basis axes ``d0 .. d31`` (the identity
basis, so an edit of ``d<i>`` changes latent coordinate ``i`` only, by its formula), and ``calibrate``, ``explore``
and ``demo`` run on an IMTalker model folder of the weight recipe. Those weights render no face the face stack finds,
so the calibration's measurements come from a stand-in that reads image statistics: the axes then say nothing about
heads, but every step (sampling the spreads, rendering along the directions, measuring, fitting, saving) runs, and the
fitted axes move what they were fitted on by the amount asked for."""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import soundfile as sf
import torch

from motionkit import Pipeline
from motionkit.assets import demo_portrait_path
from motionkit.errors import ConfigError
from motionkit.face import Face, FaceStack
from motionkit.face.landmarks import FaceLandmarks
from motionkit.face.measures import FaceMeasures
from motionkit.face.pose import HeadPose
from motionkit.families.imtalker.renderer import IMTalkerRenderer
from motionkit.pipeline.calibrate import MEASURED_AXES, calibrate, measure_face
from motionkit.space import EditProgram, MotionSpace
from motionkit.space.edits import Freeze, Keyframes, Mix, Offset, Oscillate, Retarget, Scale, Set, Smooth
from motionkit.testing.signals import speech_like
from motionkit.types import MotionTrack
from tests.cli.cli_helpers import one_error_line, run

FPS = 25.0
FRAMES = 50
DIM = 32
SAMPLES = 3 * (DIM + 2)
"""Renders of the calibration test: three per fitted value (32 slopes, an intercept and the residual's spread), so
that the fitted directions hold on renders they were not fitted on (with ``DIM + 2`` the fit is exact on any data)."""
SPREAD = 0.5
"""Standard deviations of the model's speech motion: small enough for the image statistics to be nearly linear."""


@pytest.fixture(scope="module")
def space() -> MotionSpace:
    """The space an IMTalker model folder without axes.json has: its renderer's (built on the meta device: the
    space needs no weights)."""
    with torch.device("meta"):
        return IMTalkerRenderer().space


def track(seed: int = 0, frames: int = FRAMES) -> MotionTrack:
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(1, frames, DIM, generator=generator)
    return MotionTrack(latents, fps=FPS, source=torch.randn(1, DIM, generator=generator))


EDITS = [
    Offset(axis="d2", value=0.5, start=0.4, end=1.2),
    Scale(axis="d7", factor=0.5),
    Set(axis="d9", value=-1.0, start=0.2),
    Oscillate.nod(0.8, 1.5, axis="d3", start=0.3, end=1.7),
    Keyframes.turn(0.6, start=0.5, duration=0.8, axis="d4"),
    Freeze.lip_only(mouth="d5"),
    Freeze.still_head(axes=("d0", "d1", "d31")),
    Smooth(axes=("d10", "d11"), sigma=0.1),
    Mix(reference="other", axes=("d12",)),
    Retarget(axes=("d13", "d14")),
]
"""One of each kind of edit, on basis axes of the 32-d space."""


@pytest.mark.parametrize("edit", EDITS, ids=lambda edit: edit.kind)
def test_every_edit_changes_only_the_latent_coordinates_of_its_axes(space: MotionSpace, edit: object) -> None:
    assert (space.dim, space.rank) == (DIM, DIM)
    torch.testing.assert_close(space.basis, torch.eye(DIM))  # the latent itself is the coefficient vector
    before = track()
    program = EditProgram(edits=[edit])  # type: ignore[list-item]
    after = program.apply(before, space, references={"other": track(seed=1)})
    changed = (after.latents - before.latents).abs().amax(dim=(0, 1)) > 1e-6
    names: tuple[str, ...] = getattr(edit, "axes", None) or (getattr(edit, "axis", None),)  # type: ignore[assignment]
    if isinstance(edit, Freeze) and edit.keep:
        expected = {i for i in range(DIM) if f"d{i}" not in edit.keep}
    else:
        expected = {int(name[1:]) for name in names}
    assert set(changed.nonzero().flatten().tolist()) == expected


def test_a_nod_and_lip_only_follow_their_formulas_on_the_latent(space: MotionSpace) -> None:
    before = track()
    nod = Oscillate.nod(0.8, 1.5, axis="d3", start=0.3, end=1.7)
    after = EditProgram(edits=[nod]).apply(before, space).latents
    t = torch.arange(FRAMES, dtype=torch.float64) / FPS
    inside = (t >= 0.3) & (t < 1.7)
    expected = torch.where(inside, 0.8 * torch.sin(2 * math.pi * 1.5 * (t - 0.3)), torch.zeros_like(t))
    torch.testing.assert_close((after - before.latents)[0, :, 3].double(), expected, atol=1e-6, rtol=0)
    still = EditProgram(edits=[Freeze.lip_only(mouth="d5")]).apply(before, space).latents[0]
    assert before.source is not None
    others = [i for i in range(DIM) if i != 5]
    torch.testing.assert_close(still[:, others], before.source[0, others].expand(FRAMES, -1), atol=1e-6, rtol=0)
    torch.testing.assert_close(still[:, 5], before.latents[0, :, 5], atol=1e-6, rtol=0)


# -------------------------------------------------------------------------------------------------- calibration


class ImageStatistics:
    """Stands in for the face stack on renders of formula-generated weights (no face): reads the frame's mean red,
    green and blue (x 100) as yaw, pitch and roll, its top half's brightness as the mouth and its left half's as the
    eyes. Smooth functions of the latent, like the real measurements."""

    def faces(self, frame: np.ndarray) -> list[Face]:
        pixels = frame.astype(np.float64) / 255
        red, green, blue = (100 * pixels.mean(axis=(0, 1))).tolist()
        half_height, half_width = pixels.shape[0] // 2, pixels.shape[1] // 2
        pose = HeadPose(red, green, blue, 1.0, np.eye(3), np.zeros(3), 0.0)
        left = float(pixels[:, :half_width].mean())
        measures = FaceMeasures(float(pixels[:half_height].mean()), left, left)
        landmarks = FaceLandmarks(np.zeros((468, 3)), 1.0, None)  # type: ignore[arg-type]
        return [Face(landmarks, pose, measures, None)]


@pytest.mark.slow
def test_calibration_renders_measures_and_fits_the_32_d_space(
    tiny_pipeline: Pipeline, tmp_path: Path, tiny_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = ImageStatistics()
    with pytest.raises(ConfigError, match=r"give more samples per portrait \(samples=17 or more\)"):
        calibrate(tiny_pipeline, [demo_portrait_path()] * 2, samples=10, stack=cast(FaceStack, stack))
    result = calibrate(
        tiny_pipeline, [demo_portrait_path()], samples=SAMPLES, spread=SPREAD, stack=cast(FaceStack, stack)
    )
    assert (result.rendered, result.measured) == (SAMPLES, SAMPLES)
    assert set(result.report) == set(MEASURED_AXES)
    assert result.kept, result.report
    axes, quality = result.save(tmp_path)
    space = tiny_pipeline.motion_space.load_axes(axes)
    assert set(space.axes) == set(result.kept)
    assert quality.is_file()
    # a fitted axis moves its measurement by what an Offset asks, on a render it was not fitted on
    name = "yaw"  # the frame's mean red
    assert name in result.kept
    source = tiny_pipeline.encode_portrait(demo_portrait_path())
    still = MotionTrack(source.motion[:, None].repeat(1, 2, 1), fps=FPS)
    step = float(np.diff(space.axis(name).calibrated_range)[0]) / 4  # type: ignore[arg-type]
    moved = EditProgram(edits=[Offset(axis=name, value=step, start=1 / FPS)]).apply(still, space)
    frames = list(tiny_pipeline.render(source, moved).frames())
    readings = [measure_face(stack.faces(frame)[0])[name] for frame in frames]
    assert readings[1] - readings[0] == pytest.approx(step, rel=0.3)
    # the command line refuses too few samples before rendering anything
    code, _, err = run(capsys, "calibrate", "--model", tiny_folder, "--samples", "4", "--quiet")
    assert code != 0
    assert f"needs at least {DIM + 2} measured frames, but 1 portrait(s) x 4 samples" in one_error_line(err)
    assert not (tiny_folder / "calibration.json").exists()


# ------------------------------------------------------------------------------------------------ explore, demo


@pytest.mark.slow
def test_explore_and_demo_on_an_imtalker_folder(
    tiny_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = tmp_path / "grid.png"
    common = ("--model", tiny_folder, "--quiet")
    code, out, err = run(
        capsys, "explore", demo_portrait_path(), "-o", grid, "--axes", "d0,d31", "--steps", "3", "--cell", "32",
        "--no-crop", *common,
    )  # fmt: skip
    assert code == 0, err
    assert "2 axes x 3 offsets" in out
    from PIL import Image

    assert Image.open(grid).size[1] > 2 * 32
    code, _, err = run(capsys, "demo", "--out", tmp_path / "demo", *common)
    assert code != 0
    line = one_error_line(err)
    assert "has no calibrated 'pitch' and 'yaw' axis (it has only its 32 basis directions d0 .. d31)" in line
    assert f"motionkit calibrate --model {tiny_folder}" in line
    speech = tmp_path / "short.wav"
    sf.write(speech, speech_like(0.08), 16000, subtype="PCM_16")
    code, out, err = run(capsys, "demo", "--out", tmp_path / "demo", "--no-edits", "--audio", speech, *common)
    assert code == 0, err
    assert "frames of 512x512 px" in out
    assert (tmp_path / "demo" / "demo.mp4").stat().st_size > 0


@pytest.mark.slow
def test_a_live_session_animates_the_photo_and_refuses_an_emotion(tiny_pipeline: Pipeline) -> None:
    """``Pipeline.live`` on an IMTalker folder: audio pushed in 20 ms pieces gives one 512-px frame per 40 ms of
    speech (the generator's controls prepared live), and changing the emotion, which IMTalker has no input for, is
    refused before anything changes."""
    session = tiny_pipeline.live(demo_portrait_path())
    with pytest.raises(ConfigError, match="no emotion input"):
        session.set_emotion("happy")
    audio = speech_like(0.4)
    step = tiny_pipeline.sample_rate // 50
    frames = [frame for i in range(0, len(audio), step) for frame in session.push_audio(audio[i : i + step])]
    frames += session.finish()
    assert [frame.index for frame in frames] == list(range(10))
    assert frames[0].image.shape == (512, 512, 3)
    assert len({frame.image.tobytes() for frame in frames}) > 1  # the motion moves the face
