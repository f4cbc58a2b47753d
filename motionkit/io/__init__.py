"""File input and output shared by the components: atomic writes, audio, portrait images, video files."""

from motionkit.io.audio import is_silent, load_audio, normalize_waveform
from motionkit.io.files import atomic_folder, atomic_path
from motionkit.io.image import image_to_tensor, images_to_tensor, load_image, resize_image, tensor_to_image
from motionkit.io.reader import VideoReader
from motionkit.io.video import VideoWriter, read_video

__all__ = [
    "VideoReader",
    "VideoWriter",
    "atomic_folder",
    "atomic_path",
    "image_to_tensor",
    "images_to_tensor",
    "is_silent",
    "load_audio",
    "load_image",
    "normalize_waveform",
    "read_video",
    "resize_image",
    "tensor_to_image",
]
