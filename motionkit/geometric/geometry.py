"""The geometry a portrait is animated from: its face landmarks in pixels and, optionally, a person mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionkit.errors import ImageError, ShapeError, require
from motionkit.geometric.topology import MESH_POINTS


@dataclass(frozen=True)
class PortraitGeometry:
    """Face geometry of one portrait, in the portrait's pixels.

    Attributes:
        landmarks: ``(468, 3)`` (or the refined ``(478, 3)``) FaceMesh-topology points: ``x`` right and ``y`` down
            in pixels of the portrait, ``z`` away from the camera in the same pixel scale (as FaceMesh gives it:
            relative to the face, nose tip negative). Only the first 468 points are used.
        mask: optional ``(H, W)`` person mask in [0, 1] (1 on the person, 0 on the background). Fall-off points on
            the background then stay still, so the background does not move with the head.

    The arrays are copied (float64 landmarks, float32 mask), so later changes to the caller's arrays do not leak in.
    """

    landmarks: np.ndarray
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        points = np.array(self.landmarks, dtype=np.float64, copy=True)
        require(
            points.ndim == 2 and points.shape[0] >= MESH_POINTS and points.shape[1] == 3,
            ShapeError,
            f"PortraitGeometry.landmarks must be ({MESH_POINTS}, 3) FaceMesh points (x, y, z in pixels), got shape "
            f"{points.shape}.",
        )
        require(
            bool(np.isfinite(points).all()),
            ShapeError,
            "PortraitGeometry.landmarks contain NaN or inf (no face found?); run the landmarker on a photo with a "
            "visible face.",
        )
        object.__setattr__(self, "landmarks", points[:MESH_POINTS])
        if self.mask is not None:
            mask = np.array(self.mask, dtype=np.float32, copy=True)
            require(mask.ndim == 2, ShapeError, f"PortraitGeometry.mask must be (H, W), got shape {mask.shape}.")
            require(
                bool(np.isfinite(mask).all()) and float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0,
                ShapeError,
                "PortraitGeometry.mask must hold values in [0, 1] (1 on the person); scale an 8-bit mask by 1/255.",
            )
            object.__setattr__(self, "mask", mask)

    def check_image(self, height: int, width: int) -> None:
        """Raise :class:`ImageError` unless the geometry fits a ``height`` x ``width`` portrait."""
        if self.mask is not None:
            require(
                self.mask.shape == (height, width),
                ShapeError,
                f"PortraitGeometry.mask is {self.mask.shape} but the portrait is ({height}, {width}); compute the "
                "mask on the same image.",
            )
        xy = self.landmarks[:, :2]
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1)
        require(
            bool(inside.all()),
            ImageError,
            f"{int((~inside).sum())} face landmarks lie outside the {width}x{height} portrait: the face is cut by "
            "the border. Use a photo with the whole face inside the frame.",
        )
