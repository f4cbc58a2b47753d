"""Talking-head video folders: scanning, 25-fps frame decoding, fixed-box face crops, 16 kHz audio, pair sampling.

A folder of videos (``.mp4 .mov .mkv .webm``, searched recursively) is *scanned* once: every file is decoded,
its frames are mapped to a 25-fps timeline, a face box is fixed from the first frame where the face detector
succeeds, and the audio is checked. Unusable files (unreadable or corrupt, no video, no or silent audio, too short,
no face) are skipped with a :class:`SkippedFileWarning` and counted in a :class:`DatasetSummary`. The result,
one :class:`ClipInfo` per usable clip, can be cached in a JSON index so later runs skip the decoding.

Frame-rate conversion: output frame ``k`` shows the source frame whose timestamp is nearest to ``k / fps``
(relative to the first frame; ties go to the earlier frame). A clip lasts until the end of its last frame, so a
clip of ``n`` frames at rate ``r`` gives ``ceil(n * fps / r)`` output frames.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch

from motionkit.data.stream import IndexedBatchStream
from motionkit.errors import AudioError, ConfigError, DataError, FaceNotFoundError
from motionkit.io.audio import load_audio
from motionkit.io.files import atomic_path

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")
INDEX_FORMAT = "motionkit.video-index"
INDEX_VERSION = 1
SEEK_GAP_SECONDS = 2.0
"""Read-ahead distance below which :func:`read_frames` decodes forward instead of seeking."""
MAX_SAMPLE_ATTEMPTS = 16
"""Clips tried for one sample before a data source gives up (all of them failed to decode)."""

Box = tuple[int, int, int, int]
"""A face box ``(x1, y1, x2, y2)`` in pixels of the original frame."""


class SkippedFileWarning(UserWarning):
    """A data file was skipped (see the message for the reason); the dataset summary counts it."""


@dataclass(frozen=True)
class FaceCropper:
    """How the dataset crops faces: a box fixed per clip, then the same crop of every frame.

    Attributes:
        detect: ``(frame uint8 (H, W, 3)) -> Box``; raises :class:`~motionkit.errors.FaceNotFoundError` when the
            frame has no face. Called on the first frames of a clip until it succeeds.
        crop: ``(frame, box) -> uint8 (S, S, 3)`` (e.g. FLOAT's crop rule with a given box).
        name: identifies detector and crop settings in the cached scan index; change it when they change.
    """

    detect: Callable[[np.ndarray], Box]
    crop: Callable[[np.ndarray, Box], np.ndarray]
    name: str

    @classmethod
    def resize(cls, size: int) -> FaceCropper:
        """No detection: the whole frame, resized to ``size x size`` (for videos that are already face crops).

        Downscaling uses box (area) filtering, upscaling bicubic, like FLOAT's ``--no_crop`` path.
        """
        if size < 1:
            raise ConfigError(f"crop size must be positive, got {size}.")

        def whole(frame: np.ndarray) -> Box:
            return (0, 0, int(frame.shape[1]), int(frame.shape[0]))

        def resized(frame: np.ndarray, box: Box) -> np.ndarray:
            from PIL import Image

            region = frame[box[1] : box[3], box[0] : box[2]]
            if region.shape[:2] == (size, size):
                return np.ascontiguousarray(region)
            shrinking = region.shape[0] > size or region.shape[1] > size
            method = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
            return np.asarray(Image.fromarray(region).resize((size, size), method))

        return cls(detect=whole, crop=resized, name=f"resize-{size}")


@dataclass(frozen=True)
class ScanSettings:
    """What makes a clip usable, and the target rates.

    Attributes:
        fps: output frame rate (FLOAT: 25).
        sample_rate: audio rate in Hz (FLOAT: 16000).
        min_frames: shortest usable clip in output frames (auto-encoder: 2; flow: the window L).
        require_audio: reject clips without audio or with silent audio (the flow model needs speech).
        silence_db: clips whose audio RMS level (dBFS) is below this are silent.
        face_search_frames: frames searched for a face at the start of each clip.
    """

    fps: float = 25.0
    sample_rate: int = 16000
    min_frames: int = 2
    require_audio: bool = True
    silence_db: float = -60.0
    face_search_frames: int = 25

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.sample_rate <= 0 or self.min_frames < 1 or self.face_search_frames < 1:
            raise ConfigError(f"invalid scan settings {self}: rates, min_frames and face_search_frames must be > 0.")

    @property
    def samples_per_frame(self) -> int:
        return round(self.sample_rate / self.fps)


@dataclass(frozen=True)
class ClipInfo:
    """A usable clip: where its frames are and how to crop them.

    Attributes:
        path: the video file.
        frames: number of output frames at ``fps``.
        source_pts: for each output frame, the presentation timestamp of the source frame it shows.
        time_base: ``(numerator, denominator)`` of the video stream's timestamp unit.
        box: the face box fixed for the clip.
        audio_offset: samples to drop (positive) or zeros to prepend (negative) so that the audio starts at the
            first video frame.
        has_audio: whether the clip's audio was checked and found usable.
        fps, sample_rate: the rates of the scan.
    """

    path: Path
    frames: int
    source_pts: tuple[int, ...]
    time_base: tuple[int, int]
    box: Box
    audio_offset: int = 0
    has_audio: bool = False
    fps: float = 25.0
    sample_rate: int = 16000

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClipInfo:
        return cls(
            path=Path(data["path"]),
            frames=int(data["frames"]),
            source_pts=tuple(int(p) for p in data["source_pts"]),
            time_base=(int(data["time_base"][0]), int(data["time_base"][1])),
            box=(int(data["box"][0]), int(data["box"][1]), int(data["box"][2]), int(data["box"][3])),
            audio_offset=int(data["audio_offset"]),
            has_audio=bool(data["has_audio"]),
            fps=float(data["fps"]),
            sample_rate=int(data["sample_rate"]),
        )


@dataclass
class DatasetSummary:
    """Counts of a scan: files seen, clips kept, files skipped per reason (with the paths and details)."""

    root: Path
    total: int = 0
    kept: int = 0
    kept_frames: int = 0
    fps: float = 25.0
    skipped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def skip(self, path: Path, error: DataError) -> None:
        self.skipped.setdefault(error.reason, []).append((str(path), str(error)))

    @property
    def skipped_count(self) -> int:
        return sum(len(items) for items in self.skipped.values())

    def __str__(self) -> str:
        hours = self.kept_frames / self.fps / 3600
        line = (
            f"dataset {self.root}: {self.total} files, {self.kept} clips kept "
            f"({self.kept_frames} frames, {hours:.2f} h), {self.skipped_count} skipped"
        )
        if self.skipped:
            reasons = ", ".join(f"{reason} {len(items)}" for reason, items in sorted(self.skipped.items()))
            line += f" ({reasons})"
        return line


def list_videos(root: str | Path) -> list[Path]:
    """Video files under ``root`` (recursively), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"video folder {root} does not exist or is not a folder.")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _nearest_source_frames(times: Sequence[Fraction], frames: int, fps: Fraction) -> list[int]:
    """For each output frame k, the index of the source time nearest to k / fps (ties: the earlier)."""
    chosen = []
    for k in range(frames):
        target = Fraction(k) / fps
        right = bisect.bisect_left(times, target)
        if right == 0:
            chosen.append(0)
        elif right == len(times):
            chosen.append(len(times) - 1)
        else:
            before, after = times[right - 1], times[right]
            chosen.append(right - 1 if target - before <= after - target else right)
    return chosen


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")


