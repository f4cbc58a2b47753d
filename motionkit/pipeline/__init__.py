"""Pipeline: portrait + speech -> talking-head video, and the lazily rendered :class:`Video`.

* :class:`Pipeline` — loads a model folder (:meth:`Pipeline.from_pretrained`) and runs every stage: portrait
  preparation and encoding, conditioning, windowed motion sampling, edits, rendering;
* :class:`LiveSession` / :class:`LiveFrame` — live sessions (:meth:`Pipeline.live`): speech pushed as it is spoken,
  frames out within a bounded delay;
* :class:`Video` — the result: portrait, motion track and audio; frames are rendered chunk by chunk when it is
  saved or iterated;
* :func:`explore` / :class:`AxisSweep` — a portrait swept along each motion axis, as a labelled grid image;
* :class:`PasteBack` — a rendered face crop put back into its photo (``generate(..., paste_back=True)``);
* :class:`DubbedVideo` — a re-voiced video (:meth:`Pipeline.dub`); :meth:`Pipeline.drive` moves a portrait with a
  video's face (docs/video.md).
"""

from motionkit.pipeline.dubbing import DubbedVideo
from motionkit.pipeline.explore import AxisSweep, explore
from motionkit.pipeline.live import LiveFrame, LiveSession
from motionkit.pipeline.pasteback import PasteBack
from motionkit.pipeline.pipeline import Pipeline, load_edits, resolve_dtype
from motionkit.pipeline.video import Video

__all__ = [
    "AxisSweep",
    "DubbedVideo",
    "LiveFrame",
    "LiveSession",
    "PasteBack",
    "Pipeline",
    "Video",
    "explore",
    "load_edits",
    "resolve_dtype",
]
