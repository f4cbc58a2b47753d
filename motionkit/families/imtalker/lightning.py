"""Reading IMTalker's PyTorch-Lightning checkpoints without running pickled code.

A Lightning ``.ckpt`` is a pickled dict: ``state_dict`` (the tensors motionkit needs), and training bookkeeping —
``epoch``, ``global_step``, ``optimizer_states``, ``lr_schedulers``, ``loops``, ``callbacks``, the Lightning
version, ``hyper_parameters`` (and IMTalker's generator adds ``ema_state_dict``, which inference ignores).
``torch.load(weights_only=True)`` reads tensors, containers, numbers and strings and refuses every other global
the pickle names. Lightning's bookkeeping names a few harmless ones, which are allow-listed here
(:data:`LIGHTNING_GLOBALS`) and nothing else:

* ``argparse.Namespace``: IMTalker's systems are built from argparse options, which ``save_hyperparameters``
  stores in ``hyper_parameters``; unpickling sets attributes on a standard-library object and runs no code.
* Lightning's ``AttributeDict`` (``hparams``, a ``dict`` subclass; several module paths across Lightning
  versions): read as a plain ``dict``, so no Lightning code is imported or run and Lightning need not be installed.
* ``pathlib.PosixPath`` / ``WindowsPath`` (checkpoint-callback paths): read as pure paths (no file access).

A file that names any other global is refused with the list of what it names
(``torch.serialization.get_unsafe_globals_in_checkpoint``), so the user sees exactly what was not trusted.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from motionkit.errors import CheckpointError
from motionkit.io.tensors import read_pickled

STATE_DICT_KEY = "state_dict"
"""Where a Lightning checkpoint keeps the model's tensors."""


ATTRIBUTE_DICTS = (
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    "lightning.pytorch.utilities.parsing.AttributeDict",
    "lightning.fabric.utilities.data.AttributeDict",
)
"""The module paths Lightning versions pickle their ``AttributeDict`` under."""

LIGHTNING_GLOBALS: list[Any] = [
    argparse.Namespace,
    *((dict, name) for name in ATTRIBUTE_DICTS),
    (pathlib.PurePosixPath, "pathlib.PosixPath"),
    (pathlib.PureWindowsPath, "pathlib.WindowsPath"),
]
"""Globals (or ``(stand-in, pickled name)`` pairs) allowed besides ``torch.load(weights_only=True)``'s own."""


def read_lightning_checkpoint(path: Path, *, what: str, fix: str) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a Lightning checkpoint, read with ``weights_only=True`` and :data:`LIGHTNING_GLOBALS`.

    Raises:
        CheckpointError: the file is unreadable, names a global outside the allow-list (listed), or holds no
            ``state_dict`` of tensors.
    """
    try:
        with torch.serialization.safe_globals(LIGHTNING_GLOBALS):
            loaded = read_pickled(path, what=what, fix=fix)
    except CheckpointError as exc:
        untrusted = _untrusted_globals(path)
        if not untrusted:
            raise
        raise CheckpointError(
            f"{path} names Python objects motionkit does not unpickle ({', '.join(untrusted)}): loading them could "
            f"run code. motionkit reads Lightning checkpoints with torch.load(weights_only=True) and allows only "
            f"argparse.Namespace, Lightning's AttributeDict and paths besides tensors; {fix}."
        ) from exc
    if not isinstance(loaded, Mapping) or not isinstance(loaded.get(STATE_DICT_KEY), Mapping):
        found = ", ".join(map(str, list(loaded)[:6])) if isinstance(loaded, Mapping) else type(loaded).__name__
        raise CheckpointError(
            f"{path} is not a PyTorch-Lightning checkpoint: it has no '{STATE_DICT_KEY}' dict (found: {found}); {fix}."
        )
    state = loaded[STATE_DICT_KEY]
    return {str(key): value for key, value in state.items()}


def _untrusted_globals(path: Path) -> list[str]:
    """The globals a pickle names outside torch's and :data:`LIGHTNING_GLOBALS` (empty if it cannot be listed)."""
    allowed = {
        g if isinstance(g, str) else g[1] if isinstance(g, tuple) else f"{g.__module__}.{g.__qualname__}"
        for g in LIGHTNING_GLOBALS
    }
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # not a readable zip/pickle: read_pickled's own message explains it
        return []
    return [name for name in names if name not in allowed]