def _checked_crop(cropper: FaceCropper, frame: np.ndarray, box: Box) -> np.ndarray:
    image = cropper.crop(frame, box)
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        got = f"{type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')}"
        raise ConfigError(f"cropper {cropper.name!r} must return uint8 (S, S, 3) arrays, got {got}.")
    if image.shape[0] != image.shape[1]:
        raise ConfigError(f"cropper {cropper.name!r} returned a non-square crop {image.shape}.")
    return image


def _rms_db(waveform: np.ndarray) -> float:
    if waveform.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(waveform, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def probe_clip(path: str | Path, cropper: FaceCropper, settings: ScanSettings = ScanSettings()) -> ClipInfo:
    """Decode ``path`` once and describe it as a :class:`ClipInfo`, or raise :class:`DataError` saying why not.

    The error's ``reason`` is one of ``unreadable``, ``no_video``, ``no_audio``, ``silent``, ``too_short`` and
    ``no_face``.
    """
    path = Path(path)
    fps = Fraction(settings.fps).limit_denominator(1001 * 1000)
    pts: list[int] = []
    box: Box | None = None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path} has no video stream.", reason="no_video")
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            time_base = video.time_base
            audio_stream = container.streams.audio[0] if container.streams.audio else None
            if settings.require_audio and audio_stream is None:
                raise DataError(f"{path} has no audio track; the flow model needs speech.", reason="no_audio")
            audio_start = (
                Fraction(audio_stream.start_time) * audio_stream.time_base
                if audio_stream is not None and audio_stream.start_time is not None and audio_stream.time_base
                else Fraction(0)
            )
            for frame in container.decode(video):
                if frame.pts is None:
                    raise DataError(f"{path} has video frames without timestamps; remux it.", reason="unreadable")
                pts.append(int(frame.pts))
                if box is None and len(pts) <= settings.face_search_frames:
                    with contextlib.suppress(FaceNotFoundError):
                        box = cropper.detect(_to_rgb(frame))
    except (av.FFmpegError, OSError, EOFError) as exc:
        decoded = f" after {len(pts)} frames" if pts else ""
        raise DataError(f"{path} is unreadable or corrupt{decoded} ({exc}).", reason="unreadable") from exc
    if not pts or time_base is None:
        raise DataError(f"{path} has no decodable video frames.", reason="no_video")
    pts.sort()
    first = pts[0]
    times = [Fraction(p - first) * time_base for p in pts]
    step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else (1 / Fraction(video.average_rate or fps))
    frames = math.ceil((times[-1] + step) * fps)
    if frames < settings.min_frames:
        raise DataError(
            f"{path} is too short: {frames} frames at {settings.fps:g} fps, at least {settings.min_frames} needed.",
            reason="too_short",
        )
    if box is None:
        raise DataError(f"{path}: no face found in the first {settings.face_search_frames} frames.", reason="no_face")
    video_start = Fraction(first) * time_base
    audio_offset = round((video_start - audio_start) * settings.sample_rate)
    has_audio = False
    if settings.require_audio:
        waveform = _aligned_audio(path, audio_offset, frames, settings)
        level = _rms_db(waveform)
        if level < settings.silence_db:
            raise DataError(
                f"{path} is silent (audio level {level:.1f} dBFS < {settings.silence_db:g} dBFS).", reason="silent"
            )
        has_audio = True
    chosen = _nearest_source_frames(times, frames, fps)
    return ClipInfo(
        path=path,
        frames=frames,
        source_pts=tuple(pts[j] for j in chosen),
        time_base=(time_base.numerator, time_base.denominator),
        box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])),
        audio_offset=audio_offset,
        has_audio=has_audio,
        fps=settings.fps,
        sample_rate=settings.sample_rate,
    )


