"""The Python snippets of docs/motion-space.md run as written (in order, sharing one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "motion-space.md"


def test_doc_snippets_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert {p.name for p in tmp_path.iterdir()} == {"axes.json", "edits.json", "edit.png"}
    assert namespace["report"]["yaw"].r2 > 0.99  # type: ignore[index]


def test_doc_json_program_is_valid() -> None:
    from motionkit import EditProgram

    (block,) = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    program = EditProgram.from_json(block)
    assert [edit.kind for edit in program.edits] == ["oscillate", "keyframes", "freeze"]


def test_readme_api_example_runs() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## API example", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(compile(block[1], "README.md", "exec"), namespace)
    edited, space = namespace["edited"], namespace["space"]
    coefficients = space.project(edited.latents)  # type: ignore[attr-defined]
    assert float(coefficients[0, :, 1].mean()) == pytest.approx(0.5, abs=1e-6)  # Offset(axis="d1", value=0.5)
    assert float(coefficients[0, :, 0].abs().max()) == pytest.approx(1.0, abs=5e-3)  # the nod on "pitch" = d0


def test_doc_edit_table_names_every_edit_kind() -> None:
    """The edit table of docs/motion-space.md lists exactly the classes of the ``Edit`` union."""
    from typing import get_args

    from motionkit.space.edits.program import Edit

    union, _ = get_args(Edit)
    classes = {cls.__name__ for cls in get_args(union)}
    section = DOC.read_text(encoding="utf-8").split("| edit | fields", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    assert documented == classes
