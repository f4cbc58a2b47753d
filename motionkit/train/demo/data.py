"""In-memory synthetic training data of the demo model: talking clips and random poses of many faces.

Each training identity contributes one talking clip (frames, speech, per-frame parameters), frames in uniformly
random poses (so the auto-encoder sees the whole pose range, beyond what speech visits) and its neutral frontal
portrait (the kind of image the model is driven from at inference). Identities are drawn from the synthetic world
with seeds :func:`training_seeds`; evaluation uses :func:`held_out_seeds`, which never overlap them.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from motionkit.data.stream import IndexedBatchStream
from motionkit.data.synthetic import (
    PARAM_NAMES,
    FaceIdentity,
    FaceParams,
    SyntheticClip,
    SyntheticWorld,
    SyntheticWorldConfig,
    clip_seed,
)
from motionkit.errors import ConfigError
from motionkit.io.image import images_to_tensor

HELD_OUT_FIRST_SEED = 9000
"""Held-out clips use seeds 9000, 9001, ... (as the synthetic-world benchmarks do)."""
DEMO_FACE_SEED = 9
"""The face of the bundled demo portrait (never used for training)."""
MOUTH_CHANGE = 8
"""Grey levels by which a pixel must change between a closed and an open mouth to belong to the mouth."""
MOUTH_MARGIN = 1
"""Pixels added around the mouth box on each side."""


def training_seeds(seed: int, count: int) -> list[int]:
    """Seeds of the ``count`` training identities of the recipe with ``seed`` (clip ``i``: ``clip_seed(seed, i)``),
    skipping any that is a held-out or the demo face's seed."""
    reserved = {DEMO_FACE_SEED}
    seeds: list[int] = []
    index = 0
    while len(seeds) < count:
        candidate = clip_seed(seed, index)
        index += 1
        if candidate not in reserved and not HELD_OUT_FIRST_SEED <= candidate < HELD_OUT_FIRST_SEED + 1000:
            seeds.append(candidate)
    return seeds


def held_out_seeds(count: int, offset: int = 0) -> list[int]:
    """Seeds of held-out clips: ``9000 + offset + i``."""
    return [HELD_OUT_FIRST_SEED + offset + i for i in range(count)]


def parameter_scales(world: SyntheticWorld) -> np.ndarray:
    """``(P,)`` divisors that bring the parameters to comparable ranges: the soft angle limits for yaw, pitch and
    roll (degrees), 1 for the parameters in ``[0, 1]``."""
    motion = world.config.motion
    limits = {"yaw": motion.yaw_limit, "pitch": motion.pitch_limit, "roll": motion.roll_limit}
    return np.array([limits.get(name, 1.0) for name in PARAM_NAMES], dtype=np.float32)


@dataclass(frozen=True)
class DemoIdentity:
    """One training face.

    Attributes:
        seed: the synthetic-world seed of its face, voice and clip.
        portrait: ``(S, S, 3)`` uint8 neutral frontal image.
        frames: ``(N, S, S, 3)`` uint8: the talking clip's ``clip_frames`` frames, then the random poses.
        params: ``(N, P)`` float32 parameters of ``frames`` (:data:`~motionkit.data.synthetic.PARAM_NAMES` order).
        mouths: ``(N, 4)`` float32 mouth boxes of ``frames`` (:func:`mouth_boxes`).
        clip_frames: number of talking-clip frames at the start of ``frames``.
        audio: ``(clip_frames * samples_per_frame,)`` float32 speech of the clip.
    """

    seed: int
    portrait: np.ndarray
    frames: np.ndarray
    params: np.ndarray
    mouths: np.ndarray
    clip_frames: int
    audio: np.ndarray


def mouth_boxes(world: SyntheticWorld, identity: FaceIdentity, params: FaceParams) -> np.ndarray:
    """``(T, 4)`` float32 boxes ``(x1, y1, x2, y2)`` in pixels around the mouth of each frame's pose.

    The mouth is where renders of the same pose with the mouth closed (``mouth_open = 0``) and wide open (``1``)
    differ by more than :data:`MOUTH_CHANGE` grey levels, grown by :data:`MOUTH_MARGIN` pixels; frames where they
    do not differ get an all-zero box.
    """
    frames = params.frames
    closed = world.render(identity, params.replace(mouth_open=np.zeros(frames, np.float32)))
    opened = world.render(identity, params.replace(mouth_open=np.ones(frames, np.float32)))
    changed = np.abs(opened.astype(np.int16) - closed.astype(np.int16)).max(axis=-1) > MOUTH_CHANGE
    boxes = np.zeros((frames, 4), np.float32)
    size = world.size
    for t in range(frames):
        rows, cols = np.nonzero(changed[t])
        if rows.size:
            boxes[t] = (
                max(cols.min() - MOUTH_MARGIN, 0),
                max(rows.min() - MOUTH_MARGIN, 0),
                min(cols.max() + 1 + MOUTH_MARGIN, size),
                min(rows.max() + 1 + MOUTH_MARGIN, size),
            )
    return boxes