def _aligned_audio(path: Path, offset: int, frames: int, settings: ScanSettings) -> np.ndarray:
    try:
        waveform = load_audio(path, target_rate=settings.sample_rate)
    except AudioError as exc:
        raise DataError(str(exc), reason="no_audio") from exc
    waveform = waveform[offset:] if offset >= 0 else np.concatenate([np.zeros(-offset, np.float32), waveform])
    length = frames * settings.samples_per_frame
    if waveform.size < length:
        waveform = np.concatenate([waveform, np.zeros(length - waveform.size, np.float32)])
    return waveform[:length]


def clip_audio(info: ClipInfo) -> np.ndarray:
    """The clip's audio aligned with its frames: float32 ``(frames * sample_rate / fps,)``, zero-padded at the end."""
    settings = ScanSettings(fps=info.fps, sample_rate=info.sample_rate)
    return _aligned_audio(info.path, info.audio_offset, info.frames, settings)


def iter_clip_frames(info: ClipInfo, cropper: FaceCropper, chunk: int = 64) -> Iterator[np.ndarray]:
    """The clip's cropped output frames in order, in chunks of up to ``chunk`` frames ``(n, S, S, 3)`` uint8."""
    wanted: dict[int, list[int]] = {}
    for k, p in enumerate(info.source_pts):
        wanted.setdefault(p, []).append(k)
    pending: dict[int, np.ndarray] = {}
    next_frame = 0
    buffer: list[np.ndarray] = []
    try:
        with av.open(str(info.path)) as container:
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            for frame in container.decode(video):
                if frame.pts not in wanted:
                    continue
                image = _checked_crop(cropper, _to_rgb(frame), info.box)
                for k in wanted[frame.pts]:
                    pending[k] = image
                while next_frame in pending:
                    buffer.append(pending.pop(next_frame))
                    next_frame += 1
                    if len(buffer) == chunk:
                        yield np.stack(buffer)
                        buffer = []
    except (av.FFmpegError, OSError, EOFError) as exc:
        raise DataError(f"{info.path} could not be decoded ({exc}).", reason="unreadable") from exc
    if next_frame != info.frames:
        raise DataError(
            f"{info.path} changed since it was scanned (decoded {next_frame} of {info.frames} frames); rescan.",
            reason="unreadable",
        )
    if buffer:
        yield np.stack(buffer)


