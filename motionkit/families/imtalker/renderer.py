"""IMTalker's renderer (the official ``IMTRenderer``) as a motionkit :class:`~motionkit.protocols.PortraitRenderer`.

Math (spec section 2): a portrait ``S`` in ``[0, 1]`` gives identity features ``f_r`` (6 levels), an identity vector
``g_r`` and its own motion latent ``t_r = E_m(S)`` (32-d). A motion latent ``t`` (a frame of a
:class:`~motionkit.MotionTrack`: generated from audio, or ``E_m`` of a driving frame) is drawn as::

    m_c = D_m(adapt(t, g_r))                          motion maps, 4 levels (8 .. 64 px)
    a_i = attention(q = m_c[i], k = m_r[i], v = f_r[i])   i = 0..3, with m_r = D_m(adapt(t_r, g_r))
    a_i = block copy of f_r[i] by the top-1 keys of level 3            i = 4, 5 (128, 256 px)
    frame = frame_decoder(a_0 .. a_5)                 (3, 512, 512) in (0, 1)

so ``t = t_r`` redraws the portrait. Everything of the source side (``f_r``, ``g_r``, ``m_r``, the attention keys
and values, the pooled fine features) is computed once, in :meth:`IMTalkerRenderer.encode`; a frame costs the
adapter, the motion decoder, four attentions and the frame decoder. :meth:`IMTalkerRenderer.render` returns frames
in ``[-1, 1]`` like every motionkit renderer; :meth:`IMTalkerRenderer.decode` the model's own ``(0, 1)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from motionkit.errors import ConfigError, ImageError, ShapeError, require
from motionkit.face import Box, crop_portrait
from motionkit.families.imtalker.renderer_attention import CoarseTransfer, GuidedResampler
from motionkit.families.imtalker.renderer_decoder import FrameDecoder
from motionkit.families.imtalker.renderer_encoders import (
    MOTION_DIM,
    IdentityAdaptive,
    IdentityEncoder,
    MotionDecoder,
    MotionEncoder,
)
from motionkit.io.image import UINT8_MAX, ImageInput
from motionkit.space import MotionSpace
from motionkit.types import MotionTrack, Precision
from motionkit.validation import check_tensor

SIZE = 512
"""The renderer's fixed resolution (input portraits and output frames)."""

TRANSFER_LEVELS = ((512, 8), (512, 16), (256, 32), (128, 64), (64, 128), (32, 256))
"""``(channels, resolution)`` of the six implicit-motion-transfer levels, coarse to fine."""

GUIDE_LEVEL = 3
"""The coarse level whose top-1 keys guide the fine levels' block copy (64 x 64 tokens)."""

PRECISIONS: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

FPS = 25.0
"""IMTalker's frame rate (tracks of encoded driving frames carry it)."""

PortraitInput = ImageInput | torch.Tensor
"""A path, an ``(H, W, 3)`` array, a Pillow image, or a ``(3, H, W)`` / ``(1, 3, H, W)`` tensor in ``[-1, 1]``."""


