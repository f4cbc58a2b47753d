"""Feature cache for flow training: per-clip motion latents and audio features in safetensors shards.

The flow stage never decodes video: features are extracted once (:func:`extract_features`) into a folder::

    index.json                 {"format", "version", "fps", "dims", "clips": [{"name", "id", "shard", "frames"}]}
    shard-00000.safetensors    tensors "clip0000000.motion" (T, D), "clip0000000.audio" (T, Da),
                               optional "clip0000000.emotion" (T, E) and "clip0000000.source" (D,)

Shards and the index are written atomically; the index is rewritten after every shard, so an interrupted
extraction keeps what it finished and a new call continues where it stopped. :class:`WindowSource` samples
``L' + L`` windows with their previous context from the cache.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch

from motionkit.data.stream import IndexedBatchStream
from motionkit.data.video import ClipInfo, FaceCropper, SkippedFileWarning, clip_audio, iter_clip_frames
from motionkit.errors import CheckpointError, ConfigError, DataError, ShapeError
from motionkit.io.files import atomic_path, make_folder
from motionkit.io.tensors import write_tensors

CACHE_FORMAT = "motionkit.feature-cache"
CACHE_VERSION = 1
INDEX_FILE = "index.json"
PER_FRAME_KEYS = ("motion", "audio", "emotion")
"""Per-frame features ``(T, C)``; ``motion`` and ``audio`` are required."""
PER_CLIP_KEYS = ("source",)
"""Per-clip features ``(C,)``."""
DEFAULT_SHARD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ClipFeatures:
    """The cached features of one clip.

    Attributes:
        name: the clip's name (its path relative to the video folder).
        motion: ``(T, D)`` motion latents.
        audio: ``(T, Da)`` audio features.
        emotion: ``(T, E)`` emotion weights, or ``None``.
        source: ``(D,)`` source motion of the clip, or ``None``.
    """

    name: str
    motion: torch.Tensor
    audio: torch.Tensor
    emotion: torch.Tensor | None = None
    source: torch.Tensor | None = None

    @property
    def frames(self) -> int:
        return int(self.motion.shape[0])


def _check_features(name: str, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    unknown = set(tensors) - set(PER_FRAME_KEYS) - set(PER_CLIP_KEYS)
    if unknown:
        raise ShapeError(
            f"clip {name!r}: unknown feature names {sorted(unknown)}; use {PER_FRAME_KEYS + PER_CLIP_KEYS}."
        )
    for required in ("motion", "audio"):
        if required not in tensors:
            raise ShapeError(f"clip {name!r} lacks the required {required!r} features.")
    frames = tensors["motion"].shape[0]
    checked = {}
    for key, value in tensors.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ShapeError(f"clip {name!r}: {key} must be a floating-point tensor.")
        if not bool(torch.isfinite(value).all()):
            raise ShapeError(f"clip {name!r}: {key} contains NaN or infinite values.")
        if key in PER_FRAME_KEYS and (value.ndim != 2 or value.shape[0] != frames):
            raise ShapeError(f"clip {name!r}: {key} must be (T={frames}, C), got {tuple(value.shape)}.")
        if key in PER_CLIP_KEYS and value.ndim != 1:
            raise ShapeError(f"clip {name!r}: {key} must be (C,), got {tuple(value.shape)}.")
        checked[key] = value.detach().to("cpu", torch.float32).contiguous()
    if frames == 0:
        raise ShapeError(f"clip {name!r} has no frames.")
    return checked


class FeatureCacheWriter:
    """Adds clips to a feature cache folder (creating it, or continuing an existing one).

    Example::

        with FeatureCacheWriter("features") as cache:
            if "a.mp4" not in cache:
                cache.add("a.mp4", {"motion": latents, "audio": audio_features})
    """

    def __init__(self, folder: str | Path, *, fps: float = 25.0, shard_bytes: int = DEFAULT_SHARD_BYTES) -> None:
        self.folder = Path(folder)
        make_folder(self.folder)
        self.shard_bytes = shard_bytes
        self.fps = fps
        self.clips: list[dict[str, Any]] = []
        self.dims: dict[str, int] = {}
        index = self.folder / INDEX_FILE
        if index.is_file():
            existing = _read_index(self.folder)
            if existing["fps"] != fps:
                raise ConfigError(f"{self.folder} holds features at {existing['fps']} fps, not {fps}.")
            self.clips = list(existing["clips"])
            self.dims = dict(existing["dims"])
        self._names = {clip["name"] for clip in self.clips}
        self._shard = 1 + max((clip["shard"] for clip in self.clips), default=-1)
        self._buffer: dict[str, torch.Tensor] = {}
        self._buffer_clips: list[dict[str, Any]] = []
        self._buffer_bytes = 0

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __enter__(self) -> FeatureCacheWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.flush()

    def add(self, name: str, tensors: Mapping[str, torch.Tensor]) -> None:
        """Add one clip's features (see :data:`PER_FRAME_KEYS`, :data:`PER_CLIP_KEYS`)."""
        if name in self._names:
            raise ConfigError(f"clip {name!r} is already in the feature cache {self.folder}.")
        checked = _check_features(name, tensors)
        for key, value in checked.items():
            width = int(value.shape[-1])
            if self.dims.setdefault(key, width) != width:
                raise ShapeError(f"clip {name!r}: {key} has width {width}, the cache has {self.dims[key]}.")
        clip_id = len(self.clips) + len(self._buffer_clips)
        for key, value in checked.items():
            self._buffer[f"clip{clip_id:07d}.{key}"] = value
            self._buffer_bytes += value.numel() * value.element_size()
        self._buffer_clips.append(
            {
                "name": name,
                "id": clip_id,
                "shard": self._shard,
                "frames": int(checked["motion"].shape[0]),
                "keys": sorted(checked),
            }
        )
        self._names.add(name)
        if self._buffer_bytes >= self.shard_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the buffered clips as a shard and update the index."""
        if not self._buffer_clips:
            return
        shard = self.folder / f"shard-{self._shard:05d}.safetensors"
        write_tensors(shard, self._buffer, {"format": CACHE_FORMAT})
        self.clips.extend(self._buffer_clips)
        index = {
            "format": CACHE_FORMAT,
            "version": CACHE_VERSION,
            "fps": self.fps,
            "dims": self.dims,
            "clips": self.clips,
        }
        with atomic_path(self.folder / INDEX_FILE) as tmp:
            tmp.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
        self._buffer, self._buffer_clips, self._buffer_bytes = {}, [], 0
        self._shard += 1


def _read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} is not a feature cache (no {INDEX_FILE}); extract features first.")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is unreadable ({exc}); delete the cache and extract again.") from exc
    if index.get("format") != CACHE_FORMAT:
        raise CheckpointError(f"{path} is not a motionkit feature cache index.")
    if index.get("version", 0) > CACHE_VERSION:
        raise CheckpointError(f"{path} has version {index['version']}; upgrade motionkit to read it.")
    return dict(index)


class FeatureCache:
    """Read access to a feature cache folder. Shards are memory-mapped; slices read only what they need."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        index = _read_index(self.folder)
        self.fps = float(index["fps"])
        self.dims: dict[str, int] = dict(index["dims"])
        self._clips = {clip["name"]: clip for clip in index["clips"]}
        self.names: tuple[str, ...] = tuple(clip["name"] for clip in index["clips"])
        self._handles: dict[int, Any] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.names)

    def frames(self, name: str) -> int:
        return int(self._entry(name)["frames"])

    def has(self, key: str) -> bool:
        """Whether every clip has the feature ``key``."""
        return all(key in clip["keys"] for clip in self._clips.values())

    def _entry(self, name: str) -> dict[str, Any]:
        try:
            return dict(self._clips[name])
        except KeyError:
            raise ConfigError(f"clip {name!r} is not in the feature cache {self.folder}.") from None

    def _handle(self, shard: int) -> Any:
        from safetensors import safe_open

        with self._lock:
            if shard not in self._handles:
                path = self.folder / f"shard-{shard:05d}.safetensors"
                try:
                    self._handles[shard] = safe_open(str(path), framework="pt")
                except Exception as exc:  # safetensors raises several unrelated types on corrupt files
                    raise CheckpointError(f"feature shard {path} is missing or corrupt ({exc}).") from exc
            return self._handles[shard]

    def read(self, name: str, key: str, start: int | None = None, stop: int | None = None) -> torch.Tensor:
        """Feature ``key`` of a clip, frames ``[start, stop)`` for per-frame features (a new tensor)."""
        entry = self._entry(name)
        if key not in entry["keys"]:
            raise ConfigError(f"clip {name!r} has no {key!r} features (it has {entry['keys']}).")
        handle = self._handle(int(entry["shard"]))
        tensor_name = f"clip{int(entry['id']):07d}.{key}"
        if key in PER_CLIP_KEYS or (start is None and stop is None):
            return handle.get_tensor(tensor_name)
        return handle.get_slice(tensor_name)[start:stop]

    def load(self, name: str) -> ClipFeatures:
        """All features of one clip."""
        keys = self._entry(name)["keys"]
        return ClipFeatures(
            name=name,
            motion=self.read(name, "motion"),
            audio=self.read(name, "audio"),
            emotion=self.read(name, "emotion") if "emotion" in keys else None,
            source=self.read(name, "source") if "source" in keys else None,
        )


