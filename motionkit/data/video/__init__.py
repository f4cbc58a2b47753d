"""Talking-head video folders: scanning (:mod:`.index`, :mod:`.probe`), 25-fps frame mapping (:mod:`.timeline`),
fixed-box face crops (:mod:`.clip`), decoding (:mod:`.decode`) and (source, driving) pair sampling (:mod:`.pairs`).

A folder is scanned once into one :class:`ClipInfo` per usable clip (frames mapped to the output rate, a face box
fixed from the first frame where the detector succeeds, audio checked); the scan can be cached in a JSON index.
"""

from motionkit.data.video.clip import ClipInfo, FaceCropper, ScanSettings, SkippedFileWarning
from motionkit.data.video.decode import iter_clip_frames, read_frames
from motionkit.data.video.index import DatasetSummary, VideoDataset, default_index_path, list_videos, scan_folder
from motionkit.data.video.pairs import FramePairSource, RegionFinder
from motionkit.data.video.probe import clip_audio, probe_clip

__all__ = [
    "ClipInfo",
    "DatasetSummary",
    "FaceCropper",
    "FramePairSource",
    "RegionFinder",
    "ScanSettings",
    "SkippedFileWarning",
    "VideoDataset",
    "clip_audio",
    "default_index_path",
    "iter_clip_frames",
    "list_videos",
    "probe_clip",
    "read_frames",
    "scan_folder",
]
