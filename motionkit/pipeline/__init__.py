"""Pipeline: portrait + speech -> talking-head video, and the lazily rendered :class:`Video`.

* :class:`Pipeline` — loads a model folder (:meth:`Pipeline.from_pretrained`) and runs every stage: portrait
  preparation and encoding, conditioning, windowed motion sampling, edits, rendering;
* :class:`LiveSession` / :class:`LiveFrame` — live sessions (:meth:`Pipeline.live`): speech pushed as it is spoken,
  frames out within a bounded delay;
* :class:`Video` — the result: portrait, motion track and audio; frames are rendered chunk by chunk when it is
  saved or iterated;
* :func:`explore` / :class:`AxisSweep` — a portrait swept along each motion axis, as a labelled grid image.
"""

from motionkit.pipeline.explore import AxisSweep, explore
from motionkit.pipeline.live import LiveFrame, LiveSession
from motionkit.pipeline.pipeline import Pipeline, load_edits, resolve_dtype
from motionkit.pipeline.video import Video

__all__ = ["AxisSweep", "LiveFrame", "LiveSession", "Pipeline", "Video", "explore", "load_edits", "resolve_dtype"]