class FeatureExtractor(Protocol):
    """Model-specific feature computation used by :func:`extract_features`.

    ``frames`` maps a chunk of consecutive cropped frames ``(n, S, S, 3)`` uint8 to per-frame features, e.g.
    ``{"motion": (n, D)}`` (the renderer's motion latents); chunks are concatenated in order. ``audio`` maps the
    clip's aligned 16 kHz waveform ``(T * 640,)`` to per-frame features for ``T`` frames, e.g.
    ``{"audio": (T, Da), "emotion": (T, E)}``.
    """

    def frames(self, frames: np.ndarray) -> Mapping[str, torch.Tensor]: ...

    def audio(self, waveform: np.ndarray, num_frames: int) -> Mapping[str, torch.Tensor]: ...


def clip_name(info: ClipInfo, root: str | Path) -> str:
    """The cache name of a clip: its path relative to the video folder, with '/' separators."""
    return Path(info.path).relative_to(root).as_posix()


def extract_features(
    clips: Sequence[ClipInfo],
    root: str | Path,
    cropper: FaceCropper,
    extractor: FeatureExtractor,
    folder: str | Path,
    *,
    chunk: int = 64,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
) -> FeatureCache:
    """Compute and cache the features of every clip not yet in ``folder``; returns the cache.

    Clips that fail to decode are skipped with a warning (they were readable when scanned, so the file changed).
    """
    fps = clips[0].fps if clips else 25.0
    with FeatureCacheWriter(folder, fps=fps, shard_bytes=shard_bytes) as writer:
        for info in clips:
            name = clip_name(info, root)
            if name in writer:
                continue
            try:
                parts: dict[str, list[torch.Tensor]] = {}
                for frames in iter_clip_frames(info, cropper, chunk):
                    for key, value in extractor.frames(frames).items():
                        parts.setdefault(key, []).append(value)
                features = {key: torch.cat(values) for key, values in parts.items()}
                features.update(extractor.audio(clip_audio(info), info.frames))
            except DataError as error:
                warnings.warn(f"{error} Skipped.", SkippedFileWarning, stacklevel=2)
                continue
            writer.add(name, features)
    return FeatureCache(folder)


