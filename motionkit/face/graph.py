"""A converted TFLite network as a PyTorch module: a list of typed operations over numbered tensors.

MediaPipe's face models are plain feed-forward convolution graphs (BlazeFace, the face-mesh network, the selfie
segmenter); the attention face mesh adds three MediaPipe operators that crop its own feature map around the mouth and
each eye (:mod:`motionkit.face.attention`). :mod:`motionkit.face.convert` reads each ``.tflite`` file once and stores
its operations (:class:`Op`, as JSON in the safetensors header) and its constant tensors (already in PyTorch's
layouts). :class:`OpNet` runs them in NCHW on any device and dtype, batched.

TFLite works in NHWC; here every 4-D activation is NCHW (stored channels-last in memory, which oneDNN's CPU
convolutions prefer), so an axis argument (concatenation) is mapped through
:data:`NHWC_TO_NCHW`, and a reshape first returns to NHWC so that flattening orders elements as TFLite does.
TFLite's ``SAME`` padding puts the odd extra row/column after the data (bottom/right); :func:`same_padding`
computes it explicitly instead of relying on PyTorch's symmetric padding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from motionkit.face.attention import landmarks_to_transform, transform_landmarks, transform_tensor_bilinear

NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}
"""TFLite's axis of a 4-D NHWC tensor -> the same axis of the NCHW tensor."""

ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH")
"""TFLite's fused activation functions, by their enum value."""

OP_KINDS = (
    "conv",
    "depthwise",
    "transpose_conv",
    "add",
    "mul",
    "pad",
    "max_pool",
    "avg_pool",
    "reshape",
    "concat",
    "relu",
    "prelu",
    "hard_swish",
    "sigmoid",
    "resize_bilinear",
    "depth_to_space",
    "landmarks_to_transform",
    "transform_tensor_bilinear",
    "transform_landmarks",
)
"""The operations :class:`OpNet` runs (the converter rejects any other)."""


@dataclass(frozen=True)
class Op:
    """One operation of a converted network.

    ``inputs``/``output`` are TFLite tensor indices; ``weights`` names the constant tensors the op reads (keys of the
    weights file, in PyTorch layout). ``stride``/``size``/``dilation`` are (height, width); ``padding`` is
    ``"SAME"`` or ``"VALID"`` for convolutions and pools, ``pads`` the explicit (top, bottom, left, right, channel
    before, channel after) of a PAD op, ``shape`` the target shape of a reshape (TFLite's, batch included), ``axis``
    the NHWC axis of a concatenation, ``align_corners``/``half_pixel`` the resize mode, ``block`` the
    depth-to-space block size. ``indices`` (the landmarks that frame a region), ``pair`` (the two landmarks whose line
    sets its angle) and ``scale`` (its size over the landmarks' extent, x and y) belong to ``landmarks_to_transform``,
    whose output grid is ``size``; ``transform_tensor_bilinear`` samples a ``size`` grid.
    """

    kind: str
    inputs: tuple[int, ...]
    output: int
    weights: tuple[str, ...] = ()
    activation: str = "NONE"
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    size: tuple[int, int] = (1, 1)
    padding: str = "VALID"
    pads: tuple[int, ...] = ()
    shape: tuple[int, ...] = ()
    axis: int = 0
    align_corners: bool = False
    half_pixel: bool = False
    block: int = 1
    indices: tuple[int, ...] = ()
    pair: tuple[int, int] = (0, 0)
    scale: tuple[float, float] = (1.0, 1.0)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Op:
        """The op from its :meth:`to_json` form (lists become tuples)."""
        fixed = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        return cls(**fixed)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict of the fields that differ from the defaults."""
        defaults = Op(kind=self.kind, inputs=self.inputs, output=self.output)
        return {k: v for k, v in asdict(self).items() if k in ("kind", "inputs", "output") or v != getattr(defaults, k)}


def ops_to_json(ops: Sequence[Op]) -> str:
    """The op list as one JSON string (the safetensors header stores strings)."""
    return json.dumps([op.to_json() for op in ops], separators=(",", ":"))


def ops_from_json(text: str) -> list[Op]:
    """The op list of :func:`ops_to_json`."""
    return [Op.from_json(item) for item in json.loads(text)]


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite's ``SAME`` padding of one spatial axis: (before, after), the odd pixel after.

    ``out = ceil(size / stride)``; ``total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)``.
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _activate(x: torch.Tensor, name: str) -> torch.Tensor:
    if name == "NONE":
        return x
    if name == "RELU":
        return F.relu(x)
    if name == "RELU6":
        return x.clamp(0.0, 6.0)
    if name == "RELU_N1_TO_1":
        return x.clamp(-1.0, 1.0)
    if name == "TANH":
        return torch.tanh(x)
    raise ValueError(f"unknown fused activation {name!r}; expected one of {ACTIVATIONS}")


def _pad_same(
    x: torch.Tensor, op: Op, kernel: tuple[int, int], value: float = 0.0
) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` padded for TFLite's SAME rule, and the symmetric padding left for the convolution to apply.

    Symmetric padding (stride 1, odd kernels) is left to the convolution (no copy); only the asymmetric remainder
    (the extra bottom/right row of stride 2) is padded here.
    """
    if op.padding != "SAME":
        return x, (0, 0)
    top, bottom = same_padding(x.shape[2], kernel[0], op.stride[0], op.dilation[0])
    left, right = same_padding(x.shape[3], kernel[1], op.stride[1], op.dilation[1])
    if value == 0.0 and top == bottom and left == right:
        return x, (top, left)
    return F.pad(x, (left, right, top, bottom), value=value), (0, 0)


