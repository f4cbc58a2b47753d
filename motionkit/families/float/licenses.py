"""Licences of the weights a converted FLOAT model folder is made from, as recorded in its manifest."""

from __future__ import annotations

from typing import Any

FLOAT_LICENSE_NAME = "CC BY-NC 4.0 / CC BY-NC-ND 4.0 (non-commercial)"
"""FLOAT's repository ships CC BY-NC 4.0 in LICENSE.md; its README declares CC BY-NC-ND 4.0 for code and weights."""

FLOAT_LICENSE_SUMMARY = (
    "The official FLOAT weights (deepbrainai-research/float, float.pth) are released for non-commercial research "
    "use only: the repository's LICENSE.md is CC BY-NC 4.0 and its README declares CC BY-NC-ND 4.0 for the "
    "inference code and checkpoints. The renderer, flow and audio-projection weights of this folder are those "
    "weights, unchanged, so the same terms apply: no commercial use, and the NoDerivatives terms restrict sharing "
    "adapted (e.g. fine-tuned) weights. motionkit's own code is Apache-2.0; that does not change the weights' terms."
)

WAV2VEC2_REPO = "facebook/wav2vec2-base-960h"
EMOTION_REPO = "r-f/wav2vec-english-speech-emotion-recognition"
APACHE = "Apache-2.0"


def float_license(with_emotion: bool) -> dict[str, Any]:
    """The ``license`` entry of a converted FLOAT folder's manifest."""
    components = {
        "renderer": FLOAT_LICENSE_NAME,
        "flow": FLOAT_LICENSE_NAME,
        "conditioner/audio_projection": FLOAT_LICENSE_NAME,
        "conditioner/wav2vec2": f"{APACHE} ({WAV2VEC2_REPO})",
    }
    if with_emotion:
        components["conditioner/emotion"] = f"{APACHE} ({EMOTION_REPO})"
    return {
        "name": FLOAT_LICENSE_NAME,
        "commercial_use": False,
        "summary": FLOAT_LICENSE_SUMMARY,
        "components": components,
    }
