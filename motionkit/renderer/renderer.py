"""The Renderer: FLOAT's motion auto-encoder as one module — encode portraits, decode motion latents to frames.

Math (FLOAT/LIA): a portrait ``S`` is encoded to an identity latent ``w_id = E(S)`` (B, D), motion coefficients
``lambda = fc(w_id)`` (B, M) and skip features. The motion basis ``V = Q(qr(W_dir + 1e-8))`` (D, M) gives the
source motion ``r_s = V lambda``. A motion latent ``r`` (e.g. a frame of a :class:`~motionkit.MotionTrack`) is
rendered as ``frame = G(w_id + r, features)``: the sum is decoded as is (no re-projection onto the basis, no tanh,
no clamp). ``r = r_s`` reconstructs the portrait's own pose and expression.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import cast

import torch
from torch import nn

from motionkit.config import RendererConfig
from motionkit.errors import ConfigError, ImageError, MotionkitError, RenderError, ShapeError
from motionkit.face import Box, crop_portrait
from motionkit.io.image import PIXEL_CENTER, ImageInput, image_to_tensor
from motionkit.renderer.decoder import Synthesis, level_resolutions
from motionkit.renderer.encoder import MotionEncoder
from motionkit.renderer.layers import ConvLayer, EqualConv2d, FusedLeakyReLU, ToFlow, ToRGB
from motionkit.runtime import OneThreadWorkers, decode_workers
from motionkit.space import MotionSpace
from motionkit.types import MotionTrack, Precision, SourceFace
from motionkit.validation import check_tensor

PRECISIONS: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

IMAGE_RANGE_SLACK = 1e-4
"""Images may exceed [-1, 1] by this much (resampling round-off) before they are rejected."""
RGB_CHANNELS = 3
COPY_OFFSET = 2.0
"""Keeps RGB values in ``[-1, 1]`` inside the leaky ReLUs' linear range (:meth:`Renderer.init_source_copy`)."""

PortraitInput = ImageInput | torch.Tensor
"""A path, an ``(H, W, 3)`` array, a Pillow image, or a ``(3, H, W)`` / ``(1, 3, H, W)`` tensor in ``[-1, 1]``."""

DEFAULT_CONFIG = RendererConfig()

LOOKAHEAD_CHUNKS = 2
"""Chunks handed to the decode workers ahead of the one the caller receives: they decode chunk ``k + 1`` while the
caller writes chunk ``k`` (one more chunk of frames in memory)."""


