"""Axis sweeps: render a portrait moved along each motion direction, to see (and name) what the axes do.

For a portrait with source motion ``r_s`` and an axis with unit direction ``u`` (in coefficient space), the cell in
column ``j`` shows ``G(identity + r_s + V (delta_j sigma u))`` where ``delta_j`` runs over ``steps`` evenly spaced
values in ``[-span, span]`` and ``sigma`` is the standard deviation of the axis reading ``u . c(t)`` over motion the
model samples for speech (the given clip, or the bundled 4-second speech clip). Offsets are thus in units of how
much the axis moves while the model talks: ``span = 3`` reaches about the extremes of normal speech motion. The
centre column (``delta = 0``) is the reconstructed portrait.

A model whose sampled motion does not move an axis at all (an untrained model samples zeros) gets ``sigma = 1``
coefficient unit for it, and the row label says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from motionkit.errors import ConfigError
from motionkit.face import Box
from motionkit.io.files import atomic_path
from motionkit.progress import ProgressCallback, no_progress
from motionkit.types import MotionTrack

if TYPE_CHECKING:
    from motionkit.pipeline.pipeline import Pipeline, PortraitInput

DEFAULT_SPAN = 3.0
"""Largest offset, in standard deviations of the axis reading during speech."""
DEFAULT_STEPS = 5
"""Columns of the grid (odd, so that the centre column is the portrait itself)."""
DEFAULT_CELL = 128
"""Side of one grid cell in pixels."""
MIN_SIGMA = 1e-6
"""Axis spreads below this count as "does not move" (sigma falls back to one unit)."""
LABEL_WIDTH = 190
HEADER_HEIGHT = 28
FONT_SIZE = 14
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


@dataclass(frozen=True)
class AxisSweep:
    """A rendered sweep: ``cells[i, j]`` is axis ``axes[i]`` moved by ``offsets[j] * sigmas[i]`` units.

    Attributes:
        axes: axis names (named axes of the model's space, or basis directions ``d0 ... d{M-1}``).
        units: the unit of each axis.
        sigmas: standard deviation of each axis reading during speech, in its unit (1 where it does not move).
        measured: whether each sigma was measured (False: the axis did not move, sigma is the 1-unit fallback).
        offsets: column offsets in sigmas, from ``-span`` to ``span``.
        cells: ``(rows, columns, cell, cell, 3)`` uint8 images.
    """

    axes: tuple[str, ...]
    units: tuple[str, ...]
    sigmas: tuple[float, ...]
    measured: tuple[bool, ...]
    offsets: tuple[float, ...]
    cells: np.ndarray

    def grid(self) -> Image.Image:
        """The labelled grid: one row per axis, one column per offset, labels on the left and on top."""
        rows, columns, cell = self.cells.shape[0], self.cells.shape[1], self.cells.shape[2]
        canvas = Image.new("RGB", (LABEL_WIDTH + columns * cell, HEADER_HEIGHT + rows * cell), BACKGROUND)
        draw = ImageDraw.Draw(canvas)
        font = _font()
        for j, offset in enumerate(self.offsets):
            label = "0" if offset == 0 else f"{offset:+g} sd"
            draw.text((LABEL_WIDTH + j * cell + cell / 2, HEADER_HEIGHT / 2), label, fill=INK, font=font, anchor="mm")
        for i, (name, unit, sigma, measured) in enumerate(zip(self.axes, self.units, self.sigmas, self.measured)):
            top = HEADER_HEIGHT + i * cell
            spread = f"sd = {sigma:.3g} {unit}" if measured else f"no motion; sd := 1 {unit}"
            draw.text((8, top + cell / 2 - 9), name, fill=INK, font=font, anchor="lm")
            draw.text((8, top + cell / 2 + 9), spread, fill=INK, font=font, anchor="lm")
            for j in range(columns):
                canvas.paste(Image.fromarray(self.cells[i, j]), (LABEL_WIDTH + j * cell, top))
        return canvas

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write :meth:`grid` as an image (format from the suffix, e.g. ``.png``), atomically."""
        path = Path(path)
        with atomic_path(path, overwrite=overwrite) as tmp:
            self.grid().save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
        return path


def explore(
    pipeline: Pipeline,
    image: PortraitInput,
    *,
    axes: Sequence[str] | None = None,
    span: float = DEFAULT_SPAN,
    steps: int = DEFAULT_STEPS,
    cell: int = DEFAULT_CELL,
    audio: str | Path | np.ndarray | None = None,
    seed: int = 0,
    crop: bool = True,
    box: Box | Sequence[float] | None = None,
    progress: ProgressCallback | None = None,
) -> AxisSweep:
    """Render ``image`` moved along each axis (see the module docstring).

    Args:
        pipeline: the model.
        image: the portrait.
        axes: axis names; default: the model's named axes if it has any, else every basis direction.
        span: largest offset in standard deviations of the axis reading during speech.
        steps: columns (at least 2; odd keeps the unmoved portrait in the centre).
        cell: side of one cell in pixels (frames are resized).
        audio: speech whose sampled motion sets the spreads (default: the bundled speech clip).
        seed: noise seed of that sampling.
        crop, box: portrait preparation (see :meth:`Pipeline.encode_portrait`).
        progress: ``progress(stage, done, total)`` callback (sampling, then ``"rendering"`` cells).
    """
    if not (isinstance(steps, int) and steps >= 2):
        raise ConfigError(f"steps must be an integer >= 2 (columns of the grid), got {steps!r}.")
    if not (span > 0 and np.isfinite(span)):
        raise ConfigError(f"span must be a positive number of standard deviations, got {span!r}.")
    if not (isinstance(cell, int) and cell >= 16):
        raise ConfigError(f"cell must be an integer of at least 16 pixels, got {cell!r}.")
    report = progress or no_progress
    space = pipeline.motion_space
    names = list(axes) if axes else list(space.axes)
    directions = torch.stack([space.axis(name).vector().to(torch.float32) for name in names])  # (A, M)
    source = pipeline.encode_portrait(image, crop=crop, box=box)
    if audio is None:
        from motionkit.assets import demo_speech_path

        audio = demo_speech_path()
    speech = pipeline.generate(source, audio, pipeline.default_emotion, seed=seed, progress=report)
    coefficients = space.project(speech.sampled_track.latents[0].float().cpu())  # (T, M)
    readings = coefficients.to(torch.float64) @ directions.to(torch.float64).T  # (T, A) in coefficient units
    scales = torch.tensor([space.axis(name).scale for name in names], dtype=torch.float64)
    spreads = readings.std(dim=0, unbiased=False) / scales  # in axis units
    measured = spreads > MIN_SIGMA
    sigmas = torch.where(measured, spreads, torch.ones_like(spreads))
    offsets = torch.linspace(-span, span, steps, dtype=torch.float64)
    # latent of cell (i, j) = r_s + V (offset_j * sigma_i * scale_i * u_i)
    amounts = offsets[None, :, None] * (sigmas * scales)[:, None, None] * directions.to(torch.float64)[:, None, :]
    latents = source.motion.cpu().to(torch.float64) + space.compose(amounts.reshape(-1, space.rank))
    track = MotionTrack(latents.to(torch.float32)[None].to(pipeline.device), fps=speech.fps)
    cells = np.empty((len(names), steps, cell, cell, 3), dtype=np.uint8)
    total = len(names) * steps
    report("rendering", 0, total)
    for index, frame in enumerate(pipeline.render(source, track).frames()):
        row, column = divmod(index, steps)
        cells[row, column] = np.asarray(Image.fromarray(frame).resize((cell, cell), Image.Resampling.BICUBIC))
        report("rendering", index + 1, total)
    return AxisSweep(
        axes=tuple(names),
        units=tuple(space.axis(name).unit for name in names),
        sigmas=tuple(float(s) for s in sigmas),
        measured=tuple(bool(m) for m in measured),
        offsets=tuple(float(o) for o in offsets),
        cells=cells,
    )


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except TypeError:  # Pillow < 10.1 has only the fixed-size bitmap font
        return ImageFont.load_default()
