"""Named axes of the demo model: fitted on the encoder's readings, then scaled to what the renderer renders.

Two steps, both on held-out faces (seeds :func:`~motionkit.train.demo.data.held_out_seeds`), each shown in its
talking clip plus ``calibration_pose_frames`` uniformly random poses:

1. **Directions** — :meth:`MotionSpace.fit_axes` with ``method="inverse"`` against the world's known yaw, pitch,
   roll (degrees), mouth opening and blink: the direction in which the encoder's coefficients move when each
   quantity changes. (Least squares, the other method, leans on combinations of coefficients that only correlate
   with the encoder's reading errors; edits along it hardly move the rendered face.)
2. **Rendered gains** — for the quantities the synthetic analyzer measures (yaw, pitch, mouth), each face's
   portrait is decoded along the axis over :data:`RENDER_SWEEPS` and the analyzer measures what was rendered. The
   median slope ``k`` over the faces (rendered units per requested unit) rescales the axis (``scale / k``) so that
   an edit of ``x`` units renders ``x`` units; the reading is rescaled with it (``k (reading - mean) + mean`` over
   the calibration frames). Roll and blink keep the encoder's scale (the analyzer does not measure roll, and blink
   sweeps of a few frames are too coarse).

Measured on the first full run (8 calibration faces): the renderer drew yaw at 0.87x and pitch at 0.48x the
encoder-fitted amplitude; after rescaling, nod and turn edits on six other held-out faces measured within 7 % and
11 % of the request (docs/demo-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motionkit.data.synthetic import FaceIdentity, SyntheticWorld, SyntheticWorldConfig
from motionkit.eval.face.synthetic import SyntheticFaceAnalyzer
from motionkit.io import images_to_tensor, tensor_to_image
from motionkit.renderer import Renderer
from motionkit.space import Axis, MotionSpace
from motionkit.space.calibration import AxisFit

CALIBRATED_AXES = {"yaw": "yaw", "pitch": "pitch", "roll": "roll", "mouth": "mouth_open", "blink": "blink"}
"""Axis name -> synthetic parameter it is calibrated against."""
AXIS_UNITS = {"yaw": "deg", "pitch": "deg", "roll": "deg", "mouth": "ratio", "blink": "ratio"}
RENDER_SWEEPS = {"yaw": (-20.0, 20.0), "pitch": (-12.0, 12.0), "mouth": (0.0, 0.8)}
"""Axis -> range (axis units, around the portrait) of the rendered sweep; the mouth opens from the closed portrait."""
SWEEP_STEPS = 9
MIN_MEASURED_STEPS = 3
ENCODE_CHUNK = 256


@dataclass(frozen=True)
class CalibratedFace:
    """One calibration face: its identity, portrait, frames and their known parameters (axis name -> values)."""

    identity: FaceIdentity
    portrait: np.ndarray
    frames: np.ndarray
    values: dict[str, np.ndarray]


def encode_motion(renderer: Renderer, frames: np.ndarray) -> torch.Tensor:
    """Motion latents ``(N, D)`` of uint8 frames ``(N, S, S, 3)``."""
    chunks = [frames[i : i + ENCODE_CHUNK] for i in range(0, len(frames), ENCODE_CHUNK)]
    return torch.cat([renderer.encode(images_to_tensor(chunk)).motion for chunk in chunks])


def calibration_faces(
    world_config: SyntheticWorldConfig, size: int, seeds: list[int], seconds: float, pose_frames: int
) -> list[CalibratedFace]:
    """Held-out faces of ``seeds``: each talking clip of ``seconds`` plus ``pose_frames`` random poses."""
    world = SyntheticWorld(world_config, size=size)
    faces = []
    for seed in seeds:
        clip = world.clip(seed, seconds)
        assert clip.frames is not None
        shown = [(clip.frames, clip.params)]
        if pose_frames:
            poses = world.random_params(seed, pose_frames)
            shown.append((world.render(clip.identity, poses), poses))
        values = {
            name: np.concatenate([params.as_dict()[parameter] for _, params in shown])
            for name, parameter in CALIBRATED_AXES.items()
        }
        frames = np.concatenate([frames for frames, _ in shown])
        faces.append(CalibratedFace(clip.identity, world.portrait(clip.identity), frames, values))
    return faces


@torch.no_grad()
def rendered_gain(
    renderer: Renderer, axis: Axis, parameter: str, faces: list[CalibratedFace], world_config: SyntheticWorldConfig
) -> float:
    """Median over ``faces`` of the slope of the analyzer's ``parameter`` against the requested change when each
    portrait is decoded along ``axis`` over :data:`RENDER_SWEEPS` (NaN if no face could be measured)."""
    low, high = RENDER_SWEEPS[axis.name]
    requested = torch.linspace(low, high, SWEEP_STEPS)
    step = axis.scale * axis.vector().to(torch.float32)
    slopes = []
    for face in faces:
        source = renderer.encode(images_to_tensor(face.portrait)[None])
        coefficients = source.coefficients + requested[:, None] * step[None]
        frames = tensor_to_image(renderer.decode(source, renderer.dec.direction(coefficients))[0])
        measured = getattr(SyntheticFaceAnalyzer(world_config, identity=face.identity).measure(frames), parameter)
        valid = np.isfinite(measured)
        if valid.sum() >= MIN_MEASURED_STEPS:
            slopes.append(float(np.polyfit(requested.numpy()[valid], measured[valid], 1)[0]))
    return float(np.median(slopes)) if slopes else float("nan")


def calibrate_axes(
    renderer: Renderer, faces: list[CalibratedFace], world_config: SyntheticWorldConfig
) -> tuple[MotionSpace, dict[str, AxisFit], dict[str, float]]:
    """Fit and scale the named axes (see the module docstring).

    Returns ``(space, fits, gains)``: the renderer's space with the axes, the encoder fit of each axis
    (:class:`AxisFit`) and the rendered gain ``k`` each measured axis was divided by (1: rendered as read).
    """
    latents = torch.cat([encode_motion(renderer, face.frames) for face in faces])
    values = {name: torch.from_numpy(np.concatenate([face.values[name] for face in faces])) for name in CALIBRATED_AXES}
    fitted = renderer.space.fit_axes(latents, values, units=AXIS_UNITS, method="inverse")
    space = fitted.space
    coefficients = space.project(latents.double())
    gains: dict[str, float] = {}
    scaled: list[Axis] = []
    for name, parameter in CALIBRATED_AXES.items():
        axis = space.axis(name)
        if name in RENDER_SWEEPS:
            gain = rendered_gain(renderer, axis, parameter, faces, world_config)
            if np.isfinite(gain) and gain > 0:
                gains[name] = gain
                mean = float(values[name].double().mean())
                reading = float(axis.read(coefficients).mean())
                axis = axis.model_copy(
                    update={"scale": axis.scale / gain, "offset": mean + gain * (axis.offset - reading)}
                )
        scaled.append(axis)
    return space.with_axes(scaled), fitted.report, gains
