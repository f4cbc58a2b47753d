"""Conversion of official FLOAT weights into a motionkit model folder (``motionkit convert-float``).

:func:`convert_float` reads ``float.pth`` and the two Hugging Face folders once and writes a
:mod:`motionkit.checkpoint` folder with safetensors only; see :mod:`motionkit.convert.official`.
"""

from motionkit.convert.licenses import FLOAT_LICENSE_NAME, float_license, is_non_commercial
from motionkit.convert.official import convert_float, float_key_report, read_float_checkpoint

__all__ = [
    "FLOAT_LICENSE_NAME",
    "convert_float",
    "float_key_report",
    "float_license",
    "is_non_commercial",
    "read_float_checkpoint",
]
