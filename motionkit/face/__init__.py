"""Face preparation below the components: the face box, FLOAT's crop rule and offline detection."""

from motionkit.face.box import Box
from motionkit.face.cascade import detect_face
from motionkit.face.crop import crop_box, crop_portrait

__all__ = ["Box", "crop_box", "crop_portrait", "detect_face"]
