"""FLOAT's checkpoint layout: which entries of the official flat state dict belong to which motionkit component.

The official ``float.pth`` is one flat state dict::

    motion_autoencoder.enc.* / .dec.*    the motion auto-encoder   -> Renderer.state_dict() (prefix stripped)
    fmt.*                                the flow transformer      -> FlowSampler.state_dict() (prefix stripped)
    fmt.alignment_mask                   (N, N) bool, True where attention is blocked: verified, never loaded
    audio_encoder.audio_projection.*     the audio projection head -> Conditioner.state_dict() (prefix kept)

The components' own names equal FLOAT's below the prefixes (the modules mirror the official ones), so the maps
here are prefixes plus the few entries the official file stores and the modules rebuild (FIR-kernel buffers, the
attention mask). Nothing outside this package knows these names.

Each component has three functions: ``check_*`` (a :class:`~motionkit.validation.KeyReport` without loading or
raising), ``*_from_official`` (build the component, or raise one :class:`~motionkit.errors.CheckpointError` listing
every missing, unexpected and mis-shaped entry) and ``official_*_entries`` (the component's weights under FLOAT's
names, e.g. to write an official-layout file for the official code).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from motionkit_kernels.reference import band_mask

from motionkit.conditioner import Conditioner
from motionkit.conditioner.audio_encoder import projection_head
from motionkit.conditioner.classifier import EmotionClassifier
from motionkit.conditioner.wav2vec2 import load_wav2vec2
from motionkit.config.conditioner import ConditionerConfig
from motionkit.config.flow import FlowConfig
from motionkit.config.renderer import RendererConfig
from motionkit.errors import CheckpointError, ConfigError
from motionkit.flow import FlowSampler
from motionkit.flow.transformer import FlowTransformer
from motionkit.renderer import Renderer
from motionkit.validation import KeyReport, check_keys, raise_for_keys

RENDERER_PREFIX = "motion_autoencoder."
"""Prefix of the motion auto-encoder's entries (``motion_autoencoder.enc.*``, ``motion_autoencoder.dec.*``)."""

FLOW_PREFIX = "fmt."
"""Prefix of the flow transformer's entries."""

CONDITIONER_PREFIX = "audio_encoder.audio_projection."
"""Prefix of the audio projection head, the only conditioner weights in ``float.pth`` (the wav2vec2 backbones are
read from their own Hugging Face folders, as the official loader does)."""

COMPONENT_PREFIXES = (RENDERER_PREFIX, FLOW_PREFIX, CONDITIONER_PREFIX)
"""Every prefix a component reads; an entry under none of them (and not ignored) is unexpected."""

IGNORED_PREFIXES = ("audio_encoder.wav2vec2.", "emotion_encoder.")
"""Entries a full ``FLOAT.state_dict()`` may hold besides ``float.pth``'s: the two wav2vec2 models, which are read
from their own folders instead."""

ALIGNMENT_MASK_KEY = FLOW_PREFIX + "alignment_mask"
"""FLOAT's stored ``(N, N)`` bool buffer, True where attention is blocked (``|i - j| > window``)."""

FLOAT_FILE_HINT = "pass FLOAT's checkpoint (float.pth loaded with torch.load(weights_only=True))"


# ------------------------------------------------------------------------------------------------------ renderer


def check_renderer_keys(state_dict: Mapping[str, object], config: RendererConfig) -> KeyReport:
    """Check the ``motion_autoencoder.*`` entries against a renderer of ``config``, without loading or raising.

    Every tensor of the renderer's state dict must be present with its shape; the FIR-kernel buffers the official
    file stores are accepted (the modules rebuild them, they are never read). Other entries are not looked at.
    """
    with torch.device("meta"):  # shapes only: nothing is allocated
        layout = Renderer(config)
    expected = {RENDERER_PREFIX + name: tuple(tensor.shape) for name, tensor in layout.state_dict().items()}
    buffers = {RENDERER_PREFIX + name for name, _ in layout.named_buffers()}
    return check_keys(state_dict, expected, optional=buffers, prefix=RENDERER_PREFIX)


