"""atomic_path: outputs appear complete or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import pytest
import torch

from motionkit.errors import OutputError
from motionkit.io import atomic_folder, atomic_path
from motionkit.io.files import make_folder, output_parent
from motionkit.io.tensors import write_tensors
from motionkit.testing.files import TEST_UMASK, umask, unusual_modes


def test_success_renames_into_place(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.suffix == ".txt"
        assert tmp != target
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def _write_then_fail(target: Path, content: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(content)
        raise RuntimeError("encoder crashed")


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="encoder crashed"):
        _write_then_fail(tmp_path / "out.bin", "partial")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_kept_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="encoder crashed"):
        _write_then_fail(target, "new")
    assert target.read_text() == "old"


def test_refuses_existing_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(OutputError, match="already exists"), atomic_path(target, overwrite=False):
        pass


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"), atomic_path(tmp_path / "nope" / "out.txt"):
        pass


def test_permissions_follow_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "out.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644


def test_tensor_files_and_folders_get_the_umask_modes(tmp_path: Path) -> None:
    """safetensors' save_file recreates the temporary file with mode 0600: the finished file must still get the
    mode of a plain open(), like a JSON file written beside it."""
    with umask():
        write_tensors(tmp_path / "w.safetensors", {"a": torch.zeros(3)})
        with atomic_path(tmp_path / "w.json") as tmp:
            tmp.write_text("{}")
        with atomic_folder(tmp_path / "model") as folder:
            write_tensors(folder / "w.safetensors", {"a": torch.ones(2)})
    assert unusual_modes(tmp_path.iterdir(), TEST_UMASK) == []


def test_folders_cannot_be_made_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("a file")
    for target in (tmp_path / "file.txt", tmp_path / "file.txt" / "a" / "b"):
        with pytest.raises(OutputError, match=r"cannot create the folder .*file\.txt is a file, not a folder"):
            make_folder(target)
    for target in (tmp_path / "file.txt" / "out.json", tmp_path / "file.txt" / "a" / "out.json"):
        with pytest.raises(OutputError, match=r"file\.txt is a file, not a folder; choose another path"):
            output_parent(target)
    with (
        pytest.raises(OutputError, match=r"file\.txt is a file, not a folder"),
        atomic_path(tmp_path / "file.txt" / "o"),
    ):
        pass
    assert make_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert make_folder(tmp_path / "a" / "b").is_dir()  # an existing folder is kept


def _fail_inside(writer: contextlib.AbstractContextManager[Path]) -> None:
    with writer:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_file_system_failures_of_a_writer_are_output_errors(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputError, match="is a folder; give a file path"), atomic_path(tmp_path / "taken"):
        pass
    with pytest.raises(OutputError, match=r"writing .*out\.bin failed \(No space left on device\); check the"):
        _fail_inside(atomic_path(tmp_path / "out.bin"))
    with pytest.raises(OutputError, match=r"writing .*model failed \(No space left"):
        _fail_inside(atomic_folder(tmp_path / "model"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # nothing partial left
