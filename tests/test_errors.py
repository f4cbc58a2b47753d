"""motionkit errors: one message, the fix in the words of each surface, kept through context and pickling."""

from __future__ import annotations

import pickle

from motionkit.errors import DataError, EditError, Fix, MotionkitError, OutputError

FIX = Fix(python="pass overwrite=True.", cli="pass --overwrite.")


def test_each_surface_gets_its_fix() -> None:
    error = OutputError("out.mp4 already exists;", fix=FIX)
    assert str(error) == "out.mp4 already exists; pass overwrite=True."
    assert error.cli_message() == "out.mp4 already exists; pass --overwrite."
    plain = EditError("no such edit.")
    assert str(plain) == plain.cli_message() == "no such edit."


def test_context_keeps_the_type_and_the_fix() -> None:
    error = EditError("unknown axis 'jaw'.", fix=FIX).with_context("edit 0 (offset): ")
    assert type(error) is EditError
    assert str(error) == "edit 0 (offset): unknown axis 'jaw'. pass overwrite=True."
    assert error.cli_message() == "edit 0 (offset): unknown axis 'jaw'. pass --overwrite."


def test_pickling_keeps_the_fix_and_the_reason() -> None:
    """Training processes gather errors from each other by pickling them."""
    for error in (OutputError("taken;", fix=FIX), DataError("no face in clip.mp4", reason="no_face", fix=FIX)):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert isinstance(copy, MotionkitError)
        assert (str(copy), copy.cli_message()) == (str(error), error.cli_message())
    assert pickle.loads(pickle.dumps(DataError("x", reason="silent"))).reason == "silent"
