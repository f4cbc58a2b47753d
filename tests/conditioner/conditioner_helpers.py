"""Tiny random wav2vec2 configurations and models shared by the conditioner tests."""

from __future__ import annotations

from typing import Any

import torch

from motionkit.conditioner import EmotionClassifier
from motionkit.conditioner.wav2vec2 import freeze, wav2vec2_config
from motionkit.config import ConditionerConfig
from motionkit.testing.tolerances import layers_depth
from motionkit.types import EMOTION_LABELS

TINY_WAV2VEC2: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": [32] * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}
"""Post-LN encoder, GroupNorm in the first conv layer, no conv bias: wav2vec2-base's structure, tiny."""

TINY_STABLE: dict[str, Any] = {
    **TINY_WAV2VEC2,
    "do_stable_layer_norm": True,
    "feat_extract_norm": "layer",
    "conv_bias": True,
}
"""Pre-LN encoder with LayerNorm in every conv layer: the emotion model's structure, tiny."""

TINY_EMOTION: dict[str, Any] = {
    **TINY_STABLE,
    "pooling_mode": "mean",
    "id2label": {str(i): label for i, label in enumerate(EMOTION_LABELS)},
    "label2id": {label: i for i, label in enumerate(EMOTION_LABELS)},
}

TINY_CONDITIONER = ConditionerConfig(wav2vec2_layers=2, wav2vec2_hidden=32, audio_dim=16)


def random_wav2vec2(config: dict[str, Any], seed: int = 0) -> Any:
    from transformers import Wav2Vec2Model

    torch.manual_seed(seed)
    return freeze(Wav2Vec2Model(wav2vec2_config(config)))


def random_emotion(seed: int = 1) -> EmotionClassifier:
    from transformers import Wav2Vec2Model

    torch.manual_seed(seed)
    return EmotionClassifier(Wav2Vec2Model(wav2vec2_config(TINY_EMOTION)))


def audio_depth(model: torch.nn.Module, samples: int) -> int:
    """Roundings on the longest path of an audio model over a clip of ``samples`` (``motionkit.testing.tolerances``):
    its layers, read from the weights, plus the sums over the whole clip: the waveform's mean and variance and the
    first GroupNorm's statistics over time (at most ``samples`` terms each)."""
    return layers_depth(model) + 3 * samples
