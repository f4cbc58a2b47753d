"""IMTalker's generator checkpoint layout: which ``generator.ckpt`` entries belong to which motionkit component.

The ``state_dict`` of IMTalker's Lightning ``generator.ckpt`` holds ``model.`` + ``FMGenerator`` names (spec
section 5)::

    model.fmt.*, model.{pose,cam,gaze}_projection.*   -> IMTalkerMotion.state_dict() (``model.`` stripped)
    model.fmt.rotary_emb.inv_freq                     a constructor buffer: verified, never loaded
    model.audio_projection.*                          -> Conditioner ``audio_encoder.audio_projection.*``
    model.audio_encoder.wav2vec2.*                    optional: overrides the wav2vec2 folder's weights (as the
                                                      official loader does when the file holds them)

The EMA shadow (``ema_state_dict``) is not in the ``state_dict`` and inference ignores it, as the official code does.
Each component has a ``check_*`` function (a :class:`~motionkit.validation.KeyReport`, no raising) and a
``*_from_official`` builder that raises one :class:`~motionkit.errors.CheckpointError` listing every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from motionkit.conditioner import Conditioner
from motionkit.conditioner.audio_encoder import projection_head
from motionkit.conditioner.huggingface import read_folder, split_prefix
from motionkit.conditioner.wav2vec2 import AUDIO_REPO_ID, BACKBONE_PREFIX, build_wav2vec2, wav2vec2_config
from motionkit.config.conditioner import ConditionerConfig
from motionkit.errors import CheckpointError
from motionkit.families.imtalker.checkpoints import GENERATOR_PREFIX
from motionkit.families.imtalker.generator import IMTalkerMotion, IMTalkerMotionConfig
from motionkit.families.imtalker.rotary import ROPE_BASE
from motionkit.validation import KeyReport, check_keys, raise_for_keys

MOTION_PREFIXES = tuple(
    GENERATOR_PREFIX + part for part in ("fmt.", "pose_projection.", "cam_projection.", "gaze_projection.")
)
"""Entries of the motion generator (:class:`IMTalkerMotion`)."""

PROJECTION_PREFIX = GENERATOR_PREFIX + "audio_projection."
"""Entries of the conditioner's audio projection."""

WAV2VEC2_PREFIX = GENERATOR_PREFIX + "audio_encoder.wav2vec2."
"""Entries of the frozen wav2vec2 backbone, when Lightning saved them."""

INV_FREQ_KEY = GENERATOR_PREFIX + "fmt.rotary_emb.inv_freq"
"""The rotary frequencies the official constructor builds (``base^(-2i/d)``); verified, not loaded."""

CONDITIONER_PROJECTION = "audio_encoder.audio_projection."
"""Where the audio projection lives in motionkit's :class:`~motionkit.conditioner.Conditioner`."""

GENERATOR_HINT = "pass IMTalker's generator.ckpt (its 'state_dict', read with torch.load(weights_only=True))"


def check_motion_keys(state_dict: Mapping[str, object], config: IMTalkerMotionConfig) -> KeyReport:
    """Check the motion generator's entries against a generator of ``config`` (other entries are not looked at)."""
    with torch.device("meta"):  # shapes only: nothing is allocated
        layout = IMTalkerMotion(config)
    expected = {GENERATOR_PREFIX + name: tuple(t.shape) for name, t in layout.state_dict().items()}
    report = KeyReport()
    for prefix in MOTION_PREFIXES:
        part = {key: shape for key, shape in expected.items() if key.startswith(prefix)}
        report = report + check_keys(state_dict, part, optional={INV_FREQ_KEY}, prefix=prefix)
    return report


