"""Tiny generated talking-head stand-ins: mp4/mkv files with a moving white "face" square and a sine tone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from motionkit.data.video import FaceCropper
from motionkit.errors import FaceNotFoundError
from motionkit.face import Box

SIZE = 64
CROP = 32
TONE_HZ = 440.0
SAMPLE_RATE = 16000
FACE_TOP, FACE_SIDE = 10, 20
BACKGROUND_ROWS = slice(40, 64)


def background_level(index: int) -> int:
    """Grey level of frame ``index``'s background: encodes the frame index robustly through H.264."""
    return 40 + 4 * index


def frame_image(index: int, face: bool) -> np.ndarray:
    image = np.full((SIZE, SIZE, 3), background_level(index), np.uint8)
    if face:
        left = 5 + index % 30
        image[FACE_TOP : FACE_TOP + FACE_SIDE, left : left + FACE_SIDE] = 255
    return image


def write_video(
    path: Path,
    frames: int,
    fps: int,
    *,
    audio: str | None = "tone",
    face_from: int | None = 0,
) -> Path:
    """Write ``frames`` frames at ``fps`` (H.264) with a 440 Hz tone, silence (``"silent"``) or no audio track."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "8", "preset": "ultrafast"}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=SAMPLE_RATE)
            sound.layout = "mono"
        for i in range(frames):
            has_face = face_from is not None and i >= face_from
            frame = av.VideoFrame.from_ndarray(frame_image(i, has_face), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            total = int(frames / fps * SAMPLE_RATE)
            t = np.arange(total) / SAMPLE_RATE
            wave = 0.3 * np.sin(2 * np.pi * TONE_HZ * t) if audio == "tone" else np.zeros(total)
            wave = wave.astype(np.float32)
            for start in range(0, total, 1024):
                chunk = av.AudioFrame.from_ndarray(wave[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate = SAMPLE_RATE
                chunk.pts = start
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def detect_white_square(frame: np.ndarray) -> Box:
    """Stand-in face detector: the bounding box of near-white pixels, or FaceNotFoundError."""
    mask = (frame > 240).all(axis=2)
    if not mask.any():
        raise FaceNotFoundError("no white square")
    rows, cols = np.nonzero(mask)
    return Box(int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)


def crop_box(frame: np.ndarray, box: Box) -> np.ndarray:
    from PIL import Image

    region = frame[box.y1 : box.y2, box.x1 : box.x2]
    return np.asarray(Image.fromarray(region).resize((CROP, CROP), Image.Resampling.BILINEAR))


SQUARE_CROPPER = FaceCropper(detect=detect_white_square, crop=crop_box, name="white-square-32")


@dataclass(frozen=True)
class VideoFolderFixture:
    root: Path
    talk30: Path  # 30 fps, 48 frames, face from frame 2, tone
    talk25: Path  # 25 fps, 30 frames, mkv in a sub-folder, tone
    corrupt: Path
    silent: Path
    short: Path  # 25 fps, 3 frames
    no_face: Path
    no_audio: Path


def make_video_folder(root: Path) -> VideoFolderFixture:
    talk30 = write_video(root / "talk30.mp4", 48, 30, face_from=2)
    talk25 = write_video(root / "sub" / "talk25.mkv", 30, 25)
    corrupt = root / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    silent = write_video(root / "silent.mp4", 30, 25, audio="silent")
    short = write_video(root / "short.mp4", 3, 25)
    no_face = write_video(root / "noface.mp4", 30, 25, face_from=None)
    no_audio = write_video(root / "mute.mp4", 30, 25, audio=None)
    (root / "notes.txt").write_text("not a video\n")
    return VideoFolderFixture(root, talk30, talk25, corrupt, silent, short, no_face, no_audio)
