"""Building blocks of the motion auto-encoder (StyleGAN2 "equalised learning rate" layers, as in LIA/FLOAT).

Module and parameter names follow the official FLOAT checkpoint (``conv1.0.weight``, ``conv2.1.weight``,
``activate.bias``, ``modulation.weight`` ...), so the official state dict loads without renaming. Weights are
stored unscaled and multiplied at run time by ``1/sqrt(fan_in)`` (equalised learning rate). FIR kernels and the
warping grid are non-persistent buffers built by the constructors, never read from a checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motionkit.renderer.ops import (
    LEAKY_RELU_GAIN,
    LEAKY_RELU_SLOPE,
    fir_kernel,
    fused_leaky_relu,
    pointwise_conv2d,
    upfirdn2d,
)
from motionkit.space import orthonormal_basis

DEMODULATION_EPS = 1e-8
"""Added to the squared weight norm before the reciprocal square root of weight demodulation (StyleGAN2)."""


class EqualConv2d(nn.Module):
    """Conv2d with run-time weight scaling: ``conv2d(x, W / sqrt(in * k^2)) + b``.

    Parameters: ``weight`` ``(out, in, k, k)`` (unscaled, N(0, 1) at init), ``bias`` ``(out,)`` if ``bias``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class EqualLinear(nn.Module):
    """Linear layer with run-time weight scaling: ``y = x (W / sqrt(in))^T + b``.

    Parameters: ``weight`` ``(out, in)`` (N(0, 1) at init), ``bias`` ``(out,)`` initialised to ``bias_init``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init))) if bias else None
        self.scale = 1.0 / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class FusedLeakyReLU(nn.Module):
    """``leaky_relu(x + b, 0.2) * sqrt(2)`` with a learned bias ``b`` of shape ``(1, C, 1, 1)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class Blur(nn.Module):
    """FIR low-pass filter ``upfirdn2d(x, k, pad=pad)``; ``k`` is scaled by ``upsample_factor^2``."""

    kernel: torch.Tensor

    def __init__(self, taps: Sequence[int], pad: tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel(taps, gain=upsample_factor**2), persistent=False)
        self.pad = pad

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad, bias=bias)


