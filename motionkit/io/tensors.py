"""Safetensors files: the one way motionkit writes tensors to disk and reads them back.

Every weights file motionkit writes (model folders, conditioner folders, training checkpoints, motion tracks,
feature caches, backbone folders) goes through :func:`write_tensors`: tensors are detached, moved to the CPU and
made contiguous (safetensors stores dense row-major buffers), and the file appears complete or not at all
(:func:`motionkit.io.files.atomic_path`). Every read goes through :func:`read_tensors` or
:func:`read_tensors_and_metadata`, which turn a missing or damaged file into one
:class:`~motionkit.errors.CheckpointError` that says what the file was and how to get a good one. Third-party and
training-state pickles are read only by :func:`read_pickled`, which refuses code.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from motionkit.errors import CheckpointError
from motionkit.io.files import atomic_path


def write_tensors(
    path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> Path:
    """Write ``tensors`` to the safetensors file ``path`` atomically; returns the path.

    Args:
        path: destination file (its folder must exist).
        tensors: name -> tensor, any device; stored detached, on the CPU, contiguous, in their own dtype.
        metadata: string pairs stored in the file header (format names, versions, frame rates).
    """
    from safetensors.torch import save_file

    ready = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(ready, str(tmp), metadata=dict(metadata) if metadata is not None else None)
    return Path(path)


def read_tensors_and_metadata(
    path: str | Path, *, what: str = "tensor file", fix: str = "write it again"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors (on the CPU) and the header metadata of a safetensors file.

    Args:
        path: the file.
        what: what the file is, for messages (``"motion track"``, ``"model weights"``).
        fix: how the user gets a good file, appended to messages (``"convert or export it again"``).

    Raises:
        CheckpointError: the file is missing, is not a file, or is damaged / not safetensors.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path} is missing (or is not a file); {fix}.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (not iterable)
    except Exception as exc:  # safetensors raises several unrelated exception types on damaged files
        raise CheckpointError(f"{what} {path} is damaged or not a safetensors file ({exc}); {fix}.") from exc
    return tensors, metadata


def read_tensors(
    path: str | Path, *, what: str = "tensor file", fix: str = "write it again"
) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on the CPU (see :func:`read_tensors_and_metadata` for the errors)."""
    return read_tensors_and_metadata(path, what=what, fix=fix)[0]


def tensor_shapes(
    path: str | Path, *, what: str = "tensor file", fix: str = "write it again"
) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a safetensors file, read from its header only (no tensor is loaded)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path} is missing (or is not a file); {fix}.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises several unrelated exception types on damaged files
        raise CheckpointError(f"{what} {path} is damaged or not a safetensors file ({exc}); {fix}.") from exc


PICKLE_PROTOCOL_NOTICE = "Detected pickle protocol"
"""Start of torch's advisory warning about pickles written with another protocol: noise for a user, who cannot act
on it (the file loads, or is refused with its own error)."""


def read_pickled(path: str | Path, *, what: str, fix: str) -> object:
    """``torch.load(path, weights_only=True)`` on the CPU: tensors, containers and numbers, never code.

    Args:
        path: the pickled file (``.pth``, ``.bin``, ``.pt``).
        what: what the file is, after "could not be read as" (``"a PyTorch checkpoint"``).
        fix: how the user gets a good file, appended to messages.

    Raises:
        CheckpointError: the file is truncated, corrupt, not a pickle, or a pickle that would run code (refused);
            the message keeps the first sentence of torch's reason, not its paragraphs of advice.
    """
    import torch

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=PICKLE_PROTOCOL_NOTICE)
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, BadZipFile... on bad files
        text = " ".join(str(exc).split())
        reason = text.split(". ")[0].rstrip(".") if text else type(exc).__name__
        raise CheckpointError(
            f"{path} could not be read as {what} ({reason}). The file is truncated, corrupt, or a pickle that runs "
            f"code (motionkit reads it with torch.load(weights_only=True), which refuses code); {fix}."
        ) from exc
