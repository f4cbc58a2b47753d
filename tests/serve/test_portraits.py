"""The service's portraits at a live size (LiveConfig.max_side): shrunk, encoded per session, never cached."""

from __future__ import annotations

from pathlib import Path

from motionkit.assets import bundled_model_path
from motionkit.pipeline import Pipeline
from motionkit.serve.portraits import PortraitStore


def test_a_live_size_draws_the_photo_smaller_and_is_not_cached(tmp_path: Path) -> None:
    pipeline = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    store = PortraitStore(tmp_path, 4, "grace-hopper")
    full = store.encode("", pipeline)
    assert store.encode("grace-hopper", pipeline) is full  # the default preset, encoded once
    small = store.encode("", pipeline, max_side=256)
    assert pipeline.renderer.frame_shape(full) == (600, 512)
    assert pipeline.renderer.frame_shape(small) == (256, 218)
    # clients choose the size: each is encoded for its session only, so no size can fill the cache
    assert store.encode("", pipeline, max_side=256) is not small
    assert list(store.encodings) == ["grace-hopper"]