class Upsample(nn.Module):
    """2x FIR upsampling: zero insertion, kernel ``4 k``, padding ``((p+1)//2 + 1, p//2)`` with ``p = len(k) - 2``."""

    kernel: torch.Tensor

    def __init__(self, taps: Sequence[int], factor: int = 2) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel(taps, gain=factor**2), persistent=False)
        self.factor = factor
        p = len(taps) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ConvLayer(nn.Sequential):
    """``[Blur] -> EqualConv2d -> [FusedLeakyReLU]`` (Sequential indices are checkpoint key names).

    With ``downsample`` the blur pads ``((p+1)//2, p//2)``, ``p = len(taps) - 2 + k - 1``, and the convolution has
    stride 2 and no padding; otherwise the convolution pads ``k // 2``. The convolution has a bias only when there
    is no activation (whose bias takes its place).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        taps: Sequence[int] = (1, 3, 3, 1),
        downsample: bool = False,
        bias: bool = True,
        activate: bool = True,
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (len(taps) - 2) + (kernel_size - 1)
            layers.append(Blur(taps, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Downsampling residual block: ``y = (conv2(conv1(x)) + skip(x)) / sqrt(2)``, half the resolution."""

    def __init__(self, in_channels: int, out_channels: int, taps: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, taps)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, taps, downsample=True)
        self.skip = ConvLayer(in_channels, out_channels, 1, taps, downsample=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


WeightForm = Literal["auto", "per_sample", "shared"]
"""How a modulated convolution is evaluated (same math, different speed; see :class:`ModulatedConv2d`)."""


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution (StyleGAN2) with optional demodulation and 2x upsampling.

    For the style ``w`` of sample ``n``: ``s = modulation(w)`` ``(in,)``, the per-sample weight is
    ``W'[o, i] = W[o, i] s[i] / sqrt(in k^2)`` and, with demodulation, ``W'[o] <- W'[o] / sqrt(sum W'[o]^2 + 1e-8)``.
    Upsampling: transposed convolution with stride 2 and no padding, then a blur with kernel ``4 k``, pad (1, 1).
    ``forward`` can fuse an affine epilogue: it returns ``gain * conv(x) + bias``.

    Two evaluations of the same math (``weight_form``):

    * ``"per_sample"``: explicit per-sample weights ``W * (s d)`` and a grouped convolution (one group per
      sample), as the official code. No extra pass over the activations.
    * ``"shared"``: ``conv(x * s, W / sqrt(in k^2)) * d`` with ``d[o] = rsqrt(sum_i s[i]^2 ||W[o, i]||^2 / (in k^2)
      + 1e-8)``: one ordinary convolution for the whole batch and no per-sample weights.
    * ``"auto"`` (default): ``shared`` on GPUs and for channels-last batches of several samples; on CPUs
      ``per_sample`` where the weight is smaller than the activations (high resolutions), ``shared`` elsewhere.

    Both stay within the FLOAT parity tolerances; they differ in float32 rounding only.

    Parameters: ``weight`` ``(1, out, in, k, k)``, ``modulation`` = ``EqualLinear(style_dim, in, bias_init=1)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        taps: Sequence[int] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight_form: WeightForm = "auto"
        self._cache: dict[str, tuple[tuple[object, ...], torch.Tensor]] = {}
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        if upsample:
            factor = 2
            p = len(taps) - factor - (kernel_size - 1)
            self.blur = Blur(taps, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)

    def _per_sample(self, x: torch.Tensor) -> bool:
        if self.weight_form != "auto":
            return self.weight_form == "per_sample"
        if x.device.type != "cpu" or (x.shape[0] > 1 and not x.is_contiguous()):
            return False  # the grouped convolution needs (1, N*in, H, W), a copy for channels-last batches
        # per-sample weights cost about two passes over out*in*k^2 values per sample, the shared form a pass over
        # the input and one over the output activations: pick the smaller.
        out_pixels = x.shape[2] * x.shape[3] * (4 if self.upsample else 1)
        weight_cost = 2 * self.out_channels * self.in_channels * self.kernel_size**2
        return weight_cost <= self.in_channels * x.shape[2] * x.shape[3] + self.out_channels * out_pixels

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, *, gain: float = 1.0, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``gain * conv(x) + bias`` for ``x`` ``(N, in, H, W)``, ``style`` ``(N, style_dim)``, ``bias`` ``(out,)``.

        Returns ``(N, out, H', W')`` with ``H' = 2H`` when upsampling.
        """
        s = self.modulation(style) * self.scale  # (N, in), the equalised-LR scale folded in
        if self._per_sample(x):
            return self._forward_per_sample(x, s, gain, bias)
        return self._forward_shared(x, s, gain, bias)

    def _derived(self, name: str, make: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``make(weight)``, cached under ``name`` without autograd until the weight changes.

        In-place updates bump the tensor version, so decoding frame after frame neither re-reads the whole weight
        for its energy nor copies it into the layout a convolution wants (a 512 x 512 x 3 x 3 weight took 3.7 ms
        a copy, ten copies per 512 px frame). With autograd the value is computed afresh (differentiable).
        """
        if torch.is_grad_enabled() and self.weight.requires_grad:
            return make(self.weight)
        key = (self.weight._version, self.weight.data_ptr(), self.weight.dtype, self.weight.device)
        cached = self._cache.get(name)
        if cached is None or cached[0] != key:
            cached = (key, make(self.weight.detach()))
            self._cache[name] = cached
        return cached[1]

    def _energy(self) -> torch.Tensor:
        """``E[o, i] = sum_{kh,kw} W[o, i]^2`` ``(out, in)``."""
        return self._derived("energy", lambda weight: weight[0].square().sum(dim=(2, 3)))

    def _shared_weight(self, memory_format: torch.memory_format) -> torch.Tensor:
        """The shared form's weight in ``memory_format`` (the input's, which the convolution would copy it to):
        ``(out, in, k, k)``, or ``(in, out, k, k)`` for the transposed convolution of upsampling layers."""
        if self.upsample:
            return self._derived(
                f"transposed {memory_format}",
                lambda weight: weight[0].transpose(0, 1).contiguous(memory_format=memory_format),
            )
        return self._derived(
            f"weight {memory_format}", lambda weight: weight[0].contiguous(memory_format=memory_format)
        )

    def _demodulation(self, s: torch.Tensor) -> torch.Tensor:
        """``(N, out)`` factors ``rsqrt(sum_i s_i^2 E[o, i] + 1e-8)`` (``s`` already scaled by ``1/sqrt(in k^2)``)."""
        return torch.rsqrt(s.square() @ self._energy().transpose(0, 1).to(s.dtype) + DEMODULATION_EPS)

    def _forward_per_sample(
        self, x: torch.Tensor, s: torch.Tensor, gain: float, bias: torch.Tensor | None
    ) -> torch.Tensor:
        batch, in_channels, height, width = x.shape
        k = self.kernel_size
        factor = s.unsqueeze(1)  # (N, 1, in)
        if self.demodulate:
            factor = factor * (self._demodulation(s) * gain).unsqueeze(2)  # (N, out, in)
        elif gain != 1.0:
            factor = factor * gain
        weight = self.weight * factor[:, :, :, None, None].to(self.weight.dtype)  # (N, out, in, k, k)
        if k == 1:
            return pointwise_conv2d(x, weight.view(batch, self.out_channels, in_channels), bias)
        # One group per sample. A batch of one is convolved as is: reshaping it would rewrite its batch stride and
        # make the convolution see an ambiguous layout (and copy channels-last activations to NCHW).
        grouped = x if batch == 1 else x.reshape(1, batch * in_channels, height, width)
        if self.upsample:
            # contiguous: a strided weight also makes the convolution fall back to NCHW
            weight = weight.transpose(1, 2).reshape(batch * in_channels, self.out_channels, k, k).contiguous()
            out = F.conv_transpose2d(grouped, weight, stride=2, padding=0, groups=batch)
        else:
            weight = weight.view(batch * self.out_channels, in_channels, k, k)
            group_bias = bias if bias is None or batch == 1 else bias.repeat(batch)
            out = F.conv2d(grouped, weight, group_bias, padding=self.padding, groups=batch)
            bias = None  # added by the convolution
        if batch > 1:
            out = out.view(batch, self.out_channels, out.shape[2], out.shape[3])
        return self.blur(out, bias) if self.upsample else out

    def _forward_shared(self, x: torch.Tensor, s: torch.Tensor, gain: float, bias: torch.Tensor | None) -> torch.Tensor:
        modulated = x * s[:, :, None, None].to(x.dtype)  # the scale rides in s
        if self.kernel_size == 1:
            out = pointwise_conv2d(modulated, self.weight[0, :, :, 0, 0])
        else:
            channels_last = modulated.is_contiguous(memory_format=torch.channels_last)
            weight = self._shared_weight(torch.channels_last if channels_last else torch.contiguous_format)
            if self.upsample:
                out = F.conv_transpose2d(modulated, weight, stride=2, padding=0)
            else:
                out = F.conv2d(modulated, weight, padding=self.padding)
        if self.demodulate:
            out = out * (self._demodulation(s) * gain)[:, :, None, None].to(out.dtype)
        elif gain != 1.0:
            out = out * gain
        if self.upsample:
            return self.blur(out, bias)
        return out if bias is None else out + bias.view(1, -1, 1, 1).to(out.dtype)