def check_rotary_frequencies(value: object, head_dim: int) -> None:
    """Verify the checkpoint's ``inv_freq`` against the frequencies this model computes (it is never loaded)."""
    expected = 1.0 / (ROPE_BASE ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(expected.shape):
        got = tuple(getattr(value, "shape", ()))
        raise CheckpointError(f"'{INV_FREQ_KEY}' must be a ({head_dim // 2},) tensor, got {got}; {GENERATOR_HINT}.")
    if not torch.allclose(value.detach().cpu().float(), expected, rtol=1e-6, atol=0.0):
        raise CheckpointError(
            f"'{INV_FREQ_KEY}' holds rotary frequencies other than base {ROPE_BASE:g}'s; this checkpoint was not made "
            f"by IMTalker's code."
        )


def motion_from_official(state_dict: Mapping[str, torch.Tensor], config: IMTalkerMotionConfig) -> IMTalkerMotion:
    """The motion generator with the weights of a ``generator.ckpt`` state dict (other entries are ignored).

    Raises:
        CheckpointError: listing every missing, unexpected and mis-shaped entry, or a wrong ``inv_freq``.
    """
    raise_for_keys(
        check_motion_keys(state_dict, config),
        "the generator checkpoint does not match IMTalker's flow transformer and control projections",
        f"Build the generator with the configuration the checkpoint was trained with ({GENERATOR_HINT}).",
    )
    if INV_FREQ_KEY in state_dict:
        check_rotary_frequencies(state_dict[INV_FREQ_KEY], config.flow.head_dim)
    motion = IMTalkerMotion(config)
    motion.load_state_dict({name: state_dict[GENERATOR_PREFIX + name] for name in motion.state_dict()}, strict=True)
    return motion


def check_conditioner_keys(state_dict: Mapping[str, object], config: ConditionerConfig) -> KeyReport:
    """Check the ``model.audio_projection.*`` entries (the wav2vec2 entries are checked when they are loaded)."""
    with torch.device("meta"):
        head = projection_head(config.stacked_dim, config.audio_dim, config.projection_eps)
    expected = {PROJECTION_PREFIX + name: tuple(t.shape) for name, t in head.state_dict().items()}
    return check_keys(state_dict, expected, prefix=PROJECTION_PREFIX)


def conditioner_config_for(wav2vec2_config_json: Mapping[str, object], audio_dim: int) -> ConditionerConfig:
    """IMTalker's conditioner for a wav2vec2 model: its last layer's output (``only_last_features``) projected to
    ``audio_dim``."""
    backbone = wav2vec2_config(wav2vec2_config_json)
    return ConditionerConfig(
        audio_dim=audio_dim,
        wav2vec2_features="last",
        wav2vec2_layers=backbone.num_hidden_layers,
        wav2vec2_hidden=backbone.hidden_size,
    )


def conditioner_from_official(
    state_dict: Mapping[str, torch.Tensor], wav2vec2_dir: str | Path, audio_dim: int
) -> Conditioner:
    """IMTalker's conditioner: the wav2vec2 folder's model (its weights replaced by the checkpoint's
    ``model.audio_encoder.wav2vec2.*`` entries when the file holds them) and the checkpoint's audio projection.

    Raises:
        CheckpointError: a missing or damaged folder, or every missing, unexpected and mis-shaped entry of the
            projection (and of the wav2vec2 entries, when present).
    """
    folder_config, folder_weights = read_folder(wav2vec2_dir, "wav2vec2 audio encoder", AUDIO_REPO_ID)
    config = conditioner_config_for(folder_config, audio_dim)
    raise_for_keys(
        check_conditioner_keys(state_dict, config),
        "the generator checkpoint does not match IMTalker's audio projection",
        f"The wav2vec2 folder {wav2vec2_dir} must be the one the generator was trained with ({GENERATOR_HINT}).",
    )
    saved = {key[len(WAV2VEC2_PREFIX) :]: value for key, value in state_dict.items() if key.startswith(WAV2VEC2_PREFIX)}
    if saved:
        backbone = build_wav2vec2(
            folder_config, saved, f"the wav2vec2 entries of the generator checkpoint ({WAV2VEC2_PREFIX}*)"
        )
    else:
        if any(key.startswith(BACKBONE_PREFIX) for key in folder_weights):  # a CTC model's folder: drop lm_head
            folder_weights, _heads = split_prefix(folder_weights, BACKBONE_PREFIX)
        backbone = build_wav2vec2(folder_config, folder_weights, f"wav2vec2 folder {wav2vec2_dir}")
    conditioner = Conditioner(config, wav2vec2=backbone)
    projection = {
        CONDITIONER_PROJECTION + key[len(PROJECTION_PREFIX) :]: value
        for key, value in state_dict.items()
        if key.startswith(PROJECTION_PREFIX)
    }
    conditioner.load_trainable_state_dict(projection, "the generator checkpoint's audio projection")
    return conditioner


def unknown_generator_entries(state_dict: Mapping[str, object]) -> KeyReport:
    """Entries of a generator ``state_dict`` that belong to no component (reported as unexpected)."""
    known = (*MOTION_PREFIXES, PROJECTION_PREFIX, WAV2VEC2_PREFIX)
    return KeyReport(unexpected=tuple(key for key in state_dict if not key.startswith(known)))