class Renderer(nn.Module):
    """FLOAT's motion auto-encoder (``motion_autoencoder``): encoder ``enc`` and warping decoder ``dec``.

    Module names follow the official checkpoint, so :meth:`from_float_state_dict` only strips the
    ``motion_autoencoder.`` prefix and :meth:`float_state_dict` adds it back. ``state_dict()`` holds parameters
    only (FIR kernels and warping grids are rebuilt by the constructors).

    The forward pass (:meth:`forward`, :meth:`reconstruct`) is the differentiable auto-encoder used for training;
    :meth:`encode` and :meth:`render` are inference conveniences (no autograd graph).

    Args:
        config: layout (resolution, widths, latent and motion dimensions). The default is ``float-512``.
    """

    def __init__(self, config: RendererConfig = DEFAULT_CONFIG) -> None:
        super().__init__()
        self.config = config
        self.enc = MotionEncoder(config)
        self.dec = Synthesis(config)

    # ------------------------------------------------------------------------------------------- properties

    @property
    def space(self) -> MotionSpace:
        """The motion basis ``V = Q(qr(dec.direction.weight + 1e-8))`` as a :class:`MotionSpace` (detached)."""
        return MotionSpace.from_weight(self.dec.direction.weight)

    @property
    def device(self) -> torch.device:
        return self.dec.direction.weight.device

    @property
    def latent_dim(self) -> int:
        """Size ``D`` of the motion latents this renderer draws (the width of a track it renders)."""
        return self.config.latent_dim

    @property
    def resolutions(self) -> list[int]:
        """Resolutions of the skip features, coarse to fine (8 ... size)."""
        return level_resolutions(self.config)

    # ---------------------------------------------------------------------------------------------- training

    def forward(self, source_images: torch.Tensor, driving_images: torch.Tensor) -> torch.Tensor:
        """Auto-encoder reconstruction (LIA training path): the source's identity moved by the driver's motion.

        ``frame = G(E(S) + V fc(E(D)), features(S))`` for source images ``S`` and driving images ``D``, both
        ``(B, 3, size, size)`` in ``[-1, 1]``; returns ``(B, 3, size, size)``. Differentiable.
        """
        return self.autoencode(source_images, driving_images)[0]

    def reconstruct(self, source_images: torch.Tensor, driving_images: torch.Tensor) -> torch.Tensor:
        """Same as calling the module: see :meth:`forward`."""
        return self(source_images, driving_images)

    def autoencode(
        self,
        source_images: torch.Tensor,
        driving_images: torch.Tensor,
        forced: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` that also returns the driving images' motion coefficients ``lambda = fc(E(D))``.

        Args:
            source_images, driving_images: ``(B, 3, size, size)`` in ``[-1, 1]``.
            forced: optional teacher forcing ``(values (B, P), rows (B,) bool)``: in the selected rows the decoder
                gets ``values`` in place of the first ``P`` coefficients (e.g. the driving frame's known pose).

        Returns ``(frames (B, 3, size, size), coefficients (B, M))``, both differentiable; the coefficients are the
        encoder's (also in forced rows), so losses on them (e.g. supervision of known pose parameters) need no
        second encoder pass.
        """
        self._check_images("source_images", source_images)
        self._check_images("driving_images", driving_images)
        if source_images.shape[0] != driving_images.shape[0]:
            raise ShapeError(
                f"source_images has batch {source_images.shape[0]} but driving_images has batch "
                f"{driving_images.shape[0]}; pair every source with one driving image."
            )
        source = self.enc(source_images)
        driving_coefficients = self.enc.fc(self.enc.net_app(driving_images)[0])
        decoded = driving_coefficients
        if forced is not None:
            values, rows = forced
            known = values.shape[-1]
            if values.shape != (driving_coefficients.shape[0], known) or not 1 <= known <= self.config.motion_dim:
                raise ShapeError(
                    f"forced values must have shape (B, P) with B = {driving_coefficients.shape[0]} and "
                    f"1 <= P <= motion_dim = {self.config.motion_dim}, got {tuple(values.shape)}."
                )
            replaced = torch.cat([values.to(decoded.dtype), decoded[:, known:]], dim=1)
            decoded = torch.where(rows.reshape(-1, 1), replaced, decoded)
        latent = source.identity + self.dec.direction(decoded)
        frames, _ = self.dec(latent, source.features)
        return frames, driving_coefficients

    def init_identity_warps(self) -> Renderer:
        """Zero the flow heads' convolution weights so that every warp starts as the identity grid (offsets 0,
        mask 1/2), the initialisation for training from scratch; returns ``self``.

        LIA's random initialisation starts with offsets of ``tanh(O(1))``, tens of pixels, which training must
        first undo; in short runs the decoder instead learns to ignore its finest skip features and reconstructs
        blurred faces (measured on the synthetic world at 64 px after 800 steps: reconstruction L1 0.061 with this
        initialisation, 0.074 without, and no face the analyzer can measure without it; by 4500 steps both reached
        the same loss, see docs/demo-model.md). The gradients of the
        zeroed weights are not zero (they are the modulated input times the gradient of the offsets), so the warps
        still learn. Official weights loaded later replace these values; the architecture is unchanged.
        """
        with torch.no_grad():
            for head in self.dec.to_flows:
                assert isinstance(head, ToFlow)
                head.conv.weight.zero_()
        return self

    def init_source_copy(self) -> Renderer:
        """Start as a renderer that copies its source: :meth:`init_identity_warps`, and the RGB path set so that
        every decoded frame equals the source portrait (up to FLOAT's half-pixel identity grid); returns ``self``.

        The encoder's first layer passes RGB through its first three channels in the linear range of its leaky
        ReLU, ``f_c = sqrt(2) (x_c + b)`` with ``b =`` :data:`COPY_OFFSET`; the finest level's warp halves it (mask
        1/2); the finest RGB head reads it back with weight 1, ``y_c = (x_c + b) / sqrt(2) > 0``, so its output
        ``sqrt(2) y_c - b = x_c``; every coarser RGB head starts at zero. Training then only has to learn what
        moves (warps, masks) and what is new (coarser levels), instead of first learning to reproduce the face: in
        1500 steps on the synthetic world this reconstructs sharp faces that follow the driver's yaw, where the
        random or identity-warp start is still blurred (docs/demo-model.md). Where a mask closes, the frame shows
        the finest head's bias ``-b`` (black) plus the coarser levels, which is how new dark content (an opening
        mouth) can appear. Needs ``channels(size) >= 3``.
        """
        self.init_identity_warps()
        first = cast(ConvLayer, self.enc.net_app.convs[0])
        conv, activation = cast(EqualConv2d, first[0]), cast(FusedLeakyReLU, first[1])
        finest = cast(ToRGB, self.dec.to_rgbs[-1])
        read_conv = cast(EqualConv2d, finest.conv[0])
        if conv.weight.shape[0] < RGB_CHANNELS:
            raise ConfigError(f"the source-copy initialisation needs >= {RGB_CHANNELS} channels at full resolution.")
        eye = torch.eye(RGB_CHANNELS)
        with torch.no_grad():
            conv.weight[:RGB_CHANNELS].zero_()
            conv.weight[:RGB_CHANNELS, :, 0, 0] = eye / conv.scale
            activation.bias.view(-1)[:RGB_CHANNELS] = COPY_OFFSET
            for head in self.dec.to_rgbs:
                rgb = cast(ToRGB, head)
                cast(EqualConv2d, rgb.conv[0]).weight.zero_()
                cast(FusedLeakyReLU, rgb.conv[1]).bias.zero_()
                rgb.bias.zero_()
            read_conv.weight[:, :RGB_CHANNELS, 0, 0] = eye / read_conv.scale
            finest.bias.fill_(-COPY_OFFSET)
        return self

    # --------------------------------------------------------------------------------------------- inference

    @torch.no_grad()
    def encode(self, images: torch.Tensor, *, channels_last: bool = True) -> SourceFace:
        """Encode prepared portraits.

        Args:
            images: ``(B, 3, size, size)`` RGB in ``[-1, 1]`` (see :func:`motionkit.io.image_to_tensor` and
                :func:`motionkit.face.crop_portrait`).
            channels_last: run the encoder in channels-last memory layout (faster on CPUs and GPUs); the skip
                features then keep that layout, which is what :meth:`decode` uses by default.

        Returns:
            :class:`SourceFace` with identity ``(B, D)``, coefficients ``(B, M)``, motion ``r_s`` ``(B, D)`` and
            the skip features coarse to fine; ``image`` is the input tensor.
        """
        self._check_images("images", images)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        out = self.enc(images.to(self.device).contiguous(memory_format=memory_format))
        motion = self.dec.direction(out.coefficients)
        return SourceFace(
            identity=out.identity,
            coefficients=out.coefficients,
            motion=motion,
            features=out.features,
            image=images,
        )

    def encode_portrait(
        self, image: PortraitInput, *, crop: bool = True, box: Box | Sequence[float] | None = None
    ) -> SourceFace:
        """Prepare and encode one portrait: FLOAT's face crop (``crop=False``: resize the whole image; ``box``: crop
        around a given face box instead of detecting one; without ``box`` the face-box file beside an image path is
        used when there is one, see :mod:`motionkit.face.box`), ``(u - 127.5) / 127.5``, then :meth:`encode`.

        Args:
            image: a path, an ``(H, W, 3)`` uint8 array, a Pillow image, or a ``(3, H, W)`` / ``(1, 3, H, W)``
                tensor in ``[-1, 1]``.
        """
        if isinstance(image, torch.Tensor):
            frame = check_tensor("image", image[0] if image.ndim == 4 and image.shape[0] == 1 else image, ndim=3)
            if frame.shape[0] != RGB_CHANNELS:
                raise ImageError(f"a portrait tensor must be (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}.")
            size = self.config.size
            if not crop and box is None and tuple(frame.shape[1:]) == (size, size):
                return self.encode(frame[None].to(self.device, torch.float32))
            # back to 8 bits by rounding, which inverts image_to_tensor exactly (truncation would not)
            image = ((frame.detach().float().clamp(-1, 1) + 1) * PIXEL_CENTER).round().to(torch.uint8)
            image = image.permute(1, 2, 0).cpu().numpy()
        prepared = crop_portrait(image, self.config.size, box=box, crop=crop)
        return self.encode(image_to_tensor(prepared).to(self.device))

    def frame_shape(self, portrait: SourceFace) -> tuple[int, int]:
        """``(height, width)`` of the frames drawn for ``portrait``: the model's square resolution."""
        return (self.config.size, self.config.size)

    def decode(
        self,
        source: SourceFace,
        latents: torch.Tensor,
        *,
        precision: Precision = "float32",
        channels_last: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode motion latents of one source: ``frame_n = G(identity + latents[n], features)``.

        Args:
            source: an encoded portrait of batch 1 (shared by all ``N`` latents, features are not copied) or of
                batch ``N`` (one source per latent).
            latents: ``(N, D)`` motion latents (FLOAT: ``r_d[t]``, or ``source.motion`` to reconstruct).
            precision: ``"float32"`` (FLOAT's precision) or autocast to ``"bfloat16"`` / ``"float16"``.
            channels_last: run the convolutions in channels-last memory layout (default; 2-3x faster convolutions,
                blurs and warps on CPUs at high resolution, and the layout tensor cores want on GPUs).

        Returns:
            ``(frames (N, 3, size, size), grid (N, 64, 64, 2))`` in float32; frames are not clamped. Differentiable
            (wrap in ``torch.no_grad()`` for inference, as :meth:`render` does).
        """
        self._check_source(source)
        check_tensor("latents", latents, ndim=2, last_dim=self.config.latent_dim, hint="Expected (frames, dim).")
        if source.batch not in (1, latents.shape[0]):
            raise ShapeError(
                f"source has batch {source.batch} but {latents.shape[0]} latents were given; decode the latents "
                f"of one source at a time (batch 1) or give one latent per source."
            )
        dtype = PRECISIONS.get(precision)
        if dtype is None:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
        device = self.device
        latent = source.identity.to(device) + latents.to(device)
        features = _prepare_features(source, device, channels_last)
        autocast = (
            torch.autocast(device_type=device.type, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
        )
        with autocast:
            frames, grid = self.dec(latent, features, channels_last=channels_last)
        return frames.float(), grid.float()

    def render(
        self,
        source: SourceFace,
        track: MotionTrack,
        chunk_size: int = 8,
        *,
        precision: Precision = "float32",
        channels_last: bool = True,
        frames_per_pass: int | None = None,
        workers: int | None = None,
    ) -> Iterator[torch.Tensor]:
        """Render a motion track in chunks of consecutive frames.

        Frame ``t`` of portrait ``b`` is ``G(identity[b] + track.latents[b, t], features[b])``. Chunks are decoded
        lazily, one at a time, so peak memory is set by ``chunk_size`` (frames decoded together), not by the
        length of the track.

        Args:
            source: encoded portraits, batch 1 (shared by every track in the batch) or ``track.batch``.
            track: ``(B, T, D)`` motion latents.
            chunk_size: at most this many frames per chunk (per portrait).
            precision, channels_last: see :meth:`decode`.
            frames_per_pass: frames decoded together in one decoder pass. Default: the whole chunk on GPUs, one
                frame on CPUs, where full-resolution activations are memory-bound and larger batches are slower.
            workers: decoder passes run side by side, each on a thread of its own with one intra-op thread
                (:class:`motionkit.runtime.OneThreadWorkers`). Default :func:`motionkit.runtime.decode_workers`:
                torch's intra-op thread count on a CPU, 1 on a GPU. Every pass is decoded exactly as alone, so the
                frames do not depend on it; 1 decodes on the calling thread.

        Returns:
            An iterator of float32 ``(B, n, 3, size, size)`` chunks, ``n <= chunk_size``, in time order (not
            clamped). Arguments are checked when ``render`` is called; decoding happens as the iterator is consumed,
            with workers up to :data:`LOOKAHEAD_CHUNKS` chunks ahead of it.

        Raises:
            RenderError: a decode worker failed (the message names the frames; the original error is its cause).
                A failure, or closing the iterator early, stops the workers: none outlives the iterator.
        """
        self._check_source(source)
        if not isinstance(track, MotionTrack):
            raise ShapeError(f"track must be a MotionTrack, got {type(track).__name__}.")
        if track.dim != self.config.latent_dim:
            raise ShapeError(
                f"track has latent dimension {track.dim} but this renderer decodes {self.config.latent_dim}-d latents."
            )
        if source.batch not in (1, track.batch):
            raise ShapeError(
                f"source has batch {source.batch} but the track has batch {track.batch}; give one source for all "
                f"tracks (batch 1) or one per track."
            )
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
        if frames_per_pass is None:
            frames_per_pass = 1 if self.device.type == "cpu" else chunk_size
        if not isinstance(frames_per_pass, int) or frames_per_pass < 1:
            raise ConfigError(f"frames_per_pass must be a positive integer, got {frames_per_pass!r}.")
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
        if workers is None:
            workers = decode_workers(self.device)
        if not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"workers must be a positive integer (1: decode on the calling thread), got {workers!r}.")
        passes = track.batch * -(-track.frames // frames_per_pass)
        workers = min(workers, passes)
        chunks = _ChunkPlan(self, source, track, chunk_size, precision, channels_last, frames_per_pass)
        return chunks.serial() if workers == 1 else chunks.parallel(workers)

    # ---------------------------------------------------------------------------------------------- checks

    def _check_images(self, name: str, images: torch.Tensor) -> None:
        size = self.config.size
        layout = f"Expected (batch, 3, {size}, {size}) RGB in [-1, 1]."
        check_tensor(name, images, ndim=4, hint=layout)
        if tuple(images.shape[1:]) != (3, size, size):
            raise ShapeError(
                f"{name} has shape {tuple(images.shape)}; this renderer takes (batch, 3, {size}, {size}). Prepare "
                f"portraits with motionkit.face.crop_portrait(image, size={size}) and "
                f"motionkit.io.image_to_tensor."
            )
        low, high = float(images.min()), float(images.max())
        if low < -1.0 - IMAGE_RANGE_SLACK or high > 1.0 + IMAGE_RANGE_SLACK:
            raise ShapeError(
                f"{name} has values in [{low:.3g}, {high:.3g}] but must be in [-1, 1]; convert uint8 images with "
                f"motionkit.io.image_to_tensor ((x - 127.5) / 127.5)."
            )

    def _check_source(self, source: SourceFace) -> None:
        if not isinstance(source, SourceFace):
            raise ShapeError(f"source must be a SourceFace (from Renderer.encode), got {type(source).__name__}.")
        expected = [(self.config.channels(r), r, r) for r in self.resolutions]
        actual = [tuple(f.shape[1:]) for f in source.features]
        if actual != expected or any(f.shape[0] != source.batch for f in source.features):
            raise ShapeError(
                f"source features have shapes {[tuple(f.shape) for f in source.features]} but this renderer needs "
                f"(batch, C, r, r) = {expected} (coarse to fine); encode the portrait with this renderer."
            )
        check_tensor("source.identity", source.identity, ndim=2, last_dim=self.config.latent_dim)


class _ChunkPlan:
    """The decoder passes of :meth:`Renderer.render`: chunk by chunk, portrait by portrait, ``frames_per_pass``
    frames each, decoded on the calling thread (:meth:`serial`) or by workers (:meth:`parallel`), same frames."""

    def __init__(
        self,
        renderer: Renderer,
        source: SourceFace,
        track: MotionTrack,
        chunk_size: int,
        precision: Precision,
        channels_last: bool,
        frames_per_pass: int,
    ) -> None:
        self.renderer = renderer
        self.source = source
        self.track = track
        self.chunk_size = chunk_size
        self.precision: Precision = precision
        self.channels_last = channels_last
        self.frames_per_pass = frames_per_pass

    def _portraits(self) -> list[SourceFace]:
        prepared = replace(
            self.source, features=_prepare_features(self.source, self.renderer.device, self.channels_last)
        )
        return [_select(prepared, b if self.source.batch > 1 else 0) for b in range(self.track.batch)]

    def _passes(self, start: int) -> list[list[torch.Tensor]]:
        """The latents of the chunk starting at frame ``start``, per portrait, split into passes."""
        latents = self.track.latents[:, start : start + self.chunk_size]
        return [list(latents[b].split(self.frames_per_pass)) for b in range(self.track.batch)]

    @torch.no_grad()
    def _decode(self, portrait: SourceFace, latents: torch.Tensor) -> torch.Tensor:
        # no_grad here, not only around the caller: grad mode is per thread and a worker starts with it on
        return self.renderer.decode(portrait, latents, precision=self.precision, channels_last=self.channels_last)[0]

    def serial(self) -> Iterator[torch.Tensor]:
        portraits = self._portraits()
        for start in range(0, self.track.frames, self.chunk_size):
            yield torch.stack(
                [
                    torch.cat([self._decode(portrait, part) for part in parts])
                    for portrait, parts in zip(portraits, self._passes(start), strict=True)
                ]
            )

    def parallel(self, workers: int) -> Iterator[torch.Tensor]:
        portraits = self._portraits()
        starts = iter(range(0, self.track.frames, self.chunk_size))
        pending: deque[tuple[int, list[list[Future[torch.Tensor]]]]] = deque()
        with OneThreadWorkers(workers, name="motionkit-decode") as pool:

            def submit_next() -> None:
                start = next(starts, None)
                if start is not None:
                    futures = [
                        [pool.submit(self._decode, portrait, part) for part in parts]
                        for portrait, parts in zip(portraits, self._passes(start), strict=True)
                    ]
                    pending.append((start, futures))

            for _ in range(LOOKAHEAD_CHUNKS):
                submit_next()
            while pending:
                start, futures = pending.popleft()
                last = min(start + self.chunk_size, self.track.frames) - 1
                frames = torch.stack([torch.cat([_result(f, start, last) for f in row]) for row in futures])
                submit_next()
                yield frames


def _result(future: Future[torch.Tensor], first: int, last: int) -> torch.Tensor:
    """A worker's frames, or its failure as a :class:`RenderError` (motionkit's own errors pass unchanged)."""
    try:
        return future.result()
    except MotionkitError:
        raise
    except Exception as error:
        raise RenderError(
            f"decoding frames {first}-{last} failed in a decode worker: "
            f"{type(error).__name__}: {error}. Render with workers=1 to decode on the calling thread."
        ) from error


def _select(source: SourceFace, index: int) -> SourceFace:
    """Portrait ``index`` of a batch, as a batch-1 :class:`SourceFace` (views, no copies)."""
    keep = slice(index, index + 1)
    return replace(
        source,
        identity=source.identity[keep],
        coefficients=source.coefficients[keep],
        motion=source.motion[keep],
        features=tuple(f[keep] for f in source.features),
        image=None if source.image is None else source.image[keep],
    )


def _prepare_features(source: SourceFace, device: torch.device, channels_last: bool) -> tuple[torch.Tensor, ...]:
    """The skip features on ``device`` in the requested memory layout (no copy when they already are)."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return tuple(f.to(device).contiguous(memory_format=memory_format) for f in source.features)
