"""Conditioner: speech to per-frame audio features and emotion weights (FLOAT's conditioning signals).

* :class:`Conditioner` — the component (wav2vec2 or mel audio encoder, optional emotion classifier, streaming,
  checkpoints);
* emotion specifications (:class:`LabelEmotion`, :class:`MixtureEmotion`, :class:`PredictedEmotion`,
  :class:`SlidingEmotion`, :class:`KeyframeEmotion`) and :func:`parse_emotion`;
* the building blocks: :class:`Wav2Vec2AudioEncoder`, :class:`MelAudioEncoder`, :class:`EmotionClassifier`,
  :func:`load_wav2vec2` / :func:`build_wav2vec2` (offline, exact-name loading), :class:`WaveformStats`.
"""

from motionkit.conditioner.audio_encoder import Wav2Vec2AudioEncoder
from motionkit.conditioner.classifier import EmotionClassifier
from motionkit.conditioner.conditioner import Conditioner, DefaultEmotionWarning
from motionkit.conditioner.emotion import (
    EmotionKeyframe,
    EmotionSpec,
    KeyframeEmotion,
    LabelEmotion,
    MixtureEmotion,
    PredictedEmotion,
    SlidingEmotion,
    parse_emotion,
)
from motionkit.conditioner.mel import MelAudioEncoder
from motionkit.conditioner.stream import ConditionStream, WaveformStats
from motionkit.conditioner.wav2vec2 import build_wav2vec2, load_wav2vec2, save_wav2vec2

__all__ = [
    "ConditionStream",
    "Conditioner",
    "DefaultEmotionWarning",
    "EmotionClassifier",
    "EmotionKeyframe",
    "EmotionSpec",
    "KeyframeEmotion",
    "LabelEmotion",
    "MelAudioEncoder",
    "MixtureEmotion",
    "PredictedEmotion",
    "SlidingEmotion",
    "Wav2Vec2AudioEncoder",
    "WaveformStats",
    "build_wav2vec2",
    "load_wav2vec2",
    "parse_emotion",
    "save_wav2vec2",
]
