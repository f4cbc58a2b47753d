"""Exceptions raised by motionkit.

Every error a user can trigger with bad input is a :class:`MotionkitError`. Messages say what was wrong, what was
expected, and how to fix it, so that a CLI can print the message as its one line of output. Where the fix is spelled
differently in Python and on the command line (``crop=False`` / ``--no-crop``, ``overwrite=True`` /
``--overwrite``), the error carries a :class:`Fix` with both: ``str(error)`` gives the Python one and
:meth:`MotionkitError.cli_message` the command line's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from typing_extensions import Self


@dataclass(frozen=True)
class Fix:
    """How the user fixes a problem, in the words of each surface (each a sentence or clause ending the message)."""

    python: str
    """Python arguments and calls: ``"pass overwrite=True to replace it."``"""
    cli: str
    """Command-line options and files: ``"pass --overwrite to replace it."``"""


class MotionkitError(Exception):
    """Base class of every error motionkit raises on purpose.

    Args:
        message: what was wrong (and the fix, when it is the same on every surface).
        fix: the end of the message where Python and the command line spell the fix differently.
    """

    def __init__(self, message: str, *, fix: Fix | None = None) -> None:
        super().__init__(message)
        self.fix = fix

    def __str__(self) -> str:
        return self._with(self.fix.python if self.fix is not None else None)

    def cli_message(self) -> str:
        """The message with the command line's spelling of the fix."""
        return self._with(self.fix.cli if self.fix is not None else None)

    def with_context(self, prefix: str) -> Self:
        """The same error with ``prefix`` (where it happened: ``"edit 0 (offset): "``) before its message; its
        type, fix and other state are kept."""
        error = copy.copy(self)
        error.args = (f"{prefix}{self.args[0]}", *self.args[1:])
        return error

    def _with(self, fix: str | None) -> str:
        message = super().__str__()
        return message if fix is None else f"{message} {fix}"

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword state (fix, DataError.reason) survives pickling, e.g. when training processes gather errors
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[MotionkitError], args: tuple[object, ...], state: dict[str, Any]) -> MotionkitError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


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

    def __init__(self, message: str, *, reason: str = "unreadable", fix: Fix | None = None) -> None:
        super().__init__(message, fix=fix)
        self.reason = reason


class RenderError(MotionkitError, RuntimeError):
    """Decoding frames failed at run time (e.g. out of memory in a decode worker); the cause is chained."""


class SessionError(MotionkitError, RuntimeError):
    """A live session is used after it was finished or closed."""


def require(condition: bool, error: type[MotionkitError], message: str) -> None:
    """Raise ``error(message)`` unless ``condition`` holds.

    Keeps validation one line per rule at call sites without hiding the message.
    """
    if not condition:
        raise error(message)
