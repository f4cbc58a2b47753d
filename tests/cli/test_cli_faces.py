"""``motionkit faces``: annotated image and video, JSON lines, bad paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from motionkit.cli.app import EXIT_OUTPUT, main
from motionkit.io.video import VideoWriter, read_video


@pytest.fixture(scope="module")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faces") / "astronaut.png"
    Image.fromarray(skimage.data.astronaut()).save(path)
    return path


def test_faces_annotates_an_image_and_prints_the_pose(
    portrait: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "faces.png"
    assert main(["faces", str(portrait), "-o", str(out), "--device", "cpu"]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert len(record["faces"]) == 1
    face = record["faces"][0]
    assert abs(face["yaw"]) < 10
    assert 0.2 < face["eyes"][0] < 0.4  # open eyes
    drawn, original = np.asarray(Image.open(out)), skimage.data.astronaut()
    changed = np.any(drawn != original, axis=2)
    x0, y0, x1, y1 = (int(v) for v in face["box"])
    assert changed[y0:y1, x0:x1].mean() > 0.05  # landmarks and axes drawn on the face
    assert changed[400:, :100].mean() == 0  # nothing drawn far from it


def test_faces_tracks_a_video(portrait: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = tmp_path / "moving.mp4"
    frames = np.stack([np.roll(skimage.data.astronaut(), 3 * i, axis=1) for i in range(6)])
    with VideoWriter(video, fps=25) as writer:
        writer.write(frames)
    out = tmp_path / "faces.mp4"
    assert main(["faces", str(video), "-o", str(out), "--device", "cpu"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["frame"] for line in lines] == list(range(6))
    assert all(len(line["faces"]) == 1 for line in lines)
    lefts = [line["faces"][0]["box"][0] for line in lines]
    assert lefts[-1] - lefts[0] == pytest.approx(15, abs=3)  # the face moved 3 px a frame
    assert read_video(out)[0].shape[0] == 6


def test_faces_refuses_an_image_output_with_a_video_suffix(portrait: Path, tmp_path: Path) -> None:
    assert main(["faces", str(portrait), "-o", str(tmp_path / "faces.mp4")]) == EXIT_OUTPUT
    assert not (tmp_path / "faces.mp4").exists()
