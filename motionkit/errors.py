"""Exceptions raised by motionkit.

Every error a user can trigger with bad input is a :class:`MotionkitError`. Messages say what was wrong, what was
expected, and how to fix it, so that a CLI can print ``str(error)`` as its one line of output.
"""

from __future__ import annotations


class MotionkitError(Exception):
    """Base class of every error motionkit raises on purpose."""


class ShapeError(MotionkitError, ValueError):
    """A tensor has the wrong number of dimensions, sizes or dtype."""


class NonFiniteError(MotionkitError, ValueError):
    """A tensor or signal contains NaN or infinite values."""


class ConfigError(MotionkitError, ValueError):
    """A configuration, preset or option value is invalid."""


class EditError(MotionkitError, ValueError):
    """An edit or edit program is invalid (unknown axis, bad JSON, incompatible tracks)."""


class AudioError(MotionkitError, ValueError):
    """Audio input is unreadable, empty, non-finite or too short."""


class ImageError(MotionkitError, ValueError):
    """Image input is unreadable, too small, or of an unsupported layout."""


class FaceNotFoundError(ImageError):
    """No face was detected in a portrait."""


class CheckpointError(MotionkitError):
    """A checkpoint or weights folder is missing, corrupt, or does not match the model."""


class OutputError(MotionkitError, OSError):
    """An output path cannot be written (exists, unwritable, or the write failed)."""


class DataError(MotionkitError, ValueError):
    """A training data file is unusable: unreadable, without audio, silent, too short, or without a face.

    ``reason`` is a short machine-readable tag (``"unreadable"``, ``"no_video"``, ``"no_audio"``, ``"silent"``,
    ``"too_short"``, ``"no_face"``) that datasets use to count skipped files.
    """

    def __init__(self, message: str, *, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason


def require(condition: bool, error: type[MotionkitError], message: str) -> None:
    """Raise ``error(message)`` unless ``condition`` holds.

    Keeps validation one line per rule at call sites without hiding the message.
    """
    if not condition:
        raise error(message)