def read_frames(info: ClipInfo, indices: Sequence[int], cropper: FaceCropper) -> np.ndarray:
    """Cropped output frames ``indices`` of a clip, ``(len(indices), S, S, 3)`` uint8, decoding as little as possible.

    Seeks to the keyframe before each needed frame unless it is less than ``SEEK_GAP_SECONDS`` ahead; the result
    equals the same frames of :func:`iter_clip_frames`.
    """
    for k in indices:
        if not 0 <= k < info.frames:
            raise DataError(f"frame {k} is outside {info.path} (0..{info.frames - 1}).", reason="too_short")
    targets = sorted({info.source_pts[k] for k in indices})
    wanted = set(targets)
    found: dict[int, np.ndarray] = {}
    gap = int(SEEK_GAP_SECONDS / Fraction(*info.time_base))
    from_start = False  # set when the demuxer seeks past a target; then decode from the first frame
    try:
        with av.open(str(info.path)) as container:
            video = container.streams.video[0]
            position = 0
            while position < len(targets):
                container.seek(info.source_pts[0] if from_start else targets[position], stream=video)
                reseek = False
                first = True
                for frame in container.decode(video):
                    if frame.pts is None:
                        continue
                    if first and not from_start and frame.pts > targets[position]:
                        from_start = reseek = True
                        break
                    first = False
                    if frame.pts in wanted and frame.pts not in found:
                        found[frame.pts] = _checked_crop(cropper, _to_rgb(frame), info.box)
                    while position < len(targets) and targets[position] in found:
                        position += 1
                    if position == len(targets):
                        break
                    if not from_start and targets[position] - frame.pts > gap:
                        reseek = True
                        break
                if not reseek and position < len(targets):
                    break
    except (av.FFmpegError, OSError, EOFError) as exc:
        raise DataError(f"{info.path} could not be decoded ({exc}).", reason="unreadable") from exc
    missing = [p for p in targets if p not in found]
    if missing:
        raise DataError(
            f"{info.path}: frames at pts {missing[:3]} not found; the file changed, rescan.", reason="unreadable"
        )
    return np.stack([found[info.source_pts[k]] for k in indices])


