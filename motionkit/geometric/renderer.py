"""GeometricRenderer: draws a real portrait, at its own resolution, moved by named axes in real units.

::

    portrait (H, W, 3) + PortraitGeometry --encode_portrait--> GeometricPortrait (mesh, warp plan, mouth data)
    parameters (B, T, 7) [yaw, pitch, roll, mouth, blink_left, blink_right, brows] --render--> (B, n, 3, H, W)

Per portrait (once): the control mesh (:mod:`~motionkit.geometric.mesh`), its depth prepared to turn without folds
(:mod:`~motionkit.geometric.depth`), the pixel-to-triangle map of the region of influence and the mouth data. Per
frame: the vertices move (:mod:`~motionkit.geometric.motion`), each region pixel finds its deformed triangle and
samples the source with ``grid_sample`` (:mod:`~motionkit.geometric.warp`), the open mouth is drawn
(:mod:`~motionkit.geometric.mouth`), and a blinking eye's lids are drawn over the warped frame
(:mod:`~motionkit.geometric.lids`). Pixels of triangles whose vertices did not move are the input, bit for bit;
identical parameters give identical frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from motionkit.errors import ConfigError, ImageError, ShapeError, require
from motionkit.geometric.axes import BLINK_LEFT, BLINK_RIGHT, PARAMETERS, geometric_space
from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.depth import turnable_depth
from motionkit.geometric.geometry import PortraitGeometry
from motionkit.geometric.lids import draw_lids
from motionkit.geometric.mesh import ControlMesh, build_mesh, rasterize
from motionkit.geometric.motion import check_parameters, guarded_positions
from motionkit.geometric.mouth import MouthInterior, draw_interior
from motionkit.geometric.warp import WarpPlan, sample, warp_field
from motionkit.space import MotionSpace
from motionkit.types import MotionTrack, Precision

MAX_CHUNK_PIXELS = 1 << 23
"""Pixels of all the frames of one rendered chunk at most (8 frames of 1024 x 1024; 96 MiB of float32 RGB): a
12-megapixel photo is drawn a frame at a time instead of 8 (a GiB per chunk before it is converted)."""

_PRECISIONS: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class GeometricPortrait:
    """A portrait prepared by :meth:`GeometricRenderer.encode_portrait`.

    Attributes:
        image: ``(3, H, W)`` float32 in [-1, 1] on the renderer's device.
        mesh: the control mesh (depth prepared to turn).
        plan: the per-pixel walk data of the region of influence.
        mouth: the mouth-interior data.
    """

    image: torch.Tensor
    mesh: ControlMesh
    plan: WarpPlan
    mouth: MouthInterior

    @property
    def motion(self) -> torch.Tensor:
        """``(1, 7)`` zeros: the parameters of the portrait as photographed (every axis is relative to it)."""
        return torch.zeros(1, PARAMETERS, device=self.image.device)

    @property
    def batch(self) -> int:
        return 1


def _image_tensor(image: Any, device: torch.device) -> torch.Tensor:
    """A ``(3, H, W)`` float32 tensor in [-1, 1] from an ``(H, W, 3)`` uint8 array or a ``(3, H, W)`` /
    ``(1, 3, H, W)`` float tensor in [-1, 1]."""
    if isinstance(image, np.ndarray):
        require(
            image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8,
            ImageError,
            f"the portrait must be an (H, W, 3) uint8 RGB array, got {image.dtype} of shape {image.shape}; convert "
            "grey or RGBA photos to RGB and 16-bit ones to 8-bit first.",
        )
        return torch.from_numpy(image.copy()).to(device).permute(2, 0, 1).float() / 127.5 - 1.0
    require(isinstance(image, torch.Tensor), ImageError, f"unsupported portrait type {type(image).__name__}.")
    assert isinstance(image, torch.Tensor)
    tensor = image[0] if image.ndim == 4 and image.shape[0] == 1 else image
    require(
        tensor.ndim == 3 and tensor.shape[0] == 3 and tensor.is_floating_point(),
        ImageError,
        f"a portrait tensor must be (3, H, W) or (1, 3, H, W) float in [-1, 1], got {tuple(image.shape)}.",
    )
    return tensor.to(device=device, dtype=torch.float32)


class GeometricRenderer(torch.nn.Module):
    """Draws portraits moved by the parameter vector of :mod:`motionkit.geometric.axes` (a ``PortraitRenderer``).

    Example::

        renderer = GeometricRenderer()
        portrait = renderer.encode_portrait(photo, geometry=PortraitGeometry(landmarks))
        track = MotionTrack(torch.tensor([[[20.0, 0, 0, 0.3, 0, 0, 0]]]))       # yaw 20 deg, mouth 0.3
        frames = torch.cat(list(renderer.render(portrait, track)), dim=1)     # (1, 1, 3, H, W) in [-1, 1]
    """

    def __init__(self, config: GeometricConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeometricConfig()
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)
        self._space = geometric_space()

    @property
    def space(self) -> MotionSpace:
        """The identity motion space with the named axes yaw, pitch, roll, mouth, blink_left, blink_right, brows."""
        return self._space

    @property
    def latent_dim(self) -> int:
        return PARAMETERS

    @property
    def device(self) -> torch.device:
        anchor = self._anchor
        assert isinstance(anchor, torch.Tensor)
        return anchor.device

    def encode_portrait(
        self, image: Any, *, crop: bool = False, box: Any = None, geometry: PortraitGeometry | None = None
    ) -> GeometricPortrait:
        """Prepare ``image`` (``(H, W, 3)`` uint8 RGB, or ``(3, H, W)`` float in [-1, 1]) with its ``geometry``.

        The renderer draws the whole photo at its own resolution: ``crop`` and ``box`` (face crops of learned
        renderers) are refused.
        """
        require(
            not crop and box is None,
            ConfigError,
            "the geometric renderer draws the whole photo at its own resolution; call encode_portrait without "
            "crop=True or box.",
        )
        require(
            isinstance(geometry, PortraitGeometry),
            ConfigError,
            "the geometric renderer needs the portrait's face geometry: encode_portrait(image, "
            "geometry=PortraitGeometry(landmarks, mask)) with 468 FaceMesh-topology landmarks in pixels.",
        )
        assert geometry is not None
        tensor = _image_tensor(image, self.device)
        _, height, width = tensor.shape
        geometry.check_image(height, width)
        mesh = turnable_depth(build_mesh(geometry, self.config), self.config)
        triangle_map = rasterize(mesh, height, width)
        plan = WarpPlan.build(mesh, triangle_map, self.device)
        return GeometricPortrait(
            image=tensor, mesh=mesh, plan=plan, mouth=MouthInterior.build(tensor, mesh, height, width, self.config)
        )

    def frame_shape(self, portrait: GeometricPortrait) -> tuple[int, int]:
        """``(H, W)``: the photo's own size."""
        return portrait.plan.height, portrait.plan.width

    def draw(self, portrait: GeometricPortrait, values: np.ndarray) -> torch.Tensor:
        """One frame ``(3, H, W)`` float32 in [-1, 1] for a checked ``(7,)`` parameter vector."""
        plan = portrait.plan
        positions, _ = guarded_positions(portrait.mesh, np.asarray(values, dtype=np.float64), self.config)
        moved = (positions != portrait.mesh.points[:, :2]).any(axis=1)
        out = portrait.image.clone()
        if not moved.any():
            return out
        deformed = torch.as_tensor(positions, dtype=torch.float32, device=self.device)
        field = warp_field(plan, deformed, self.config.walk_steps)
        moved_triangle = torch.as_tensor(moved, device=self.device)[plan.triangles].any(dim=1)
        changed = moved_triangle.index_select(0, field.triangle)
        colours = sample(portrait.image, field.sources)
        if bool(field.in_hole.any()):
            colours[:, field.in_hole] = draw_interior(
                portrait.image, portrait.mouth, plan, field, deformed, self.config
            )
        keep = changed.nonzero().squeeze(1)  # index copies: a boolean-mask assignment is a few times slower
        out.view(3, -1).index_copy_(1, plan.pixels.index_select(0, keep), colours.index_select(1, keep))
        draw_lids(out, positions, (float(values[BLINK_LEFT]), float(values[BLINK_RIGHT])), self.config)
        return out

    def render(
        self, source: GeometricPortrait, track: MotionTrack, chunk_size: int = 8, *, precision: Precision = "float32"
    ) -> Iterator[torch.Tensor]:
        """Frames ``(B, n, 3, H, W)`` in [-1, 1] for parameters ``(B, T, 7)``: at most ``chunk_size`` frames at a
        time, and at most :data:`MAX_CHUNK_PIXELS` pixels (one frame at least), so a large photo's chunks stay small.

        Every frame of the batch draws the same portrait. Raises :class:`~motionkit.errors.EditError` for a value
        outside the renderer's range (it names the axis, the frame and the range).
        """
        require(
            track.dim == PARAMETERS,
            ShapeError,
            f"the geometric renderer draws {PARAMETERS} parameters per frame (yaw, pitch, roll, mouth, blink_left, "
            f"blink_right, brows), got a track of dimension {track.dim}.",
        )
        require(chunk_size >= 1, ConfigError, f"chunk_size must be >= 1, got {chunk_size}.")
        require(precision in _PRECISIONS, ConfigError, f"precision must be one of {sorted(_PRECISIONS)}.")
        values = track.latents.detach().to("cpu", torch.float64).numpy()
        for row in values:
            check_parameters(row, source.mesh, self.config)
        height, width = source.image.shape[-2:]
        step = max(1, min(chunk_size, MAX_CHUNK_PIXELS // (len(values) * height * width)))
        for start in range(0, track.frames, step):
            chunk = values[:, start : start + step]
            frames = [[self.draw(source, frame) for frame in row] for row in chunk]
            yield torch.stack([torch.stack(row) for row in frames]).to(_PRECISIONS[precision])

    def render_frames(self, portrait: GeometricPortrait, values: np.ndarray) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 RGB frames for parameters ``(T, 7)`` (the input's own pixels where nothing moved)."""
        values = np.asarray(values, dtype=np.float64)
        require(
            values.ndim == 2 and values.shape[1] == PARAMETERS,
            ShapeError,
            f"parameters must be (T, {PARAMETERS}), got shape {values.shape}.",
        )
        check_parameters(values, portrait.mesh, self.config)
        frames = [self.draw(portrait, row) for row in values]
        stacked = torch.stack(frames).permute(0, 2, 3, 1)
        return ((stacked + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