def _to_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1) if x.ndim == 4 else x


class OpNet(nn.Module):
    """A converted TFLite network: ``forward(x)`` with ``x`` (B, C, H, W) -> the outputs in TFLite's layout.

    Args:
        ops: the operations in execution order (TFLite's order is topological).
        weights: name -> constant tensor in PyTorch layout (conv ``(out, in, kh, kw)``, depthwise
            ``(C, 1, kh, kw)``, transpose conv ``(in, out, kh, kw)``, per-channel vectors ``(C,)``); stored as
            buffers, so ``.to(device, dtype)`` moves them.
        inputs: the TFLite index of the input tensor.
        outputs: the TFLite indices of the outputs, in TFLite's order.

    Each output comes back as TFLite's interpreter returns it, batch first: 4-D outputs in NHWC, reshaped ones as
    reshaped.
    """

    def __init__(self, ops: Sequence[Op], weights: Mapping[str, torch.Tensor], inputs: int, outputs: Sequence[int]):
        super().__init__()
        for op in ops:
            if op.kind not in OP_KINDS:
                raise ValueError(f"operation {op.kind!r} is not one OpNet runs ({', '.join(OP_KINDS)})")
        self.ops = list(ops)
        self.input_index = inputs
        self.output_indices = list(outputs)
        for name, tensor in weights.items():
            value = tensor.float()
            if value.ndim == 4:  # channels-last kernels pair with channels-last activations (faster on CPU, oneDNN)
                value = value.contiguous(memory_format=torch.channels_last)
            self.register_buffer(name, value, persistent=True)

    def weight(self, name: str) -> torch.Tensor:
        """The constant tensor ``name`` (read straight from the buffers: ``get_buffer``'s checks cost more than a
        small convolution's arithmetic, ~100 lookups per landmark forward)."""
        return self._buffers[name]  # type: ignore[return-value]  # registered in __init__, never None

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Run the network on ``x`` (B, C, H, W); returns the outputs (see the class docstring)."""
        values: dict[int, torch.Tensor] = {self.input_index: x.contiguous(memory_format=torch.channels_last)}
        for op in self.ops:
            values[op.output] = self._run(op, [values[i] for i in op.inputs])
        return [_to_nhwc(values[i]) for i in self.output_indices]

    def _run(self, op: Op, args: list[torch.Tensor]) -> torch.Tensor:
        x = args[0]
        w = [self.weight(name) for name in op.weights]
        if w and w[0].dtype != x.dtype:
            w = [t.to(x.dtype) for t in w]
        kind = op.kind
        if kind in ("conv", "depthwise"):
            kernel = (w[0].shape[2], w[0].shape[3])
            x, padding = _pad_same(x, op, kernel)
            groups = x.shape[1] if kind == "depthwise" else 1
            y = F.conv2d(x, w[0], w[1] if len(w) > 1 else None, op.stride, padding, op.dilation, groups)
            return _activate(y, op.activation)
        if kind == "transpose_conv":
            y = F.conv_transpose2d(x, w[0], w[1] if len(w) > 1 else None, op.stride)
            if op.padding == "SAME":  # output = input * stride; the full output's extra rows are cut, odd one after
                out_h, out_w = x.shape[2] * op.stride[0], x.shape[3] * op.stride[1]
                top, left = (y.shape[2] - out_h) // 2, (y.shape[3] - out_w) // 2
                y = y[:, :, top : top + out_h, left : left + out_w]
            return _activate(y, op.activation)
        if kind in ("add", "mul"):
            other = args[1] if len(args) > 1 else w[0]
            y = x + other if kind == "add" else x * other
            return _activate(y, op.activation)
        if kind == "pad":
            top, bottom, left, right, before, after = op.pads
            return F.pad(x, (left, right, top, bottom, before, after))
        if kind == "max_pool":
            x = _pad_same(x, op, op.size, value=-math.inf)[0]
            (kh, kw), (h, wd) = op.size, x.shape[2:]
            if op.stride == op.size and h % kh == 0 and wd % kw == 0:
                # Non-overlapping tiles: the maximum of kh * kw strided views (10x faster than max_pool2d on CPU).
                y = x[:, :, ::kh, ::kw]
                for i in range(kh):
                    for j in range(kw):
                        if i or j:
                            y = torch.maximum(y, x[:, :, i::kh, j::kw])
            else:
                y = F.max_pool2d(x, op.size, op.stride)
            return _activate(y, op.activation)
        if kind == "avg_pool":
            if op.padding == "SAME" and any(
                same_padding(x.shape[2 + a], op.size[a], op.stride[a]) != (0, 0) for a in (0, 1)
            ):
                raise ValueError("average pooling with non-zero SAME padding is not supported")
            return _activate(F.avg_pool2d(x, op.size, op.stride), op.activation)
        if kind == "reshape":
            y = _to_nhwc(x).reshape(x.shape[0], *op.shape[1:])
            return y.permute(0, 3, 1, 2) if y.ndim == 4 else y  # a 4-D result is NHWC data: back to NCHW
        if kind == "landmarks_to_transform":
            return landmarks_to_transform(x, op.indices, op.pair, op.size, op.scale)
        if kind == "transform_tensor_bilinear":
            return transform_tensor_bilinear(x, args[1], op.size)
        if kind == "transform_landmarks":
            return transform_landmarks(x, args[1])
        if kind == "concat":
            axis = NHWC_TO_NCHW[op.axis] if args[0].ndim == 4 else op.axis
            return _activate(torch.cat(args, dim=axis), op.activation)
        if kind == "relu":
            return F.relu(x)
        if kind == "prelu":
            return F.prelu(x, w[0])
        if kind == "hard_swish":
            return F.hardswish(x)
        if kind == "sigmoid":
            return torch.sigmoid(x)
        if kind == "resize_bilinear":
            return self._resize(x, op)
        # depth_to_space: TFLite orders the depth as (block row, block column, channel); PyTorch's pixel_shuffle
        # would read it as (channel, block row, block column).
        b, c, h, wd = x.shape
        k = op.block
        y = x.reshape(b, k, k, c // (k * k), h, wd).permute(0, 3, 4, 1, 5, 2)
        return y.reshape(b, c // (k * k), h * k, wd * k)

    @staticmethod
    def _resize(x: torch.Tensor, op: Op) -> torch.Tensor:
        size = (op.shape[1], op.shape[2])
        if op.align_corners or op.half_pixel:
            return F.interpolate(x, size=size, mode="bilinear", align_corners=op.align_corners)
        # TFLite's legacy mode (no half-pixel shift) has no PyTorch equivalent and no MediaPipe face model uses it.
        raise ValueError("bilinear resizing without align_corners or half_pixel_centers is not supported")
