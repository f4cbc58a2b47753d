"""Synthetic talking-head videos with known parameters, for the video-driven tests (drive, dub, pose from video):
faces of the synthetic world, and the bundled photo drawn by the geometric renderer.

Each axis moves at its own rate, so a correlation against the truth tells the axes apart: yaw at
``YAW_HZ``, pitch at ``PITCH_HZ`` (phase-shifted) and the mouth at ``MOUTH_HZ``; roll, blink and brows rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from motionkit.data.synthetic import FaceParams, SyntheticWorld
from motionkit.face import FaceStack
from motionkit.geometric import GeometricRenderer, PortraitGeometry
from motionkit.io import VideoWriter, load_image, tensor_to_image
from motionkit.types import MotionTrack

YAW_HZ = 0.5
PITCH_HZ = 0.8
PITCH_PHASE = 1.0
MOUTH_HZ = 1.3
MOUTH_WIDTH = 0.5
"""The world's neutral mouth width."""


def talking_params(frames: int, fps: float, *, yaw: float, pitch: float, mouth: float) -> FaceParams:
    """A turn of +/-``yaw`` degrees, a nod of +/-``pitch`` degrees and a mouth opening from 0 to ``mouth``.

    ``yaw(t) = yaw sin(2 pi YAW_HZ t)``, ``pitch(t) = pitch sin(2 pi PITCH_HZ t + PITCH_PHASE)``,
    ``mouth_open(t) = mouth / 2 (1 - cos(2 pi MOUTH_HZ t))`` for ``t = i / fps``, ``i < frames``.
    """
    t = np.arange(frames) / fps
    rest = np.zeros(frames)
    return FaceParams(
        yaw=yaw * np.sin(2 * np.pi * YAW_HZ * t),
        pitch=pitch * np.sin(2 * np.pi * PITCH_HZ * t + PITCH_PHASE),
        roll=rest,
        mouth_open=mouth / 2 * (1 - np.cos(2 * np.pi * MOUTH_HZ * t)),
        mouth_width=np.full(frames, MOUTH_WIDTH),
        blink=rest.copy(),
        brows=rest.copy(),
    )


def write_world_video(
    path: Path,
    world: SyntheticWorld,
    identity_seed: int,
    params: FaceParams,
    fps: float,
    *,
    crf: int = 10,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> Path:
    """Draw face ``identity_seed`` of ``world`` following ``params`` into an MP4 at ``path`` (with ``audio`` if
    given) and return ``path``."""
    frames = world.render(world.identity(identity_seed), params)
    with VideoWriter(path, fps=fps, crf=crf, audio=audio, sample_rate=sample_rate) as writer:
        writer.write(frames)
    return path


def write_photo_video(path: Path, values: np.ndarray, fps: float, *, crf: int = 12, chunk: int = 10) -> Path:
    """The bundled photo (Grace Hopper) drawn by the geometric renderer following ``values`` ``(T, 7)`` (the
    renderer's axes, :data:`motionkit.geometric.AXIS_NAMES`, per frame) into an MP4 at ``path``; returns ``path``.
    Runs with one torch thread (small operations on a shared CPU)."""
    from motionkit.assets import demo_photo_path

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        stack = FaceStack()
        photo = load_image(demo_photo_path())
        face = stack.face(photo)
        renderer = GeometricRenderer()
        drawing = renderer.encode_portrait(photo, geometry=PortraitGeometry(face.points, mask=stack.segment(photo)))
        track = MotionTrack(torch.from_numpy(np.asarray(values, np.float32))[None], fps=fps)
        with VideoWriter(path, fps=fps, crf=crf) as writer:
            for frames in renderer.render(drawing, track, chunk):
                writer.write(tensor_to_image(frames[0]))
    finally:
        torch.set_num_threads(threads)
    return path