class NoiseInjection(nn.Module):
    """``x + weight * noise``; identity when no noise is given (FLOAT never injects noise)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return x if noise is None else x + self.weight * noise


class StyledConv(nn.Module):
    """Demodulated ``ModulatedConv2d`` -> ``NoiseInjection`` -> ``FusedLeakyReLU``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        upsample: bool = False,
        taps: Sequence[int] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, style_dim, upsample=upsample, taps=taps)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is not None:
            return self.activate(self.noise(self.conv(x, style), noise))
        # leaky(z + b) * g == leaky(g z + g b) for g > 0: the bias and gain ride in the convolution's epilogue and
        # the activation runs in place on the fresh convolution output.
        out = self.conv(x, style, gain=LEAKY_RELU_GAIN, bias=self.activate.bias.view(-1) * LEAKY_RELU_GAIN)
        return F.leaky_relu(out, LEAKY_RELU_SLOPE, inplace=True)


class ConstantInput(nn.Module):
    """The learned ``(1, C, size, size)`` input of the decoder, broadcast over the batch."""

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class ToRGB(nn.Module):
    """RGB head: ``FusedLeakyReLU(conv1x1(x)) + bias`` (+ the 2x-upsampled previous RGB image if given)."""

    def __init__(self, in_channels: int, upsample: bool = True, taps: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(taps)
        self.conv = ConvLayer(in_channels, 3, 1, taps)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        conv, activate = cast(EqualConv2d, self.conv[0]), cast(FusedLeakyReLU, self.conv[1])
        out = fused_leaky_relu(pointwise_conv2d(x, conv.weight[:, :, 0, 0] * conv.scale), activate.bias) + self.bias
        return _add_upsampled_skip(out, self.upsample, skip) if skip is not None else out.float()


def _add_upsampled_skip(out: torch.Tensor, upsample: Upsample, skip: torch.Tensor) -> torch.Tensor:
    """``out + upsample(skip)`` in float32, also under autocast.

    The RGB image and the raw flow logits accumulate over all levels; in bfloat16 the flow offsets would lose
    about a pixel at 512 px, so the 3-channel skip path stays in float32 (it is cheap).
    """
    with torch.autocast(out.device.type, enabled=False):
        return out.float() + upsample(skip.float())


def identity_grid(size: int) -> torch.Tensor:
    """``(1, size, size, 2)`` grid with ``G[0, h, w] = (x_w, y_h)``, ``x = y = linspace(-1, 1, size)``.

    Computed in float64 (as numpy's ``linspace``) and rounded once to float32, like FLOAT's warping grid.
    """
    xs = np.linspace(-1.0, 1.0, size)
    grid = np.stack(np.meshgrid(xs, xs), axis=2)  # "xy" indexing: channel 0 varies along the width
    return torch.from_numpy(grid).float().unsqueeze(0)


class ToFlow(nn.Module):
    """Flow head: predicts a sampling offset and a mask and warps the encoder feature of its resolution.

    ``o = modconv1x1(x, w) + bias`` (not demodulated), plus the 2x-upsampled previous raw output if given;
    ``grid = tanh(o[:, :2]) + G`` (``G`` = :func:`identity_grid`), ``m = sigmoid(o[:, 2:3])``;
    ``warp = grid_sample(feature, grid, bilinear, zeros, align_corners=False) * m``.

    Returns ``(warp, warp + x * (1 - m), o, grid)``: the warped feature (for the RGB head), the blended main
    branch, the raw 3-channel output (the next level's skip) and the ``(N, H, W, 2)`` grid.
    """

    identity: torch.Tensor

    def __init__(self, in_channels: int, style_dim: int, size: int, taps: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.upsample = Upsample(taps)
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False, taps=taps)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.register_buffer("identity", identity_grid(size), persistent=False)

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor,
        feature: torch.Tensor,
        skip: torch.Tensor | None = None,
        blend: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """See the class docstring; with ``blend=False`` (last level) the blended branch is skipped (``None``)."""
        out = self.conv(x, style, bias=self.bias.view(-1))
        out = _add_upsampled_skip(out, self.upsample, skip) if skip is not None else out.float()
        # The offsets, mask and grid stay float32 under reduced precision (see _add_upsampled_skip).
        offset = torch.tanh(out[:, 0:2]).permute(0, 2, 3, 1)
        mask = torch.sigmoid(out[:, 2:3])
        grid = offset + self.identity.float()
        if feature.shape[0] != grid.shape[0]:
            feature = feature.expand(grid.shape[0], -1, -1, -1)
        warp = F.grid_sample(feature.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        warp = warp * mask
        # x * (1 - m) first so that the sum keeps x's memory layout (grid_sample returns NCHW even for
        # channels-last input); the in-place add is on a fresh temporary.
        blended = (x * (1 - mask).to(x.dtype)).add_(warp) if blend else None
        return warp, blended, out, grid


class Direction(nn.Module):
    """The motion basis: ``Q`` of ``qr(weight + 1e-8)`` (:func:`motionkit.space.orthonormal_basis`).

    ``forward(None)`` returns ``Q`` ``(D, M)``; ``forward(c)`` returns ``sum_m c_m q_m = c Q^T`` ``(..., D)``.
    Differentiable: the QR is recomputed from the raw ``weight`` ``(D, M)`` at every call.
    """

    def __init__(self, latent_dim: int, motion_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(latent_dim, motion_dim))

    def forward(self, coefficients: torch.Tensor | None = None) -> torch.Tensor:
        basis = orthonormal_basis(self.weight)
        if coefficients is None:
            return basis
        return coefficients @ basis.to(coefficients.dtype).T
