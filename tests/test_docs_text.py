"""The documentation holds no placeholder text: every promised transcript, figure and section is written out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]

PLACEHOLDERS = {
    "an all-caps token alone on a line": re.compile(r"^\s*[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\s*$"),
    "a to-do marker": re.compile(r"\b(?:TODO|TBD|FIXME|XXX)\b"),
    "filler text": re.compile(r"\blorem\b|\bipsum\b", re.IGNORECASE),
    "a template slot": re.compile(r"\{\{.*?\}\}|<(?:PLACEHOLDER|INSERT[^>]*)>"),
}


def placeholders(text: str) -> list[str]:
    """``"line N: what (the line)"`` for every line of ``text`` that looks like a placeholder."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        found += [f"line {number}: {name} ({line.strip()})" for name, rule in PLACEHOLDERS.items() if rule.search(line)]
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_placeholder_text(document: Path) -> None:
    assert placeholders(document.read_text(encoding="utf-8")) == []


def test_the_rules_catch_placeholders() -> None:
    """Each rule finds what it is for, and ordinary prose and code pass."""
    samples = [
        "ERROR_TRANSCRIPT",
        "  CLI_OUTPUT_HERE ",
        "TODO: measure",
        "numbers TBD",
        "Lorem ipsum dolor",
        "{{ transcript }}",
        "<PLACEHOLDER>",
    ]
    assert [len(placeholders(sample)) for sample in samples] == [1, 1, 1, 1, 1, 1, 1]
    prose = "LICENCE: CC BY-NC 4.0 -- NON-COMMERCIAL USE ONLY\nexit codes use EXIT_OUTPUT = 5\n`HF_HUB_OFFLINE=1`"
    assert placeholders(prose) == []
    assert len(DOCUMENTS) > 10
