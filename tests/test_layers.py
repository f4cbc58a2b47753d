"""The layers of docs/architecture.md: a module imports nothing from a higher layer at run time (top-level imports
and imports inside functions alike; ``if TYPE_CHECKING:`` imports are annotations only)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import motionkit

ROOT = Path(motionkit.__file__).parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "validation", "types", "config", "io", "progress", "runtime", "_version"),
    ("face",),
    ("space", "conditioner", "flow", "renderer", "geometric"),
    ("protocols",),
    ("families",),
    ("model_folder",),
    ("pipeline", "train", "eval", "data", "cli", "testing", "assets", "serve", "__main__"),
)
"""Top-level names of ``motionkit`` sub-packages and modules, from the foundation up (docs/architecture.md)."""

CONVERTERS = ("families.float.convert", "families.imtalker.convert", "families.conversion")
"""Modules of a family that write model folders: they sit above the model-folder layer."""

EXCEPTIONS = {("config", "families")}
"""(importer, imported) pairs allowed against the order, each with its reason: TrainConfig resolves a preset name
through the registry inside a method (presets belong to the families)."""


def _layer(name: str) -> int:
    top = name.split(".")[0]
    for index, members in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"motionkit.{top} is in no layer of tests/test_layers.py; add it where it belongs.")


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only: no import at run time)."""
    nodes, stack = [], [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                stack.extend(child.orelse)
            else:
                stack.append(child)
    return nodes


def _imports(path: Path) -> set[str]:
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("motionkit."):
            found.add(node.module.removeprefix("motionkit."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("motionkit.") for a in node.names if a.name.startswith("motionkit."))
    return found


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_lower_layer(path: Path) -> None:
    importer = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if importer.endswith(".__init__"):
        importer = importer.removesuffix(".__init__")
    if importer in CONVERTERS:
        return
    own = _layer(importer)
    for imported in _imports(path):
        top_pair = (importer.split(".")[0], imported.split(".")[0])
        if imported in CONVERTERS or top_pair in EXCEPTIONS:
            continue
        assert _layer(imported) <= own, f"motionkit.{importer} imports motionkit.{imported}, a higher layer"


COMMANDS = ROOT / "cli" / "commands"


@pytest.mark.parametrize("path", sorted(COMMANDS.glob("*.py")), ids=lambda p: p.name)
def test_cli_commands_do_not_import_each_other(path: Path) -> None:
    """What two commands share lives in motionkit.cli.common, so each command reads on its own."""
    siblings = {name for name in _imports(path) if name.startswith("cli.commands.")}
    assert not siblings, f"motionkit/cli/commands/{path.name} imports {sorted(siblings)}; move it to cli/common.py"