@dataclass(frozen=True)
class IMTalkerPortrait:
    """A portrait encoded by :class:`IMTalkerRenderer` (an :class:`~motionkit.protocols.EncodedPortrait`).

    Attributes:
        image: ``(B, 3, 512, 512)`` the prepared portrait in ``[0, 1]``.
        features: the identity features ``f_r``, coarse to fine (512x8x8 ... 32x256x256).
        identity: ``(B, 512)`` the identity vector ``g_r``.
        motion: ``(B, 32)`` the portrait's own motion latent ``t_r`` (the generator's reference ``ref_x``).
        adapted: ``(B, 32)`` ``adapt(t_r, g_r)``.
        motion_maps: ``m_r``, the motion decoder's maps of ``adapted`` (512x8x8 ... 128x64x64).
        coarse: per coarse level, the attention keys and values ``(B, 8, H*W, d)`` of ``(m_r, f_r)``.
        fine: per fine level, the ``(B, 64*64, C)`` block means of ``f_r`` that the guided copy picks from.
    """

    image: torch.Tensor
    features: tuple[torch.Tensor, ...]
    identity: torch.Tensor
    motion: torch.Tensor
    adapted: torch.Tensor
    motion_maps: tuple[torch.Tensor, ...]
    coarse: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    fine: tuple[torch.Tensor, ...]

    @property
    def batch(self) -> int:
        return int(self.identity.shape[0])

    def select(self, index: int) -> IMTalkerPortrait:
        """Portrait ``index`` of the batch as a batch-1 portrait (views, no copies)."""
        keep = slice(index, index + 1)
        return IMTalkerPortrait(
            image=self.image[keep],
            features=tuple(f[keep] for f in self.features),
            identity=self.identity[keep],
            motion=self.motion[keep],
            adapted=self.adapted[keep],
            motion_maps=tuple(m[keep] for m in self.motion_maps),
            coarse=tuple((k[keep], v[keep]) for k, v in self.coarse),
            fine=tuple(p[keep] for p in self.fine),
        )


@dataclass(frozen=True)
class DecodedFrames:
    """What :meth:`IMTalkerRenderer.decode_details` computed for ``N`` latents of one portrait.

    Attributes:
        frames: ``(N, 3, 512, 512)`` in ``(0, 1)`` (after the sigmoid, not clamped).
        adapted: ``(N, 32)`` the identity-adapted latents ``adapt(t, g_r)``.
        motion_maps: ``m_c``, 4 levels.
        aligned: the six aligned features entering the frame decoder, coarse to fine.
        top1: ``(N, 4096)`` the guide level's top-1 key per query (what the fine levels copied by).
    """

    frames: torch.Tensor
    adapted: torch.Tensor
    motion_maps: tuple[torch.Tensor, ...]
    aligned: tuple[torch.Tensor, ...]
    top1: torch.Tensor


