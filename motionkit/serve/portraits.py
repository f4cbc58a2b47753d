"""Portraits a live session can start from: the shipped presets and portraits uploaded by clients.

Each portrait is encoded by the model once, when a session first names it (:meth:`PortraitStore.encode`).
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
from motionkit.pipeline import Pipeline
from motionkit.pipeline.live import encode_for_live
from motionkit.protocols import EncodedPortrait

PRESETS: dict[str, Callable[[], Path]] = {"grace-hopper": demo_photo_path, "synthetic-face": demo_portrait_path}
"""Preset name -> the shipped image: the real photo (for the photo-motion model) and the synthetic-world face (for
the synthetic-demo model)."""
DEFAULT_PRESET = "grace-hopper"
SYNTHETIC_FAMILY_PRESET = {"synthetic-demo": "synthetic-face"}
"""Families trained on the synthetic world only, and the preset they draw well (others animate real photos)."""


def default_preset(pipeline: Pipeline) -> str:
    """The preset a session without a portrait uses: the one the model was made for."""
    family = pipeline.config.family if pipeline.config is not None else ""
    return SYNTHETIC_FAMILY_PRESET.get(family, DEFAULT_PRESET)


def drawn_side(pipeline: Pipeline, requested: int | None, bound: int) -> int | None:
    """The longest side a portrait is drawn at: for a model that draws the whole photo at its own size
    (:attr:`Pipeline.draws_whole_photo`), the client's ``requested`` side lowered to the server's ``bound`` (the
    bound itself when none is requested); for a learned renderer, which draws its face crop at its own size whatever
    the photo's, the request alone (None: as it is)."""
    if not pipeline.draws_whole_photo:
        return requested
    return bound if requested is None else min(requested, bound)


class PortraitStore:
    """Uploaded portraits by id, plus the presets (see the module docstring).

    Args:
        folder: where uploads are stored.
        capacity: uploads kept (the oldest go).
        default: the preset a session without a portrait uses.
        cached_side: the longest side (None: the portraits' own) of the encodings kept for later sessions: the
            server's default; a session asking for another size gets its own encoding.
    """

    def __init__(
        self, folder: Path, capacity: int, default: str = DEFAULT_PRESET, cached_side: int | None = None
    ) -> None:
        if default not in PRESETS:
            raise ImageError(f"unknown default preset {default!r}; use one of {', '.join(PRESETS)}.")
        self.folder, self.capacity, self.default, self.cached_side = folder, capacity, default, cached_side
        folder.mkdir(parents=True, exist_ok=True)
        self.uploads: OrderedDict[str, Path] = OrderedDict()
        self.encodings: dict[str, EncodedPortrait] = {}

    @property
    def presets(self) -> list[str]:
        """Preset names, the default first."""
        return [self.default, *(name for name in PRESETS if name != self.default)]

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
            oldest_id, oldest = self.uploads.popitem(last=False)
            oldest.unlink(missing_ok=True)
            self.encodings.pop(oldest_id, None)
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

    def encode(self, name: str, pipeline: Pipeline, max_side: int | None = None) -> EncodedPortrait:
        """The portrait ``name`` encoded by ``pipeline``'s renderer, shrunk first to ``max_side`` when larger.

        At the store's ``cached_side`` it is encoded once per portrait (face detection and the renderer's encoder
        run when a session first names it; later sessions start at once); at any other size, for this session only:
        clients choose the size, so caching every size would let them fill the memory."""
        key = name or self.default
        if max_side != self.cached_side:
            return encode_for_live(pipeline, self.resolve(key), max_side)
        cached = self.encodings.get(key)
        if cached is None:
            cached = self.encodings[key] = encode_for_live(pipeline, self.resolve(key), max_side)
        return cached
