"""File input and output shared by the components: atomic writes, checkpoint folders, media files."""

from motionkit.io.audio import load_audio, normalize_waveform
from motionkit.io.files import atomic_path

__all__ = ["atomic_path", "load_audio", "normalize_waveform"]
