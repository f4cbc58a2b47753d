"""Configuration of the geometric portrait renderer (every default documented once, here)."""

from __future__ import annotations

import itertools

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig


class GeometricConfig(FrozenConfig):
    """How the geometric renderer builds its mesh and moves it. Lengths are in face widths (the cheek-to-cheek
    distance, landmarks 234 to 454) unless stated, so one configuration fits portraits of any size."""

    pivot_depth: float = Field(
        0.3, description="Head pivot behind the cheek points along the view axis, in face widths."
    )
    pivot_drop: float = Field(
        0.1, description="Head pivot below the cheek points along the face's vertical axis, in face widths."
    )
    ring_scales: tuple[float, ...] = Field(
        (1.4, 2.0), description="Fall-off rings: the face outline scaled about its centre by these factors."
    )
    ring_weights: tuple[float, ...] = Field(
        (0.9, 0.45), description="Share of the head's motion each fall-off ring follows (hair, ears, neck)."
    )
    still_ring_scale: float = Field(
        2.7, description="The still ring bounding the region of influence: outline scale factor (> ring_scales)."
    )
    ring_points: int = Field(48, description="Points on each ring (resampled along the scaled face outline).")
    neck_weight: float = Field(
        0.85, description="Factor on a ring point's share below the chin: the neck follows the head less."
    )
    lid_meeting: float = Field(
        0.75, description="Where closed lids meet: share of the lid gap the upper lid covers (the lower the rest)."
    )
    closed_gap: float = Field(
        0.03, description="Lid gap left at blink 1 (share of the open gap): keeps the eye's triangles oriented."
    )
    lid_skin: float = Field(
        1.0, description="Lid skin above the lid follows it up to this share of the lid-to-brow distance."
    )
    lid_margin: float = Field(
        0.1, description="Drawn lids: the visible eye reaches past the lid landmarks by this share of the eye width."
    )
    lid_corner_reach: float = Field(
        0.08, description="Drawn lids: the grown eye opening reaches past each eye corner by this share of its width."
    )
    lid_sag: float = Field(
        0.08,
        description="Drawn lids: closed lids meet this far (eye widths) below the lid landmarks' meeting line at "
        "the eye's middle (a closed lid's edge curves down over the eyeball); at most lid_margin.",
    )
    lid_band: float = Field(
        0.2,
        description="Drawn lids: height of the skin band above (below) the eye that stretches over it (eye widths).",
    )
    lid_shading: float = Field(
        0.15, description="Drawn lids: a closed lid darkens by this share towards its edge (it curves from the light)."
    )
    lash_darkness: float = Field(0.55, description="Drawn lids: darkening of the lash line at a closed lid's edge.")
    lash_width: float = Field(0.05, description="Drawn lids: the lash line's Gaussian width, in eye widths.")
    brow_reach: float = Field(
        0.25, description="Forehead above the brows follows them with a fall-off of this length (face widths)."
    )
    lip_corner_flat: float = Field(
        0.35, description="Lower lip moves fully within this share of the half mouth width from its centre."
    )
    lip_corner_pull: float = Field(
        0.08,
        description="Each mouth corner moves this far towards the other per unit of mouth opening, in mouth widths "
        "(the lips' ring narrows as the jaw opens).",
    )
    jaw_reach: float = Field(
        1.1, description="Jaw moves with the lower lip out to this many half mouth widths beyond the corners."
    )
    interior_darkness: float = Field(
        0.15, description="Mouth interior: the lip colour times this factor at the darkest (the inside's depth)."
    )
    interior_lighten: float = Field(
        0.5,
        description="Mouth interior: share of the way back to the lip colour the synthesized inside reaches at the "
        "lips (0: uniformly dark).",
    )
    upper_teeth: float = Field(
        0.0,
        description="Mouth interior: share of the photo's own lip gap, from the upper inner lip down, whose pixels "
        "(the upper teeth) stay with the upper jaw; the rest (the lower teeth) drops with the jaw (0: all of it).",
    )
    guard_rings: int = Field(
        3, description="Rings of neighbours around folded triangles that the fold guard flattens towards a flat turn."
    )
    walk_steps: int = Field(24, description="Triangle-walk steps per pixel to find its deformed triangle.")
    fold_area: float = Field(
        0.02, description="A deformed triangle must keep this share of its area with its orientation (fold guard)."
    )
    fold_free: tuple[float, float, float] = Field(
        (20.0, 15.0, 15.0),
        description="Yaw, pitch and roll (degrees) up to which the mesh is prepared to turn without folds.",
    )
    max_yaw: float = Field(35.0, description="Largest |yaw| in degrees (beyond it hidden parts would show).")
    max_pitch: float = Field(25.0, description="Largest |pitch| in degrees.")
    max_roll: float = Field(35.0, description="Largest |roll| in degrees.")
    max_mouth: float = Field(0.9, description="Largest mouth opening added, in mouth widths.")
    max_brows: float = Field(0.12, description="Largest |brows| raise, in face widths.")

    @model_validator(mode="after")
    def _check(self) -> GeometricConfig:
        if len(self.ring_scales) != len(self.ring_weights) or not self.ring_scales:
            raise ValueError("ring_scales and ring_weights need one entry per fall-off ring")
        scales = (1.0, *self.ring_scales, self.still_ring_scale)
        if any(b <= a for a, b in itertools.pairwise(scales)):
            raise ValueError(f"ring scales must grow from 1 to still_ring_scale, got {scales}")
        if not all(0.0 <= w <= 1.0 for w in self.ring_weights):
            raise ValueError("ring_weights must lie in [0, 1]")
        if not 0.0 < self.closed_gap < 1.0 or not 0.0 < self.lid_meeting <= 1.0:
            raise ValueError("closed_gap must lie in (0, 1) and lid_meeting in (0, 1]")
        if not 0.0 <= self.lid_sag <= self.lid_margin or self.lid_margin <= 0.0 or self.lid_band <= 0.0:
            raise ValueError("drawn lids need lid_margin > 0, lid_band > 0 and 0 <= lid_sag <= lid_margin")
        if not 0.0 <= self.upper_teeth <= 1.0 or not 0.0 <= self.interior_lighten <= 1.0:
            raise ValueError("upper_teeth and interior_lighten must lie in [0, 1]")
        if self.ring_points < 8 or self.walk_steps < 1:
            raise ValueError("ring_points must be >= 8 and walk_steps >= 1")
        return self
