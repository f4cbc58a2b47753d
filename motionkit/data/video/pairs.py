"""(source, driving) frame pairs of scanned clips for the auto-encoder, drawn deterministically per sample."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from motionkit.data.stream import IndexedBatchStream
from motionkit.data.video.clip import ClipInfo, FaceCropper, SkippedFileWarning
from motionkit.data.video.decode import read_frames
from motionkit.errors import ConfigError, DataError, FaceNotFoundError
from motionkit.face import Box
from motionkit.io.image import images_to_tensor

MAX_SAMPLE_ATTEMPTS = 16
"""Clips tried for one sample before a data source gives up (all of them failed to decode)."""

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
        sample = {"source": images_to_tensor(frames[0]), "driving": images_to_tensor(frames[1])}
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
                    boxes[i] = torch.tensor(Box.coerce(box).as_tuple(), dtype=torch.float32)
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
