"""Portraits a live session can start from: the shipped presets and portraits uploaded by clients.

Uploaded portraits are checked (they must decode as images) and stored under the server's own names
(``<work>/portraits/<32 hex id>``); a client refers to one by that id only. The newest ``max_portraits`` are kept.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from motionkit.assets import demo_photo_path, demo_portrait_path
from motionkit.errors import ImageError
from motionkit.io.image import load_image

PRESETS: dict[str, Callable[[], Path]] = {"grace-hopper": demo_photo_path, "synthetic-face": demo_portrait_path}
"""Preset name -> the shipped image: the real photo (for the photo-motion model) and the synthetic-world face (for
the synthetic-demo model)."""
DEFAULT_PRESET = "grace-hopper"


class PortraitStore:
    """Uploaded portraits by id, plus the presets (see the module docstring)."""

    def __init__(self, folder: Path, capacity: int, default: str = DEFAULT_PRESET) -> None:
        self.folder, self.capacity, self.default = folder, capacity, default
        folder.mkdir(parents=True, exist_ok=True)
        self.uploads: OrderedDict[str, Path] = OrderedDict()

    def add(self, data: bytes) -> str:
        """Store an uploaded image and return its id.

        Raises:
            ImageError: the bytes are not an image motionkit can read.
        """
        portrait_id = uuid.uuid4().hex
        path = self.folder / portrait_id
        path.write_bytes(data)
        try:
            load_image(path)
        except ImageError:
            path.unlink()
            raise
        self.uploads[portrait_id] = path
        while len(self.uploads) > self.capacity:
            _, oldest = self.uploads.popitem(last=False)
            oldest.unlink(missing_ok=True)
        return portrait_id

    def resolve(self, name: str) -> Path:
        """The image of a preset name or upload id (``""``: the default preset).

        Raises:
            ImageError: neither a preset nor a kept upload.
        """
        name = name or self.default
        if name in PRESETS:
            return PRESETS[name]()
        if name in self.uploads:
            return self.uploads[name]
        raise ImageError(
            f"unknown portrait {name!r}: give a preset ({', '.join(PRESETS)}) or the id POST /v1/portraits returned "
            f"(the newest {self.capacity} uploads are kept)."
        )
