"""Synthetic datasets on disk: one compressed ``.npz`` (frames and ground truth) and one ``.wav`` per clip.

Layout of a dataset folder::

    manifest.json          format, version, world configuration, and one entry per clip (name, seed, frames)
    clip_00000.npz         frames (T, H, W, 3) uint8, every FaceParams array (T,), the timeline arrays,
                           and "metadata" (JSON text: seed, fps, sample_rate, identity, voice)
    clip_00000.wav         mono float32 audio at the world's sample rate, T * sample_rate / fps samples
    ...

Every file is written atomically and the manifest last, so a folder with a manifest is complete.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from motionkit.data.synthetic.config import SyntheticWorldConfig
from motionkit.data.synthetic.identity import FaceIdentity, Voice
from motionkit.data.synthetic.params import PARAM_NAMES, FaceParams
from motionkit.data.synthetic.phonetics import Timeline
from motionkit.data.synthetic.world import SyntheticClip, SyntheticWorld
from motionkit.errors import ConfigError, OutputError, require
from motionkit.io.files import atomic_path, make_folder

DATASET_FORMAT = "motionkit.synthetic-dataset"
DATASET_VERSION = 1
MANIFEST = "manifest.json"
_TIMELINE_FIELDS = ("starts", "ends", "phones", "stressed", "phrase")


def clip_seed(dataset_seed: int, index: int) -> int:
    """Seed of clip ``index`` of a dataset made with ``dataset_seed`` (independent streams per clip)."""
    return int(np.random.SeedSequence([int(dataset_seed), int(index)]).generate_state(1, np.uint32)[0])


def write_clip(clip: SyntheticClip, folder: str | Path, name: str, *, overwrite: bool = True) -> tuple[Path, Path]:
    """Write ``clip`` as ``folder/name.npz`` and ``folder/name.wav``; returns both paths.

    Raises:
        OutputError: the clip has no frames, or a file exists and ``overwrite`` is False.
    """
    require(
        clip.frames is not None,
        OutputError,
        f"clip {name} was made with render=False and has no frames; make it with render=True to save it.",
    )
    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {"frames": np.asarray(clip.frames)}
    arrays.update({f"param_{k}": v for k, v in clip.params.as_dict().items()})
    arrays.update({f"timeline_{k}": getattr(clip.timeline, k) for k in _TIMELINE_FIELDS})
    metadata = {**clip.metadata(), "duration": clip.timeline.duration}
    arrays["metadata"] = np.array(json.dumps(metadata))
    npz_path, wav_path = folder / f"{name}.npz", folder / f"{name}.wav"
    with atomic_path(npz_path, overwrite=overwrite) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
    with atomic_path(wav_path, overwrite=overwrite) as tmp:
        sf.write(tmp, clip.audio, clip.sample_rate, subtype="FLOAT", format="WAV")
    return npz_path, wav_path


def read_clip(folder: str | Path, name: str) -> SyntheticClip:
    """Read a clip written by :func:`write_clip`."""
    folder = Path(folder)
    npz_path, wav_path = folder / f"{name}.npz", folder / f"{name}.wav"
    for path in (npz_path, wav_path):
        require(path.is_file(), ConfigError, f"{path} is missing; the dataset folder is incomplete.")
    with np.load(npz_path, allow_pickle=False) as data:
        metadata = json.loads(str(data["metadata"]))
        frames = data["frames"]
        params = FaceParams(**{k: data[f"param_{k}"] for k in PARAM_NAMES})
        timeline = Timeline(
            **{k: data[f"timeline_{k}"] for k in _TIMELINE_FIELDS}, duration=float(metadata["duration"])
        )
    audio, sample_rate = sf.read(wav_path, dtype="float32")
    require(
        sample_rate == metadata["sample_rate"],
        ConfigError,
        f"{wav_path} has {sample_rate} Hz but its clip says {metadata['sample_rate']} Hz; rewrite the clip.",
    )
    return SyntheticClip(
        frames=frames,
        audio=audio,
        params=params,
        identity=FaceIdentity.from_dict(metadata["identity"]),
        voice=Voice.from_dict(metadata["voice"]),
        timeline=timeline,
        seed=int(metadata["seed"]),
        fps=float(metadata["fps"]),
        sample_rate=int(sample_rate),
    )


def _make_clip(job: tuple[dict[str, Any], int, float, int | None, str, str]) -> dict[str, Any]:
    config_json, seed, seconds, identity_seed, folder, name = job
    world = SyntheticWorld(SyntheticWorldConfig.model_validate(config_json))
    identity = None if identity_seed is None else world.identity(identity_seed)
    clip = world.clip(seed, seconds, identity=identity)
    write_clip(clip, folder, name)
    return {"name": name, "seed": seed, "identity_seed": clip.identity.seed, "frames": clip.num_frames}


def generate_dataset(
    folder: str | Path,
    n_clips: int,
    seconds: float,
    *,
    size: int = 128,
    seed: int = 0,
    identities: int | None = None,
    config: SyntheticWorldConfig | None = None,
    workers: int = 1,
    overwrite: bool = False,
) -> Path:
    """Render ``n_clips`` clips of ``seconds`` each into ``folder`` and write its manifest; returns the manifest.

    Args:
        folder: created if missing; must not hold a dataset unless ``overwrite``.
        n_clips, seconds: how many clips, and the length of each.
        size: image side (overrides ``config.size``).
        seed: dataset seed; clip ``i`` uses :func:`clip_seed` ``(seed, i)``.
        identities: ``None`` gives every clip its own face; ``k`` cycles through ``k`` faces (clip ``i`` shows
            face ``clip_seed(seed, i % k)``) so that each face is seen speaking several clips.
        config: world configuration (defaults to :class:`SyntheticWorldConfig`).
        workers: processes rendering in parallel (1 renders in this process).
        overwrite: replace an existing dataset in ``folder``.
    """
    require(n_clips >= 1, ConfigError, f"n_clips must be at least 1, got {n_clips}.")
    require(identities is None or identities >= 1, ConfigError, f"identities must be >= 1, got {identities}.")
    require(workers >= 1, ConfigError, f"workers must be at least 1, got {workers}.")
    world = SyntheticWorld(config, size=size)
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if manifest_path.exists() and not overwrite:
        raise OutputError(f"{folder} already holds a dataset; choose another folder or pass overwrite=True.")
    make_folder(folder)
    config_json = world.config.model_dump(mode="json")
    jobs = [
        (
            config_json,
            clip_seed(seed, i),
            seconds,
            None if identities is None else clip_seed(seed, i % identities),
            str(folder),
            f"clip_{i:05d}",
        )
        for i in range(n_clips)
    ]
    if workers == 1:
        entries = [_make_clip(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            entries = list(pool.map(_make_clip, jobs))
    manifest = {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "seed": seed,
        "seconds": seconds,
        "identities": identities,
        "config": config_json,
        "clips": entries,
    }
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return manifest_path


class SyntheticDataset(Sequence[SyntheticClip]):
    """Read access to a folder written by :func:`generate_dataset`; clips load lazily, one file pair each."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        path = self.folder / MANIFEST
        require(
            path.is_file(),
            ConfigError,
            f"{path} not found; generate the dataset with motionkit.data.synthetic.generate_dataset first.",
        )
        manifest = json.loads(path.read_text())
        require(
            manifest.get("format") == DATASET_FORMAT and manifest.get("version") == DATASET_VERSION,
            ConfigError,
            f"{path} is not a version-{DATASET_VERSION} {DATASET_FORMAT} manifest; regenerate the dataset.",
        )
        self.manifest: dict[str, Any] = manifest
        self.config = SyntheticWorldConfig.model_validate(manifest["config"])
        self.names: list[str] = [entry["name"] for entry in manifest["clips"]]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> SyntheticClip:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(f"clip index {index} out of range for a dataset of {len(self)} clips")
        return read_clip(self.folder, self.names[index])

    def __iter__(self) -> Iterator[SyntheticClip]:
        for name in self.names:
            yield read_clip(self.folder, name)
