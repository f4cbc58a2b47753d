"""Peak memory of saving a video does not grow with its length (frames are streamed, never all kept).

Each length runs in a fresh process (the peak resident size only grows), renders a long random track of the tiny
model with its audio into an MP4, and reports how far the peak resident size rose above what the process held
before saving (model, portrait, track and waveform already in memory, encoder warmed up).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 1000
FRAME_BYTES_UINT8 = 64 * 64 * 3

SCRIPT = """
import resource, sys
import numpy as np, torch
torch.set_num_threads(1)
from motionkit import MotionTrack, Pipeline
from motionkit.assets import demo_portrait_path

folder, frames, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pipeline = Pipeline.from_pretrained(folder)
source = pipeline.encode_portrait(demo_portrait_path(), crop=False)
generator = torch.Generator().manual_seed(0)
latents = source.motion[:, None] + 0.3 * torch.randn(1, frames, source.motion.shape[1], generator=generator)
seconds = np.arange(frames * 640) / 16000
audio = (0.1 * np.sin(2 * np.pi * 220 * seconds)).astype(np.float32)
warm = pipeline.render(source, MotionTrack(latents[:, :50]), audio[: 50 * 640])
warm.save(out + ".warm.mp4")
video = pipeline.render(source, MotionTrack(latents), audio)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
video.save(out)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024)
"""


def peak_growth(model: Path, frames: int, tmp_path: Path) -> int:
    """Bytes by which the peak resident size grew while saving a ``frames``-frame video."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "kernels")])}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model), str(frames), str(tmp_path / f"{frames}.mp4")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and allocator behaviour are Linux's")
def test_peak_memory_is_flat_in_the_number_of_frames(tiny_model: Path, tmp_path: Path) -> None:
    short = peak_growth(tiny_model, FRAMES, tmp_path)
    long = peak_growth(tiny_model, 4 * FRAMES, tmp_path)
    extra_frames = 3 * FRAMES * FRAME_BYTES_UINT8  # what keeping the additional frames would cost, even as uint8
    mib = 2**20
    print(f"peak growth while saving: {short / mib:.1f} MiB ({FRAMES} frames), {long / mib:.1f} MiB ({4 * FRAMES})")
    assert long <= 1.2 * short + 0.1 * extra_frames