def _file_key(path: Path, root: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"path": str(path.relative_to(root)), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _settings_key(settings: ScanSettings, cropper: FaceCropper) -> str:
    payload = json.dumps({"settings": asdict(settings), "cropper": cropper.name}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class VideoDataset:
    """The usable clips of a folder and the summary of the scan."""

    root: Path
    clips: tuple[ClipInfo, ...]
    summary: DatasetSummary


def scan_folder(
    root: str | Path,
    cropper: FaceCropper,
    settings: ScanSettings = ScanSettings(),
    *,
    index_path: str | Path | None = None,
    verbose: bool = True,
) -> VideoDataset:
    """Scan every video under ``root``; skip unusable ones with a warning; print the summary when ``verbose``.

    With ``index_path``, results (usable clips and skipped files) are cached in that JSON file and reused for files
    whose size and modification time are unchanged under the same settings and cropper name.
    """
    root = Path(root)
    files = list_videos(root)
    key = _settings_key(settings, cropper)
    cached: dict[str, dict[str, Any]] = {}
    if index_path is not None and Path(index_path).is_file():
        try:
            index = json.loads(Path(index_path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            index = {}
        if index.get("format") == INDEX_FORMAT and index.get("settings_key") == key:
            cached = {entry["file"]["path"]: entry for entry in index.get("entries", [])}
    summary = DatasetSummary(root=root, fps=settings.fps)
    clips: list[ClipInfo] = []
    entries: list[dict[str, Any]] = []
    for path in files:
        summary.total += 1
        file_key = _file_key(path, root)
        entry = cached.get(file_key["path"])
        if entry is None or entry["file"] != file_key:
            try:
                info = probe_clip(path, cropper, settings)
                entry = {"file": file_key, "clip": {**info.to_json(), "path": file_key["path"]}}
            except DataError as error:
                entry = {"file": file_key, "skipped": {"reason": error.reason, "message": str(error)}}
        entries.append(entry)
        if "skipped" in entry:
            skipped = DataError(entry["skipped"]["message"], reason=entry["skipped"]["reason"])
            summary.skip(path, skipped)
            warnings.warn(f"{skipped} Skipped.", SkippedFileWarning, stacklevel=2)
            continue
        info = ClipInfo.from_json({**entry["clip"], "path": str(root / entry["clip"]["path"])})
        clips.append(info)
        summary.kept += 1
        summary.kept_frames += info.frames
    if index_path is not None:
        payload = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "settings_key": key, "entries": entries}
        with atomic_path(index_path) as tmp:
            tmp.write_text(json.dumps(payload) + "\n", encoding="utf-8")
    if verbose:
        print(summary, file=sys.stderr)
    return VideoDataset(root=root, clips=tuple(clips), summary=summary)


def to_tensor_image(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(..., H, W, 3)`` frames -> float32 ``(..., 3, H, W)`` in ``[-1, 1]`` (``x / 127.5 - 1``)."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).float()
    return tensor.movedim(-1, -3) / 127.5 - 1.0


RegionFinder = Callable[[np.ndarray], Sequence[Box | None]]
"""``(crop uint8 (S, S, 3)) -> one box per region`` (e.g. mouth, left eye, right eye from landmarks), ``None`` for a
region that was not found; raises FaceNotFoundError when no landmarks are found at all."""


class FramePairSource(IndexedBatchStream):
    """(source, driving) frame pairs from one clip, for the auto-encoder.

    Sample ``g`` (a global index over all ranks) draws, with ``numpy.random.default_rng([seed, g])``, a clip
    uniformly and two distinct frames of it uniformly. A clip that fails to decode is skipped with a warning and
    the next draw of the same stream is used. Batches: ``{"source": (B, 3, S, S), "driving": (B, 3, S, S)}`` in
    ``[-1, 1]``, plus ``"regions": (B, R, 4)`` and ``"regions_valid": (B, R)`` of the driving crops when a
    ``region_finder`` is given.
    """

    def __init__(
        self,
        clips: Sequence[ClipInfo],
        cropper: FaceCropper,
        *,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 0,
        region_finder: RegionFinder | None = None,
        regions: int = 0,
    ) -> None:
        usable = tuple(c for c in clips if c.frames >= 2)
        if not usable:
            raise ConfigError("no clip has the 2 frames a (source, driving) pair needs; check the video folder.")
        if (region_finder is None) != (regions == 0):
            raise ConfigError("give region_finder and the number of regions it returns together.")
        self.clips = usable
        self.cropper = cropper
        self.region_finder = region_finder
        self.regions = regions
        super().__init__(batch_size=batch_size, seed=seed, rank=rank, world_size=world_size, workers=workers)

    def _draw(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        clip = self.clips[int(rng.integers(len(self.clips)))]
        source, driving = (int(i) for i in rng.choice(clip.frames, size=2, replace=False))
        frames = read_frames(clip, [source, driving], self.cropper)
        sample = {"source": to_tensor_image(frames[0]), "driving": to_tensor_image(frames[1])}
        if self.region_finder is not None:
            boxes = torch.zeros(self.regions, 4)
            valid = torch.zeros(self.regions, dtype=torch.bool)
            try:
                found = list(self.region_finder(frames[1]))
            except FaceNotFoundError:
                found = [None] * self.regions
            if len(found) != self.regions:
                raise ConfigError(f"region_finder returned {len(found)} regions, expected {self.regions}.")
            for i, box in enumerate(found):
                if box is not None:
                    boxes[i] = torch.tensor(box, dtype=torch.float32)
                    valid[i] = True
            sample["regions"], sample["regions_valid"] = boxes, valid
        return sample

    def sample(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        failures = []
        for _ in range(MAX_SAMPLE_ATTEMPTS):
            try:
                return self._draw(rng)
            except DataError as error:
                failures.append(str(error))
                warnings.warn(f"{error} Drawing another clip.", SkippedFileWarning, stacklevel=2)
        raise DataError(f"{MAX_SAMPLE_ATTEMPTS} clips in a row failed to decode; last: {failures[-1]}")


def default_index_path(output_dir: str | Path) -> Path:
    """Where a training run caches its scan of the video folder."""
    return Path(output_dir) / "video_index.json"


def ensure_folder(path: str | Path) -> Path:
    """Create ``path`` (and parents) if needed and return it."""
    path = Path(path)
    os.makedirs(path, exist_ok=True)
    return path
