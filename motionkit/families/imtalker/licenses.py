"""Licences of what a converted IMTalker model folder is made from, as recorded in its manifest."""

from __future__ import annotations

from typing import Any

CODE_REPO = "bigai-nlco/IMTalker"
WEIGHTS_REPO = "cbsjtu01/IMTalker"
WAV2VEC2_REPO = "facebook/wav2vec2-base-960h"
APACHE = "Apache-2.0"

WEIGHTS_TERMS = (
    f"check the weights' own terms on the model card of {WEIGHTS_REPO} (Hugging Face) before use: the IMTalker "
    "repository states no licence for its checkpoints, and the code's Apache-2.0 licence does not cover them"
)
"""The weights' licence is unknown offline (spec section 6): the user must read it."""

IMTALKER_LICENSE_SUMMARY = (
    f"IMTalker's code ({CODE_REPO}) is Apache-2.0; motionkit reimplements it (Apache-2.0 too) and reads the official "
    f"checkpoints renderer.ckpt and generator.ckpt. The weights in this folder are those checkpoints' tensors, "
    f"unchanged; their licence is not stated in the code repository, so {WEIGHTS_TERMS}. wav2vec2-base-960h "
    f"({WAV2VEC2_REPO}) is Apache-2.0 on the Hugging Face Hub."
)


def imtalker_license() -> dict[str, Any]:
    """The ``license`` entry of a converted IMTalker folder's manifest (commercial use: unknown, ``None``)."""
    weights = f"unknown: see the model card of {WEIGHTS_REPO}"
    return {
        "name": f"code {APACHE}; weights: see the model card of {WEIGHTS_REPO}",
        "commercial_use": None,
        "summary": IMTALKER_LICENSE_SUMMARY,
        "code": f"{APACHE} ({CODE_REPO})",
        "check_weights_terms": f"Check the weights' own terms: {WEIGHTS_TERMS}.",
        "components": {
            "renderer": weights,
            "motion": weights,
            "conditioner/audio_projection": weights,
            "conditioner/wav2vec2": f"{APACHE} ({WAV2VEC2_REPO}), or the generator checkpoint's copy of it",
        },
    }