class IMTalkerRenderer(nn.Module):
    """IMTalker's implicit-motion-transfer renderer; module names are the checkpoint's (below ``gen.``).

    Build it empty and load official weights with :func:`motionkit.families.imtalker.renderer_official.
    renderer_from_official`, or load a model folder's ``state_dict``. Inference only (``encode``, ``render`` ... run
    without autograd); dtype and device follow :meth:`to`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dense_feature_encoder = IdentityEncoder()
        self.latent_token_encoder = MotionEncoder()
        self.latent_token_decoder = MotionDecoder()
        self.frame_decoder = FrameDecoder()
        self.adapt = IdentityAdaptive()
        self.imt = nn.ModuleList(
            CoarseTransfer(channels) if level <= GUIDE_LEVEL else GuidedResampler(size // TRANSFER_LEVELS[3][1])
            for level, (channels, size) in enumerate(TRANSFER_LEVELS)
        )
        self._space = MotionSpace(torch.eye(MOTION_DIM, device="cpu"))  # also when built on the meta device
        # Convolution weights in channels-last memory, like the activations: otherwise every convolution copies its
        # weight into that layout at every call (later .to(device) and load_state_dict keep the layout).
        for weight in self.parameters():
            if weight.dim() == 4:
                weight.data = weight.data.contiguous(memory_format=torch.channels_last)

    # ------------------------------------------------------------------------------------------- properties

    @property
    def space(self) -> MotionSpace:
        """The 32-d motion latent as a space with the identity basis (axes ``d0 .. d31``)."""
        return self._space

    @property
    def latent_dim(self) -> int:
        return MOTION_DIM

    @property
    def device(self) -> torch.device:
        return self.adapt.in_layer.weight.device

    def frame_shape(self, portrait: IMTalkerPortrait) -> tuple[int, int]:
        """``(512, 512)``: IMTalker draws at one resolution."""
        return (SIZE, SIZE)

    def _coarse(self, level: int) -> CoarseTransfer:
        return cast(CoarseTransfer, self.imt[level])

    def _fine(self, level: int) -> GuidedResampler:
        return cast(GuidedResampler, self.imt[level])

    # ----------------------------------------------------------------------------------------------- encoding

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> IMTalkerPortrait:
        """Encode prepared portraits ``(B, 3, 512, 512)`` RGB in ``[0, 1]`` (the official ``ToTensor`` range)."""
        self._check_images("images", images)
        x = images.to(self.device, self._dtype()).contiguous(memory_format=torch.channels_last)
        features, identity = self.dense_feature_encoder(x)
        motion = self.latent_token_encoder(x)
        adapted = self.adapt(motion, identity)
        maps = self.latent_token_decoder(adapted)
        coarse = tuple(self._coarse(level).source(maps[level], features[level]) for level in range(GUIDE_LEVEL + 1))
        fine = tuple(self._fine(level).source(features[level]) for level in range(GUIDE_LEVEL + 1, len(features)))
        return IMTalkerPortrait(images, features, identity, motion, adapted, maps, coarse, fine)

    def encode_portrait(
        self, image: PortraitInput, *, crop: bool = True, box: Box | Sequence[float] | None = None
    ) -> IMTalkerPortrait:
        """Prepare and encode one portrait.

        ``crop=False`` resizes the whole image to 512 x 512 (the official default, which runs without ``--crop``);
        ``crop=True`` first cuts motionkit's square face crop (:func:`motionkit.face.crop_portrait`: the face stack's
        box, or ``box``, or the face-box file beside an image path), the counterpart of the official ``--crop``
        (which detects with another detector). Then ``u / 255`` (no ``[-1, 1]`` normalisation) and :meth:`encode`.

        Args:
            image: a path, an ``(H, W, 3)`` uint8 array, a Pillow image, or a ``(3, H, W)`` / ``(1, 3, H, W)``
                tensor in ``[-1, 1]`` (motionkit's image tensors).
        """
        return self.encode(_to_unit(crop_portrait(_pixels(image), SIZE, box=box, crop=crop)))

    @torch.no_grad()
    def encode_motion(self, images: torch.Tensor) -> torch.Tensor:
        """Motion latents ``t = E_m(d)`` ``(N, 32)`` of prepared driving frames ``(N, 3, 512, 512)`` in ``[0, 1]``."""
        self._check_images("images", images)
        x = images.to(self.device, self._dtype()).contiguous(memory_format=torch.channels_last)
        return self.latent_token_encoder(x)

    def encode_driving(self, frames: Iterable[PortraitInput], *, batch: int = 4, fps: float = FPS) -> MotionTrack:
        """The motion track ``(1, N, 32)`` of driving frames, for video-driven reenactment with :meth:`render`.

        Each frame is prepared like the official video-driven script does: resized to 512 x 512 whole (no face
        crop), ``u / 255``; ``batch`` frames are encoded together.
        """
        require(isinstance(batch, int) and batch >= 1, ConfigError, f"batch must be a positive integer, got {batch!r}.")
        latents, pending = [], []
        for frame in frames:
            pending.append(_to_unit(crop_portrait(_pixels(frame), SIZE, crop=False)))
            if len(pending) == batch:
                latents.append(self.encode_motion(torch.cat(pending)))
                pending = []
        if pending:
            latents.append(self.encode_motion(torch.cat(pending)))
        require(bool(latents), ImageError, "encode_driving got no frames; give at least one driving frame.")
        return MotionTrack(torch.cat(latents)[None].float(), fps=fps)

    # ----------------------------------------------------------------------------------------------- decoding

    @torch.no_grad()
    def decode(self, portrait: IMTalkerPortrait, latents: torch.Tensor) -> torch.Tensor:
        """Frames ``(N, 3, 512, 512)`` in ``(0, 1)`` of ``(N, 32)`` motion latents of a batch-1 portrait."""
        return self._decode(portrait, latents).frames

    @torch.no_grad()
    def decode_details(
        self, portrait: IMTalkerPortrait, latents: torch.Tensor, *, guide: torch.Tensor | None = None
    ) -> DecodedFrames:
        """:meth:`decode` with the intermediate tensors (adapted latents, motion maps, aligned features, top-1).

        Args:
            guide: optional ``(N, 4096)`` key indices that the fine levels copy by, in place of the computed top-1
                (which :attr:`DecodedFrames.top1` still reports). The top-1 of a 4096-way average is discontinuous:
                near-ties flip between correct evaluations (spec section 7, item 5), and whole 2x2 / 4x4 blocks of
                the fine features with them; a given guide separates that choice from the rest of the frame.
        """
        return self._decode(portrait, latents, guide)

    def _decode(
        self, portrait: IMTalkerPortrait, latents: torch.Tensor, guide: torch.Tensor | None = None
    ) -> DecodedFrames:
        self._check_portrait(portrait)
        check_tensor("latents", latents, ndim=2, last_dim=MOTION_DIM, hint="Expected (frames, 32).")
        cells = portrait.coarse[GUIDE_LEVEL][0].shape[2]
        if guide is not None:
            require(
                tuple(guide.shape) == (latents.shape[0], cells) and not guide.dtype.is_floating_point,
                ShapeError,
                f"guide must be ({latents.shape[0]}, {cells}) integer key indices (one row per latent), got "
                f"{guide.dtype} of shape {tuple(guide.shape)}.",
            )
        require(
            portrait.batch == 1,
            ShapeError,
            f"decode draws the latents of one portrait, got a batch of {portrait.batch}; select one with "
            f"portrait.select(i).",
        )
        adapted = self.adapt(latents.to(self.device, portrait.identity.dtype), portrait.identity)
        maps = self.latent_token_decoder(adapted)
        aligned: list[torch.Tensor] = []
        top1 = None
        for level in range(GUIDE_LEVEL + 1):
            feature, index = self._coarse(level)(maps[level], portrait.coarse[level], top1=level == GUIDE_LEVEL)
            aligned.append(feature)
            top1 = index if index is not None else top1
        assert top1 is not None
        copy_by = top1 if guide is None else guide.to(top1.device, torch.long)
        for level, pooled in enumerate(portrait.fine, start=GUIDE_LEVEL + 1):
            aligned.append(self._fine(level)(copy_by, pooled))
        frames = self.frame_decoder(aligned)
        return DecodedFrames(frames, adapted, maps, tuple(aligned), top1)

    def render(
        self,
        source: IMTalkerPortrait,
        track: MotionTrack,
        chunk_size: int = 8,
        *,
        precision: Precision = "float32",
        frames_per_pass: int | None = None,
    ) -> Iterator[torch.Tensor]:
        """Draw a motion track chunk by chunk: frame ``t`` of portrait ``b`` from ``track.latents[b, t]``.

        Args:
            source: encoded portraits, batch 1 (shared by every track of the batch) or ``track.batch``.
            track: ``(B, T, 32)`` motion latents (generated, or :meth:`encode_driving`'s).
            chunk_size: at most this many frames per yielded chunk.
            precision: ``"float32"`` (the official precision) or autocast to ``"bfloat16"`` / ``"float16"``.
            frames_per_pass: frames decoded together; default the whole chunk on GPUs, one on CPUs (where the
                4096-token attentions are bound by memory traffic and larger batches only add to it).

        Returns:
            An iterator of float32 ``(B, n, 3, 512, 512)`` chunks in ``[-1, 1]``, ``n <= chunk_size``. Arguments are
            checked when ``render`` is called; decoding happens as the iterator is consumed.
        """
        self._check_portrait(source)
        require(isinstance(track, MotionTrack), ShapeError, f"track must be a MotionTrack, got {type(track).__name__}.")
        require(
            track.dim == MOTION_DIM,
            ShapeError,
            f"track has latent dimension {track.dim} but IMTalker draws {MOTION_DIM}-d motion latents.",
        )
        require(
            source.batch in (1, track.batch),
            ShapeError,
            f"source has batch {source.batch} but the track has batch {track.batch}; give one portrait for all "
            f"tracks (batch 1) or one per track.",
        )
        require(
            isinstance(chunk_size, int) and chunk_size >= 1,
            ConfigError,
            f"chunk_size must be a positive integer, got {chunk_size!r}.",
        )
        if frames_per_pass is None:
            frames_per_pass = 1 if self.device.type == "cpu" else chunk_size
        require(
            isinstance(frames_per_pass, int) and frames_per_pass >= 1,
            ConfigError,
            f"frames_per_pass must be a positive integer, got {frames_per_pass!r}.",
        )
        require(
            precision in PRECISIONS,
            ConfigError,
            f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.",
        )
        return self._render_chunks(source, track, chunk_size, PRECISIONS[precision], frames_per_pass)

    @torch.no_grad()
    def _render_chunks(
        self, source: IMTalkerPortrait, track: MotionTrack, chunk_size: int, dtype: torch.dtype, frames_per_pass: int
    ) -> Iterator[torch.Tensor]:
        portraits = [source.select(b if source.batch > 1 else 0) for b in range(track.batch)]
        device = self.device
        autocast = (
            torch.autocast(device_type=device.type, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
        )
        for start in range(0, track.frames, chunk_size):
            latents = track.latents[:, start : start + chunk_size]
            chunk = []
            for portrait, rows in zip(portraits, latents):
                with autocast:
                    parts = [self._decode(portrait, part).frames.float() for part in rows.split(frames_per_pass)]
                chunk.append(torch.cat(parts))
            yield torch.stack(chunk).mul_(2).sub_(1)

    # ---------------------------------------------------------------------------------------------- checks

    def _dtype(self) -> torch.dtype:
        return self.adapt.in_layer.weight.dtype

    def _check_images(self, name: str, images: torch.Tensor) -> None:
        check_tensor(name, images, ndim=4, hint=f"Expected (batch, 3, {SIZE}, {SIZE}) RGB in [0, 1].")
        require(
            tuple(images.shape[1:]) == (3, SIZE, SIZE),
            ShapeError,
            f"{name} has shape {tuple(images.shape)}; IMTalker takes (batch, 3, {SIZE}, {SIZE}). Prepare images with "
            f"encode_portrait / encode_driving, which resize them.",
        )
        low, high = float(images.min()), float(images.max())
        require(
            low >= 0.0 and high <= 1.0,
            ShapeError,
            f"{name} has values in [{low:.3g}, {high:.3g}] but IMTalker takes RGB in [0, 1] (uint8 / 255).",
        )

    def _check_portrait(self, portrait: IMTalkerPortrait) -> None:
        require(
            isinstance(portrait, IMTalkerPortrait),
            ShapeError,
            f"the portrait must be an IMTalkerPortrait (from IMTalkerRenderer.encode), got {type(portrait).__name__}.",
        )


def _pixels(image: PortraitInput) -> ImageInput:
    """An image input as :func:`crop_portrait` takes it: tensors in ``[-1, 1]`` back to 8 bits by rounding."""
    if not isinstance(image, torch.Tensor):
        return image
    frame = image[0] if image.ndim == 4 and image.shape[0] == 1 else image
    check_tensor("image", frame, ndim=3, hint="Expected (3, H, W) or (1, 3, H, W) RGB in [-1, 1].")
    require(
        frame.shape[0] == 3,
        ImageError,
        f"a portrait tensor must be (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}.",
    )
    pixels = ((frame.detach().float().clamp(-1, 1) + 1) * (UINT8_MAX / 2)).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).cpu().numpy()


def _to_unit(pixels: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float32 ``u / 255`` (torchvision's ``ToTensor``)."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float().div_(UINT8_MAX)


__all__ = ["DecodedFrames", "IMTalkerPortrait", "IMTalkerRenderer"]