class WindowSource(IndexedBatchStream):
    """``L' + L`` windows of cached features for flow training.

    Sample ``g`` draws, with ``numpy.random.default_rng([seed, g])``, a start frame ``s`` uniformly among all
    windows of all clips (every window position is equally likely, so longer clips are drawn more often) and
    returns frames ``[s, s + L)`` with the context ``[s - L', s)``. Context frames before the clip start are zeros
    (FLOAT's first window has an all-zero context), and ``context_valid`` marks the real ones. Batch keys::

        motion (B, L, D), audio (B, L, Da), prev_motion (B, L', D), prev_audio (B, L', Da),
        context_valid (B, L') bool, source (B, D)  [+ emotion (B, L, E), prev_emotion (B, L', E) when cached]

    ``source`` is the clip's cached source motion (``source_frame="cached"``) or the motion latent of a uniformly
    drawn frame of the same clip (``"random"``).
    """

    def __init__(
        self,
        cache: FeatureCache,
        *,
        window: int,
        context: int,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 0,
        source_frame: Literal["cached", "random"] = "random",
    ) -> None:
        if window < 1 or context < 0:
            raise ConfigError(f"window must be >= 1 and context >= 0, got {window} and {context}.")
        if source_frame == "cached" and not cache.has("source"):
            raise ConfigError("source_frame 'cached' needs 'source' features for every clip; use 'random'.")
        self.cache = cache
        self.window = window
        self.context = context
        self.source_frame = source_frame
        self.emotion = cache.has("emotion")
        self.clips = tuple(name for name in cache.names if cache.frames(name) >= window)
        if not self.clips:
            raise ConfigError(f"no clip in {cache.folder} has the {window} frames a window needs.")
        counts = np.array([cache.frames(name) - window + 1 for name in self.clips], dtype=np.int64)
        self._ends = np.cumsum(counts)
        super().__init__(batch_size=batch_size, seed=seed, rank=rank, world_size=world_size, workers=workers)

    @property
    def windows(self) -> int:
        """Number of distinct window positions."""
        return int(self._ends[-1])

    def locate(self, position: int) -> tuple[str, int]:
        """The clip and start frame of window ``position`` in ``0 .. windows - 1``."""
        clip = int(np.searchsorted(self._ends, position, side="right"))
        start = position - (int(self._ends[clip - 1]) if clip else 0)
        return self.clips[clip], start

    def _span(self, name: str, key: str, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (L', C) zero-padded before the clip start, window (L, C))."""
        first = max(0, start - self.context)
        values = self.cache.read(name, key, first, start + self.window)
        pad = self.context - (start - first)
        context = values[: start - first]
        if pad:
            context = torch.cat([values.new_zeros(pad, values.shape[1]), context])
        return context, values[start - first :]

    def sample(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        name, start = self.locate(int(rng.integers(self.windows)))
        prev_motion, motion = self._span(name, "motion", start)
        prev_audio, audio = self._span(name, "audio", start)
        if self.source_frame == "cached":
            source = self.cache.read(name, "source")
        else:
            frame = int(rng.integers(self.cache.frames(name)))
            source = self.cache.read(name, "motion", frame, frame + 1)[0]
        valid = torch.arange(start - self.context, start) >= 0
        sample = {
            "motion": motion,
            "audio": audio,
            "prev_motion": prev_motion,
            "prev_audio": prev_audio,
            "context_valid": valid,
            "source": source,
        }
        if self.emotion:
            sample["prev_emotion"], sample["emotion"] = self._span(name, "emotion", start)
        return sample
