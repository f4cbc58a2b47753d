"""Command-line options of per-frame controls (IMTalker's head pose, camera and gaze): a constant for the whole clip
(``--pose X,Y,Z``) or a track file (``--pose-track pose.csv``) per control."""

from __future__ import annotations

import argparse

import numpy as np

from motionkit.data.synthetic.geometry import rotation_matrices
from motionkit.errors import ConfigError
from motionkit.families.imtalker.controls import CONTROL_UNITS, TRACK_SUFFIXES, read_control_track
from motionkit.families.imtalker.face_controls import rotation_vector
from motionkit.types import CONTROL_NAMES

CONSTANT_METAVARS = {"pose": "X,Y,Z", "cam": "S,TX,TY", "gaze": "PITCH,YAW"}
"""How each control's constant is written (its values in order)."""


def parse_values(text: str) -> list[float]:
    """``"0.1,-0.2,0"`` -> numbers (an argparse ``type``: bad values are usage errors)."""
    try:
        return [float(value) for value in text.replace(" ", "").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers separated by commas") from None


def add_control_options(parser: argparse.ArgumentParser) -> None:
    """``--NAME`` (a constant) and ``--NAME-track`` (a file) for each control, one of the two per control."""
    group = parser.add_argument_group(
        "per-frame controls (IMTalker models only)",
        "each a constant for the whole clip or a track file with one row per frame (.csv, optional header, or .npy "
        "(frames, values)), at least as long as the speech (a longer one is cut); with --pose-from the video's "
        "measured pose, camera and gaze are used unless given here. Write a constant that starts with a minus as "
        "--pose=-0.1,0,0.",
    )
    for name in CONTROL_NAMES:
        choice = group.add_mutually_exclusive_group()
        choice.add_argument(
            f"--{name}",
            type=parse_values,
            metavar=CONSTANT_METAVARS[name],
            help=f"constant {name} ({CONTROL_UNITS[name]}) (default: not given)",
        )
        choice.add_argument(
            f"--{name}-track",
            metavar="FILE",
            help=f"{name} track file ({' or '.join(TRACK_SUFFIXES)}) (default: not given)",
        )
        if name == "pose":
            choice.add_argument(
                "--pose-degrees",
                type=parse_values,
                metavar="YAW,PITCH,ROLL",
                help="constant pose as the face stack reads it, in degrees (yaw > 0 turns the nose to the image's "
                "right, pitch > 0 raises it, roll > 0 tilts the head's top to the image's right), converted to SMIRK's "
                "rotation vector (default: not given)",
            )


def pose_from_degrees(angles: list[float]) -> np.ndarray:
    """SMIRK's ``pose_params`` ``(3,)`` of a head turned by ``(yaw, pitch, roll)`` degrees in the face stack's
    convention (:mod:`motionkit.face.pose`: ``R = R_z(roll) R_x(pitch) R_y(yaw)``)."""
    if len(angles) != len(("yaw", "pitch", "roll")):
        raise ConfigError(f"--pose-degrees takes three angles YAW,PITCH,ROLL in degrees, got {len(angles)} values.")
    return rotation_vector(rotation_matrices(*(np.float64(a) for a in angles)))


def controls_from(args: argparse.Namespace) -> dict[str, list[float] | np.ndarray]:
    """The controls given on the command line (track files are read now, before any model is loaded)."""
    controls: dict[str, list[float] | np.ndarray] = {}
    for name in CONTROL_NAMES:
        constant, track = getattr(args, name), getattr(args, f"{name}_track")
        if name == "pose" and args.pose_degrees is not None:
            controls[name] = pose_from_degrees(args.pose_degrees)
        elif constant is not None:
            controls[name] = constant
        elif track is not None:
            controls[name] = read_control_track(track, name)
    return controls
