"""EditProgram serialisation: JSON round trips, files, and readable errors for invalid programs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from space_strategies import edits, subspace_edits_on_all

from motionkit import EditProgram
from motionkit.errors import EditError, OutputError
from motionkit.space.edits import Freeze, Keyframes, Offset, Oscillate, Smooth

programs = st.lists(edits() | subspace_edits_on_all(), max_size=6).map(lambda items: EditProgram(edits=items))


@given(program=programs)
def test_any_program_round_trips_through_json(program: EditProgram) -> None:
    text = program.to_json()
    restored = EditProgram.from_json(text)
    assert restored == program
    assert restored.to_json() == text
    assert EditProgram.model_validate(json.loads(text)) == program
    assert EditProgram.from_json(program.to_json(indent=None)) == program


def test_json_is_readable_and_tagged() -> None:
    program = EditProgram(edits=[Oscillate.nod(amplitude=5.0, end=2.0), Keyframes.turn(20.0, start=2.0)])
    content = json.loads(program.to_json())
    assert content["version"] == 1
    assert [e["kind"] for e in content["edits"]] == ["oscillate", "keyframes"]
    assert content["edits"][0]["axis"] == "pitch"
    assert content["edits"][0]["amplitude"] == 5.0
    assert content["edits"][1]["keys"] == [{"time": 2.0, "value": 0.0}, {"time": 3.0, "value": 20.0}]


def test_hand_written_json_with_shorthands() -> None:
    text = """{"edits": [
        {"kind": "keyframes", "axis": "yaw", "keys": [[0, 0], [1.5, 15]], "interpolation": "cubic"},
        {"kind": "freeze", "axes": "yaw"},
        {"kind": "smooth"}
    ]}"""
    program = EditProgram.from_json(text)
    assert program.edits[0].keys[1].value == 15.0  # type: ignore[union-attr]
    assert program.edits[1] == Freeze(axes=("yaw",))
    assert program.edits[2] == Smooth(axes="all")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"invalid EditProgram JSON: Invalid JSON"),
        ('{"edits": [{"kind": "wobble"}]}', r"edits\.0: Input tag 'wobble' .* expected tags: 'offset', 'scale'"),
        ('{"edits": [{"axis": "yaw"}]}', r"edits\.0: Unable to extract tag using discriminator 'kind'"),
        ('{"edits": [{"kind": "offset", "axis": "yaw"}]}', r"edits\.0\.offset\.value: Field required"),
        (
            '{"edits": [{"kind": "offset", "axis": "yaw", "value": "far"}]}',
            r"edits\.0\.offset\.value: Input should be a valid number",
        ),
        ('{"edits": [{"kind": "offset", "axis": "yaw", "value": NaN}]}', r"value: Input should be a finite number"),
        (
            '{"edits": [{"kind": "offset", "axis": "yaw", "value": 1, "colour": 2}]}',
            r"edits\.0\.offset\.colour: Extra inputs",
        ),
        (
            '{"edits": [{"kind": "offset", "axis": "yaw", "value": 1, "start": 2, "end": 1}]}',
            r"end \(1\.0 s\) must be after start",
        ),
        ('{"edits": [{"kind": "keyframes", "axis": "yaw", "keys": [[1, 0], [0, 1]]}]}', r"strictly increasing"),
        (
            '{"edits": [{"kind": "keyframes", "axis": "yaw", "keys": [[0, 0]], "interpolation": "bezier"}]}',
            r"interpolation: Input should be 'linear', 'cubic' or 'ease-in-out'",
        ),
        ('{"edits": [{"kind": "freeze", "axes": []}]}', r"edits\.0\.freeze\.axes"),
        ('{"edits": [{"kind": "freeze", "axes": "yaw", "at": "start"}]}', r"at: Input should be 'source' or 'mean'"),
        ('{"edits": [{"kind": "mix", "axes": "all"}]}', r"edits\.0\.mix\.reference: Field required"),
        ('{"version": 2, "edits": []}', r"version: Input should be 1"),
        ('{"edits": {"kind": "smooth"}}', r"edits: Input should be a valid (tuple|array)"),
    ],
)
def test_invalid_json_raises_edit_error_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        EditProgram.from_json(text)
    with pytest.raises(EditError, match=message):
        EditProgram.model_validate_json(text)


def test_python_construction_errors_are_edit_errors() -> None:
    with pytest.raises(EditError, match=r"invalid Offset: value: Input should be a valid number"):
        Offset(axis="yaw", value="far")  # type: ignore[arg-type]
    with pytest.raises(EditError, match=r"invalid EditProgram: edits\.0"):
        EditProgram(edits=[{"kind": "offset"}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="Instance is frozen"):
        Offset(axis="yaw", value=1.0).value = 2.0  # type: ignore[misc]


def test_then_appends_without_changing_the_original() -> None:
    program = EditProgram(edits=[Offset(axis="yaw", value=1.0)])
    longer = program.then(Smooth(), Freeze.still_head())
    assert len(program.edits) == 1
    assert len(longer.edits) == 3
    assert longer.edits[0] is program.edits[0]


def test_save_and_load(tmp_path: Path) -> None:
    program = EditProgram(edits=[Oscillate.shake(start=1.0, end=2.0, fade_in=0.2), Freeze.lip_only(at="mean")])
    path = program.save(tmp_path / "edits.json")
    assert EditProgram.load(path) == program
    assert [p.name for p in tmp_path.iterdir()] == ["edits.json"]
    (tmp_path / "bad.json").write_text('{"edits": [{"kind": "offset"}]}')
    with pytest.raises(EditError, match=r"bad\.json: invalid EditProgram JSON: edits\.0\.offset\.axis: Field required"):
        EditProgram.load(tmp_path / "bad.json")
    with pytest.raises(EditError, match="cannot read edit program"):
        EditProgram.load(tmp_path / "missing.json")
    with pytest.raises(OutputError, match="does not exist"):
        program.save(tmp_path / "missing-folder" / "edits.json")
