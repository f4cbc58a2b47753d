"""Access to the IMTalker parity fixture (``../shared/imtalker-parity`` from the project root).

The folder holds what the official IMTalker code computes under formula-generated weights
(:mod:`motionkit.testing.imtalker_weights`), with per-tensor tolerances (:func:`~motionkit.testing.parity.
compare_to_reference` applies them: max-abs, rms, the share of frame elements off by more than 1e-3, the share of
mismatching argmax indices). Large tensors are stored as statistics and centre crops; :meth:`ImtalkerFixture.
assert_summary` compares a computed tensor through the same reductions.

Tests call :func:`imtalker_fixture`; it skips with a reason when the folder is absent and fails under ``CI``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from motionkit.families.imtalker.checkpoints import GENERATOR_PREFIX, RENDERER_PREFIX
from motionkit.testing.imtalker_weights import imtalker_state_dict
from motionkit.testing.parity import PROJECT_ROOT, FixtureFolder, locate_fixture

DEFAULT_FIXTURE_DIR = PROJECT_ROOT.parent / "shared" / "imtalker-parity"
FIXTURE_ENV = "MOTIONKIT_IMTALKER_PARITY_DIR"

SUMMARY_PARTS = ("mean", "std", "chan_mean", "chan_std", "crop")
"""Suffixes of a summarised tensor's entries (those a given tensor has are in the manifest)."""


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size x size`` window of ``(..., H, W)``: rows and columns from ``(H - size) // 2``."""
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]


def summaries(x: torch.Tensor, crop: int, *, squeeze: bool) -> dict[str, torch.Tensor]:
    """The fixture's reductions of ``x`` ``(B, C, H, W)``, in float64 with the population std.

    ``mean``/``std`` ``(B,)`` over each item, ``chan_mean``/``chan_std`` ``(B, C)`` per channel, ``crop`` the
    ``crop x crop`` centre (``x``'s dtype). ``squeeze`` drops the batch dimension of the per-channel statistics (the
    fixture's feature maps, batch 1).
    """
    values = x.detach().double()
    out = {
        "mean": values.mean(dim=(1, 2, 3)),
        "std": values.std(dim=(1, 2, 3), correction=0),
        "chan_mean": values.mean(dim=(2, 3)),
        "chan_std": values.std(dim=(2, 3), correction=0),
        "crop": centre_crop(x.detach(), crop),
    }
    if squeeze:
        out["chan_mean"], out["chan_std"] = out["chan_mean"][0], out["chan_std"][0]
    return out


class ImtalkerFixture(FixtureFolder):
    """The IMTalker parity folder: expected tensors, tolerances, inputs and the synthetic-weight key list."""

    @property
    def settings(self) -> dict:
        """The run's settings (``manifest.json`` ``set``): T, cfg scales, nfe, FMT test times, input files."""
        return dict(self.manifest["set"])

    @property
    def image_path(self) -> Path:
        return self.root / self.settings["image"]

    @property
    def audio_path(self) -> Path:
        return self.root / "inputs" / "arctic_a0007.wav"

    @property
    def driving_paths(self) -> list[Path]:
        """The video-driven case's driving frames, in order (flip, shift, zoom)."""
        return [self.root / name for name in self.settings["driving_frames"]]

    def renderer_checkpoint(self) -> dict[str, torch.Tensor]:
        """The renderer's generated weights under their ``renderer.ckpt`` names (``gen.`` + IMTRenderer key); shared
        by every caller of the process, so treat the tensors as read-only."""
        return _generated(str(self.root), RENDERER_PREFIX)

    def generator_checkpoint(self) -> dict[str, torch.Tensor]:
        """The generator's generated weights under their ``generator.ckpt`` names (``model.`` + FMGenerator key);
        shared like :meth:`renderer_checkpoint`'s."""
        return _generated(str(self.root), GENERATOR_PREFIX)

    def summary_names(self, prefix: str) -> list[str]:
        """The manifest entries that summarise the tensor ``prefix`` (``prefix_mean`` ... ``prefix_crop``)."""
        names = self.manifest["tensors"]
        return [f"{prefix}_{part}" for part in SUMMARY_PARTS if f"{prefix}_{part}" in names]

    def assert_summary(self, prefix: str, x: torch.Tensor) -> None:
        """Compare ``x`` ``(B, C, H, W)`` with every statistic and crop the fixture stores for ``prefix``."""
        names = self.summary_names(prefix)
        assert names, f"the fixture has no summaries of {prefix!r}"
        crop_name = f"{prefix}_crop"
        crop = self.tensor(crop_name).shape[-1] if crop_name in names else x.shape[-1]
        squeeze = f"{prefix}_chan_mean" in names and self.tensor(f"{prefix}_chan_mean").dim() == 1
        computed = summaries(x, crop, squeeze=squeeze)
        failures = [r.detail for r in (self.compare(n, computed[n[len(prefix) + 1 :]]) for n in names) if not r.ok]
        assert not failures, "; ".join(failures)


@functools.lru_cache(maxsize=2)
def _generated(root: str, prefix: str) -> dict[str, torch.Tensor]:
    """Generated once per process per checkpoint: the renderer alone is 124 M values."""
    fixture = _load_fixture(root)
    return imtalker_state_dict(fixture.shapes(prefix))


def fixture_dir() -> Path:
    return Path(os.environ.get(FIXTURE_ENV, DEFAULT_FIXTURE_DIR))


@functools.lru_cache(maxsize=1)
def _load_fixture(root: str) -> ImtalkerFixture:
    return ImtalkerFixture(Path(root))


def imtalker_fixture() -> ImtalkerFixture:
    """The IMTalker parity fixture; inside pytest, skip (or fail under ``CI``) when it is absent."""
    return _load_fixture(str(locate_fixture(fixture_dir(), "IMTalker", FIXTURE_ENV)))