def make_identity(
    world_config: SyntheticWorldConfig, size: int, seed: int, seconds: float, pose_frames: int
) -> DemoIdentity:
    """Render one training identity in the world of ``world_config`` at ``size`` pixels (a pure function of its
    arguments)."""
    world = SyntheticWorld(world_config, size=size)
    clip = world.clip(seed, seconds)
    assert clip.frames is not None
    frames = [clip.frames]
    params = [clip.params]
    if pose_frames:
        poses = world.random_params(seed, pose_frames)
        frames.append(world.render(clip.identity, poses))
        params.append(poses)
    every = FaceParams.from_mapping({name: np.concatenate([p.as_dict()[name] for p in params]) for name in PARAM_NAMES})
    return DemoIdentity(
        seed=seed,
        portrait=world.portrait(clip.identity),
        frames=np.concatenate(frames),
        params=every.as_array(),
        mouths=mouth_boxes(world, clip.identity, every),
        clip_frames=clip.num_frames,
        audio=clip.audio,
    )


def _make_identity_job(job: tuple[SyntheticWorldConfig, int, int, float, int]) -> DemoIdentity:
    return make_identity(*job)


def make_identities(
    world_config: SyntheticWorldConfig,
    size: int,
    seeds: Sequence[int],
    seconds: float,
    pose_frames: int,
    *,
    workers: int = 1,
) -> list[DemoIdentity]:
    """Render the identities of ``seeds`` (in order) in the world of ``world_config``, with ``workers`` processes."""
    jobs = [(world_config, size, seed, seconds, pose_frames) for seed in seeds]
    if workers == 1 or len(jobs) == 1:
        return [_make_identity_job(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_make_identity_job, jobs, chunksize=4))


def held_out_clips(
    world_config: SyntheticWorldConfig, size: int, count: int, seconds: float, *, offset: int = 0
) -> list[SyntheticClip]:
    """``count`` held-out talking clips (seeds :func:`held_out_seeds`) of the world of ``world_config`` at ``size``
    pixels."""
    world = SyntheticWorld(world_config, size=size)
    return [world.clip(seed, seconds) for seed in held_out_seeds(count, offset)]


class SyntheticPairSource(IndexedBatchStream):
    """(source, driving) pairs of one identity for the auto-encoder, with the driving frame's known parameters.

    Sample ``g`` draws with ``numpy.random.default_rng([seed, g])`` an identity uniformly, a driving frame uniformly
    among its frames, and a source: its neutral portrait with probability ``portrait_rate``, else another uniformly
    drawn frame. Batches: ``source``, ``driving`` ``(B, 3, S, S)`` in ``[-1, 1]``, ``params (B, P)`` (the driving
    frame's parameters divided by ``scales``) and the driving frame's mouth box as ``regions (B, 1, 4)`` with
    ``regions_valid (B, 1)`` (for the auto-encoder's region loss).
    """

    def __init__(
        self,
        identities: Sequence[DemoIdentity],
        scales: np.ndarray,
        *,
        portrait_rate: float,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not identities:
            raise ConfigError("the pair source needs at least one identity.")
        if not 0.0 <= portrait_rate <= 1.0:
            raise ConfigError(f"portrait_rate must be in [0, 1], got {portrait_rate}.")
        self.identities = tuple(identities)
        self.scales = np.asarray(scales, dtype=np.float32)
        self.portrait_rate = portrait_rate
        super().__init__(batch_size=batch_size, seed=seed, rank=rank, world_size=world_size)

    def sample(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        identity = self.identities[int(rng.integers(len(self.identities)))]
        count = identity.frames.shape[0]
        driving = int(rng.integers(count))
        portrait = bool(rng.random() < self.portrait_rate)
        source = identity.portrait if portrait else identity.frames[int(rng.integers(count))]
        box = identity.mouths[driving]
        return {
            "source": images_to_tensor(source),
            "driving": images_to_tensor(identity.frames[driving]),
            "params": torch.from_numpy(identity.params[driving] / self.scales),
            "regions": torch.from_numpy(box)[None],
            "regions_valid": torch.tensor([bool(box[2] > box[0])]),
        }