def renderer_from_official(state_dict: Mapping[str, torch.Tensor], config: RendererConfig) -> Renderer:
    """A renderer with FLOAT's motion auto-encoder weights (a whole ``float.pth`` may be passed).

    Entries of the other FLOAT components are ignored; entries under no FLOAT prefix are unexpected.

    Raises:
        CheckpointError: listing every missing, unexpected and mis-shaped entry.
    """
    _require_mapping(state_dict)
    strays = tuple(key for key in state_dict if not key.startswith((*COMPONENT_PREFIXES, *IGNORED_PREFIXES)))
    raise_for_keys(
        check_renderer_keys(state_dict, config) + KeyReport(unexpected=strays),
        "the weights do not match the motion auto-encoder layout",
        f"The renderer was built with {config!r}; pass the RendererConfig the weights were trained with (official "
        f"FLOAT weights use the float-512 layout).",
    )
    renderer = Renderer(config)
    renderer.load_state_dict({name: state_dict[RENDERER_PREFIX + name] for name in renderer.state_dict()}, strict=True)
    return renderer


def official_renderer_entries(renderer: Renderer) -> dict[str, torch.Tensor]:
    """The renderer's tensors under FLOAT's names (``motion_autoencoder.`` + own name), detached."""
    return {RENDERER_PREFIX + name: tensor.detach() for name, tensor in renderer.state_dict().items()}


# ---------------------------------------------------------------------------------------------------------- flow


def check_flow_keys(state_dict: Mapping[str, object], config: FlowConfig) -> KeyReport:
    """Check the ``fmt.*`` entries against a flow transformer of ``config``, without loading or raising.

    ``fmt.alignment_mask`` is accepted (its band is verified when loading). Other entries are not looked at.
    """
    with torch.device("meta"):  # shapes only: nothing is allocated
        layout = FlowTransformer(config)
    expected = {FLOW_PREFIX + name: tuple(t.shape) for name, t in layout.state_dict().items()}
    return check_keys(state_dict, expected, optional={ALIGNMENT_MASK_KEY}, prefix=FLOW_PREFIX)


def check_alignment_mask(mask: object, length: int, window: int) -> None:
    """Verify FLOAT's stored attention mask against the band ``|i - j| <= window`` (it is not needed to compute)."""
    expected = ~band_mask(length, window)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (length, length):
        got = f"{type(mask).__name__} {getattr(mask, 'dtype', '')} {tuple(getattr(mask, 'shape', ()))}"
        raise CheckpointError(f"'{ALIGNMENT_MASK_KEY}' must be a bool ({length}, {length}) tensor, got {got.strip()}.")
    if not torch.equal(mask.cpu(), expected):
        allowed = (~mask.cpu()).sum(dim=1).max().item()
        raise CheckpointError(
            f"'{ALIGNMENT_MASK_KEY}' is not the band |i - j| <= {window} this model uses (its widest row allows "
            f"{allowed} frames, the band allows {2 * window + 1}); set FlowConfig.attention_window to the "
            f"checkpoint's value."
        )


def sampler_from_official(state_dict: Mapping[str, object], config: FlowConfig) -> FlowSampler:
    """A flow sampler with FLOAT's ``fmt.*`` weights (other entries, e.g. ``motion_autoencoder.*``, are ignored).

    ``fmt.pos_embed`` is loaded as stored; ``fmt.alignment_mask``, if present, is verified. Values are copied
    (and cast to the module's dtype); the caller's tensors are never modified.

    Raises:
        CheckpointError: no ``fmt.*`` entry, or a list of every missing, unexpected and mis-shaped entry (shown
            without the prefix), or a mask that is not the model's band.
    """
    _require_mapping(state_dict)
    entries = {k[len(FLOW_PREFIX) :]: v for k, v in state_dict.items() if k.startswith(FLOW_PREFIX)}
    if not entries:
        sample = ", ".join(list(state_dict)[:5]) or "none"
        raise CheckpointError(
            f"the state dict has no '{FLOW_PREFIX}*' entries (first keys: {sample}); {FLOAT_FILE_HINT}."
        )
    mask = entries.pop(ALIGNMENT_MASK_KEY[len(FLOW_PREFIX) :], None)
    sampler = FlowSampler(config)
    expected = {key: tuple(value.shape) for key, value in sampler.state_dict().items()}
    raise_for_keys(
        check_keys(entries, expected, floating=True),
        f"the FLOAT state dict does not match this FlowConfig (entries are shown without the '{FLOW_PREFIX}' prefix)",
        "Build the sampler with the FlowConfig the checkpoint was trained with.",
    )
    if mask is not None:
        check_alignment_mask(mask, config.sequence_length, config.attention_window)
    sampler.load_state_dict(entries, strict=True)
    return sampler


