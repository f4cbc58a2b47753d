"""The speech-emotion classifier FLOAT uses: wav2vec2 + mean pooling + a two-layer head, 7 classes.

Architecture of ``r-f/wav2vec-english-speech-emotion-recognition`` (``Wav2Vec2ForSpeechClassification``)::

    h      = wav2vec2(a).last_hidden_state        # (B, n, H), n ~ 50 frames per second
    pooled = mean_t h                             # (B, H)
    logits = out_proj(tanh(dense(pooled)))        # (B, 7), labels angry, disgust, fear, happy, neutral, sad, surprise
    w_e    = softmax(logits)                      # FLOAT's soft emotion label

File keys: ``wav2vec2.*``, ``classifier.dense.{weight,bias}``, ``classifier.out_proj.{weight,bias}`` — the module
names here are the same, so ``state_dict()`` round-trips with the original files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from motionkit.conditioner.backbone import conv_features, transformer_states
from motionkit.conditioner.huggingface import HF_METADATA, load_exact, read_folder, to_file_names, to_module_names
from motionkit.conditioner.wav2vec2 import BACKBONE_PREFIX, freeze, wav2vec2_config, write_config
from motionkit.errors import CheckpointError
from motionkit.io.files import make_folder
from motionkit.io.tensors import write_tensors
from motionkit.types import EMOTION_LABELS

if TYPE_CHECKING:
    from transformers import Wav2Vec2Model

EMOTION_REPO_ID = "r-f/wav2vec-english-speech-emotion-recognition"
"""The speech-emotion checkpoint FLOAT uses."""

HEAD_PREFIX = "classifier."


class ClassificationHead(nn.Module):
    """``out_proj(tanh(dense(x)))``: ``(B, H) -> (B, K)`` (dropout is inactive at inference and omitted)."""

    def __init__(self, hidden: int, num_labels: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out_proj(torch.tanh(self.dense(pooled)))


class EmotionClassifier(nn.Module):
    """Clip-level 7-class speech-emotion classifier (frozen).

    Args:
        wav2vec2: the backbone (any ``Wav2Vec2Config``).
        label_order: ``label_order[i]`` is the model's output index of FLOAT label ``i``; identity for a model whose
            ``id2label`` is FLOAT's order (the official one).
    """

    def __init__(self, wav2vec2: Wav2Vec2Model, label_order: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.wav2vec2 = wav2vec2
        self.classifier = ClassificationHead(wav2vec2.config.hidden_size, len(EMOTION_LABELS))
        order = tuple(range(len(EMOTION_LABELS))) if label_order is None else tuple(label_order)
        if sorted(order) != list(range(len(EMOTION_LABELS))):
            raise CheckpointError(f"label_order must be a permutation of 0..6, got {order}.")
        self.label_order = order
        freeze(self)

    def train(self, mode: bool = True) -> EmotionClassifier:
        """Stays in eval mode: the classifier is a frozen, pretrained component."""
        return super().train(False)

    @torch.no_grad()
    def logits(self, waveform: torch.Tensor, chunk_samples: int | None = None) -> torch.Tensor:
        """Logits ``(B, 7)`` in FLOAT's label order for normalised, unpadded waveforms ``(B, N)``.

        ``chunk_samples`` bounds the memory of the conv feature encoder on long clips (same result).
        """
        features = conv_features(self.wav2vec2, waveform, chunk_samples)
        last = transformer_states(self.wav2vec2, features, len(self.wav2vec2.encoder.layers))[-1]
        logits = self.classifier(last.mean(dim=1))
        return logits[:, list(self.label_order)]

    def forward(self, waveform: torch.Tensor, chunk_samples: int | None = None) -> torch.Tensor:
        """Soft emotion label ``softmax(logits)`` ``(B, 7)``."""
        return torch.softmax(self.logits(waveform, chunk_samples), dim=-1)

    @classmethod
    def from_state_dict(
        cls, config: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor], what: str = "emotion classifier"
    ) -> EmotionClassifier:
        """Build from a ``config.json`` dict and file-layout weights (``wav2vec2.*``, ``classifier.*``)."""
        _check_pooling(config, what)
        from transformers import Wav2Vec2Model

        model = cls(Wav2Vec2Model(wav2vec2_config(config)), label_order=_label_order(config, what))
        load_exact(model, to_module_names(state_dict, model), what)
        return freeze(model)

    @classmethod
    def from_folder(cls, folder: str | Path) -> EmotionClassifier:
        """Load a Hugging Face folder of ``r-f/wav2vec-english-speech-emotion-recognition`` (or one like it)."""
        config, state = read_folder(folder, "speech-emotion classifier", EMOTION_REPO_ID)
        known = {k: v for k, v in state.items() if k.startswith((BACKBONE_PREFIX, HEAD_PREFIX))}
        return cls.from_state_dict(config, known, f"emotion classifier in {folder}")

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` in the original file layout."""
        folder = Path(folder)
        make_folder(folder)
        write_tensors(folder / "model.safetensors", to_file_names(self.state_dict()), HF_METADATA)
        config = self.wav2vec2.config.to_dict()
        config.update(
            architectures=["Wav2Vec2ForSpeechClassification"],
            pooling_mode="mean",
            id2label={str(self.label_order[i]): label for i, label in enumerate(EMOTION_LABELS)},
            label2id={label: self.label_order[i] for i, label in enumerate(EMOTION_LABELS)},
        )
        write_config(config, folder / "config.json")
        return folder


def _check_pooling(config: Mapping[str, Any], what: str) -> None:
    pooling = config.get("pooling_mode", "mean")
    if pooling != "mean":
        raise CheckpointError(f"{what}: pooling_mode {pooling!r} is not supported; FLOAT's classifier uses 'mean'.")


def _label_order(config: Mapping[str, Any], what: str) -> tuple[int, ...]:
    """Model output index of each FLOAT label, from ``id2label``."""
    id2label = config.get("id2label")
    if not id2label:
        raise CheckpointError(f"{what}: config.json has no id2label; the 7 labels {EMOTION_LABELS} are required.")
    by_label = {str(label).strip().lower(): int(index) for index, label in id2label.items()}
    if set(by_label) != set(EMOTION_LABELS):
        raise CheckpointError(
            f"{what}: the labels {sorted(by_label)} are not FLOAT's emotion classes {list(EMOTION_LABELS)}; "
            "use a classifier trained on those 7 classes."
        )
    return tuple(by_label[label] for label in EMOTION_LABELS)