def official_flow_entries(sampler: FlowSampler) -> dict[str, torch.Tensor]:
    """The sampler's weights under FLOAT's names (``fmt.*``), as copies, plus the ``(N, N)`` alignment mask."""
    config = sampler.config
    out = {FLOW_PREFIX + k: v.detach().clone() for k, v in sampler.state_dict().items()}
    out[ALIGNMENT_MASK_KEY] = ~band_mask(config.sequence_length, config.attention_window)
    return out


# --------------------------------------------------------------------------------------------------- conditioner


def check_conditioner_keys(state_dict: Mapping[str, object], config: ConditionerConfig) -> KeyReport:
    """Check the ``audio_encoder.audio_projection.*`` entries without loading or raising.

    Only the projection is in ``float.pth``, so other entries, ``audio_encoder.wav2vec2.*`` included, are not
    looked at.
    """
    with torch.device("meta"):  # shapes only: nothing is allocated
        head = projection_head(config.stacked_dim, config.audio_dim, config.projection_eps)
    expected = {CONDITIONER_PREFIX + name: tuple(t.shape) for name, t in head.state_dict().items()}
    return check_keys(state_dict, expected, prefix=CONDITIONER_PREFIX)


def load_official_projection(conditioner: Conditioner, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load the audio projection of ``float.pth`` into a wav2vec2 conditioner (other entries are ignored)."""
    if conditioner.config.encoder != "wav2vec2":
        raise ConfigError("FLOAT checkpoints hold a wav2vec2 projection; this conditioner uses the mel encoder.")
    subset = {k: v for k, v in state_dict.items() if k.startswith(CONDITIONER_PREFIX)}
    if not subset:
        raise CheckpointError(f"the state dict has no {CONDITIONER_PREFIX}* entries; {FLOAT_FILE_HINT}.")
    conditioner.load_trainable_state_dict(subset, "the FLOAT state dict")


def conditioner_from_official(
    state_dict: Mapping[str, torch.Tensor],
    wav2vec2_dir: str | Path,
    emotion_dir: str | Path | None = None,
    config: ConditionerConfig | None = None,
) -> Conditioner:
    """FLOAT's conditioner from its checkpoint's state dict and the two Hugging Face folders.

    Args:
        state_dict: the official ``float.pth`` state dict (only ``audio_encoder.audio_projection.*`` is read).
        wav2vec2_dir: folder of ``facebook/wav2vec2-base-960h`` (``config.json`` + weights).
        emotion_dir: folder of ``r-f/wav2vec-english-speech-emotion-recognition`` (optional).
        config: defaults to FLOAT's configuration.
    """
    conditioner = Conditioner(
        config,
        wav2vec2=load_wav2vec2(wav2vec2_dir),
        emotion=None if emotion_dir is None else EmotionClassifier.from_folder(emotion_dir),
    )
    load_official_projection(conditioner, state_dict)
    return conditioner


# --------------------------------------------------------------------------------------------------------- whole


def official_key_report(
    state_dict: Mapping[str, object], renderer: RendererConfig, flow: FlowConfig, conditioner: ConditionerConfig
) -> KeyReport:
    """Every missing, unexpected and mis-shaped entry of an official-layout state dict, over all components.

    Each component checks its own entries; entries belonging to no component (other than the wav2vec2 models that
    the official loader reads from their own folders) are reported as unexpected.
    """
    report = (
        check_renderer_keys(state_dict, renderer)
        + check_flow_keys(state_dict, flow)
        + check_conditioner_keys(state_dict, conditioner)
    )
    strays = tuple(key for key in state_dict if not key.startswith((*COMPONENT_PREFIXES, *IGNORED_PREFIXES)))
    return report + KeyReport(unexpected=strays)


def _require_mapping(state_dict: object) -> None:
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(
            f"expected a state dict (a mapping of names to tensors), got {type(state_dict).__name__}; "
            f"{FLOAT_FILE_HINT}."
        )
