"""Convert MediaPipe's face ``.tflite`` models into the safetensors files shipped in ``motionkit/face/assets``.

Run once per MediaPipe release (the result is committed)::

    pip download --no-deps mediapipe==0.10.21 -d wheels
    python -m motionkit.face.convert wheels/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl

The source is a MediaPipe wheel (any platform's: the models are the same bytes) or an installed ``mediapipe``
package folder. The ``.tflite`` flatbuffers are parsed with the ``tflite`` package (no TensorFlow): each operator
becomes an :class:`~motionkit.face.graph.Op`, each constant tensor is moved to PyTorch's layout. ``DEQUANTIZE`` ops
(float16 weights -> float32) are folded: the float16 tensor is stored and widened when loaded, exactly as the TFLite
interpreter does. The attention face mesh's three MediaPipe operators (:mod:`motionkit.face.attention`) are read with
their FlexBuffer options. The wheel's Apache-2.0 licence is copied beside the weights with a NOTICE and
``provenance.json`` (wheel version, name and sha256, and each ``.tflite``'s sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionkit.errors import CheckpointError
from motionkit.face.graph import ACTIVATIONS, Op, ops_to_json
from motionkit.face.weights import ASSETS, MEDIAPIPE_VERSION, MODEL_FILES, PROVENANCE
from motionkit.io.files import make_folder
from motionkit.io.tensors import write_tensors

LICENSE_MEMBER = f"mediapipe-{MEDIAPIPE_VERSION}.dist-info/LICENSE"
"""The Apache-2.0 licence file inside the wheel."""

NOTICE = """motionkit/face/assets: face detection, face landmark (with and without attention) and selfie segmentation
models

These files are converted from the TensorFlow Lite models bundled in MediaPipe {version}
(https://github.com/google-ai-edge/mediapipe), Copyright The MediaPipe Authors, licensed under the Apache License,
Version 2.0 (LICENSE in this folder). Modifications: the weights were read from the .tflite files and stored in
safetensors in PyTorch's tensor layouts (float16 weights kept as float16); the network structure is recorded as an
operation list. No weight was changed. provenance.json lists the source wheel and the sha256 of every source file.
"""

PADDINGS = ("SAME", "VALID")
"""TFLite's padding enum values."""

_NUMPY_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}
"""TFLite tensor type enum -> numpy dtype (the types these models use)."""


@dataclass
class ConvertedModel:
    """One converted network: its ops, constant tensors, input/output indices and the source file's sha256."""

    ops: list[Op]
    weights: dict[str, torch.Tensor]
    input: int
    outputs: list[int]
    sha256: str


ATTENTION_OPS = {
    "Landmarks2TransformMatrix": "landmarks_to_transform",
    "TransformTensorBilinear": "transform_tensor_bilinear",
    "TransformLandmarks": "transform_landmarks",
}
"""MediaPipe's custom operators (version 2, the attention face mesh's) -> :class:`~motionkit.face.graph.Op` kinds."""


def _builtin_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _options(op: Any, cls: type) -> Any:
    table = op.BuiltinOptions()
    options = cls()
    options.Init(table.Bytes, table.Pos)
    return options


def _constant(model: Any, graph: Any, index: int) -> np.ndarray | None:
    tensor = graph.Tensors(index)
    data = model.Buffers(tensor.Buffer()).DataAsNumpy()
    if isinstance(data, int) or data.size == 0:
        return None
    values = np.frombuffer(data.tobytes(), dtype=_NUMPY_TYPES[tensor.Type()])
    if tensor.Sparsity() is not None:
        return _densify(graph, index, values)
    shape = [int(s) for s in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
    return values.reshape(shape)


_INDEX_VECTORS = {1: "Int32Vector", 2: "Uint16Vector", 3: "Uint8Vector"}
"""TFLite's SparseIndexVector union tags -> the tflite class that reads them."""


def _index_vector(tag: int, table: Any) -> np.ndarray:
    import tflite

    vector = getattr(tflite, _INDEX_VECTORS[tag])()
    vector.Init(table.Bytes, table.Pos)
    return np.asarray(vector.ValuesAsNumpy(), dtype=np.int64)


def _densify(graph: Any, index: int, values: np.ndarray) -> np.ndarray:
    """The dense form of sparse constant ``index`` (what TFLite's DENSIFY op computes once at load).

    Only the layout MediaPipe's sparse detector uses is supported: identity traversal order, no blocks, every
    dimension dense except the last, which is compressed (CSR: ``segments[r]:segments[r+1]`` are row ``r``'s entries,
    ``indices`` their positions).
    """
    tensor = graph.Tensors(index)
    shape = [int(s) for s in tensor.ShapeAsNumpy()]
    sparsity = tensor.Sparsity()
    formats = [sparsity.DimMetadata(d).Format() for d in range(sparsity.DimMetadataLength())]
    identity = list(sparsity.TraversalOrderAsNumpy()) == list(range(len(shape)))
    if not identity or sparsity.BlockMapLength() or formats != [0] * (len(shape) - 1) + [1]:
        raise CheckpointError(f"sparse tensor {tensor.Name().decode()} has a layout the converter does not read")
    last = sparsity.DimMetadata(len(shape) - 1)
    segments = _index_vector(last.ArraySegmentsType(), last.ArraySegments())
    indices = _index_vector(last.ArrayIndicesType(), last.ArrayIndices())
    dense = np.zeros((int(np.prod(shape[:-1])), shape[-1]), dtype=values.dtype)
    rows = np.repeat(np.arange(dense.shape[0]), np.diff(segments))
    dense[rows, indices] = values.reshape(-1)
    return dense.reshape(shape)


def _attention_op(kind: str, code: Any, op: Any, inputs: list[int], output: int) -> Op:
    """The :class:`Op` of one of MediaPipe's :data:`ATTENTION_OPS` (its options are a FlexBuffer map)."""
    from flatbuffers import flexbuffers

    if code.Version() != 2:
        raise CheckpointError(f"the converter reads version 2 of the MediaPipe operator {kind}, not {code.Version()}")
    raw = op.CustomOptionsAsNumpy()
    options = {} if isinstance(raw, int) else flexbuffers.Loads(bytes(raw.tobytes()))
    size = (int(options.get("output_height", 0)), int(options.get("output_width", 0)))
    if kind == "transform_landmarks":
        return Op(kind=kind, inputs=tuple(inputs), output=output)
    if kind == "transform_tensor_bilinear":
        return Op(kind=kind, inputs=tuple(inputs), output=output, size=size)
    if float(options.get("target_rotation_radians", 0.0)) != 0.0:
        raise CheckpointError("Landmarks2TransformMatrix with a target rotation other than 0 is not supported")
    return Op(
        kind=kind,
        inputs=tuple(inputs),
        output=output,
        size=size,
        indices=tuple(int(i) for i in options["subset_idxs"]),
        pair=(int(options["left_rotation_idx"]), int(options["right_rotation_idx"])),
        scale=(float(options["scale_x"]), float(options["scale_y"])),
    )


def convert_tflite(data: bytes) -> ConvertedModel:
    """Parse one ``.tflite`` flatbuffer into ops and PyTorch-layout constants.

    Raises:
        CheckpointError: the file has an operator this converter does not know.
    """
    import tflite

    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    names = _builtin_names()
    constants: dict[int, np.ndarray] = {}
    for index in range(graph.TensorsLength()):
        value = _constant(model, graph, index)
        if value is not None:
            constants[index] = value
    weights: dict[str, torch.Tensor] = {}

    def const(index: int, layout: str) -> str:
        value = torch.from_numpy(constants[index].copy())
        if layout == "conv":  # (O, kh, kw, I) -> (O, I, kh, kw)
            value = value.permute(0, 3, 1, 2)
        elif layout in ("depthwise", "transpose"):  # (1, kh, kw, C) -> (C, 1, kh, kw); (O, kh, kw, I) -> (I, O, kh, kw)
            value = value.permute(3, 0, 1, 2)
        elif layout == "vector":
            value = value.reshape(-1)
        elif layout == "nhwc" and value.ndim == 4:
            value = value.permute(0, 3, 1, 2)
        name = f"t{index}"
        weights[name] = value.contiguous()
        return name

    ops: list[Op] = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        inputs = [int(k) for k in op.InputsAsNumpy()]
        output = int(op.OutputsAsNumpy()[0])
        out_shape = tuple(int(s) for s in graph.Tensors(output).ShapeAsNumpy())
        if builtin in ("DEQUANTIZE", "DENSIFY"):
            constants[output] = constants[inputs[0]]
            continue
        if builtin in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            cls = tflite.Conv2DOptions if builtin == "CONV_2D" else tflite.DepthwiseConv2DOptions
            o = _options(op, cls)
            kind = "conv" if builtin == "CONV_2D" else "depthwise"
            if kind == "depthwise" and o.DepthMultiplier() != 1:
                raise CheckpointError("depthwise convolutions with a depth multiplier other than 1 are not supported")
            w = [const(inputs[1], kind), *([const(inputs[2], "vector")] if len(inputs) > 2 and inputs[2] >= 0 else [])]
            ops.append(
                Op(
                    kind=kind,
                    inputs=(inputs[0],),
                    output=output,
                    weights=tuple(w),
                    activation=ACTIVATIONS[o.FusedActivationFunction()],
                    stride=(o.StrideH(), o.StrideW()),
                    dilation=(o.DilationHFactor(), o.DilationWFactor()),
                    padding=PADDINGS[o.Padding()],
                )
            )
        elif builtin in ("ADD", "MUL"):
            cls = tflite.AddOptions if builtin == "ADD" else tflite.MulOptions
            activation = ACTIVATIONS[_options(op, cls).FusedActivationFunction()]
            variable = [k for k in inputs if k not in constants]
            fixed = tuple(const(k, "nhwc") for k in inputs if k in constants)
            ops.append(
                Op(kind=builtin.lower(), inputs=tuple(variable), output=output, weights=fixed, activation=activation)
            )
        elif builtin == "PAD":
            p = constants[inputs[1]]
            pads = (int(p[1, 0]), int(p[1, 1]), int(p[2, 0]), int(p[2, 1]), int(p[3, 0]), int(p[3, 1]))
            ops.append(Op(kind="pad", inputs=(inputs[0],), output=output, pads=pads))
        elif builtin in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            o = _options(op, tflite.Pool2DOptions)
            ops.append(
                Op(
                    kind="max_pool" if builtin == "MAX_POOL_2D" else "avg_pool",
                    inputs=(inputs[0],),
                    output=output,
                    activation=ACTIVATIONS[o.FusedActivationFunction()],
                    stride=(o.StrideH(), o.StrideW()),
                    size=(o.FilterHeight(), o.FilterWidth()),
                    padding=PADDINGS[o.Padding()],
                )
            )
        elif builtin == "RESHAPE":
            ops.append(Op(kind="reshape", inputs=(inputs[0],), output=output, shape=out_shape))
        elif builtin == "CONCATENATION":
            o = _options(op, tflite.ConcatenationOptions)
            ops.append(
                Op(
                    kind="concat",
                    inputs=tuple(inputs),
                    output=output,
                    axis=o.Axis() % len(out_shape),
                    activation=ACTIVATIONS[o.FusedActivationFunction()],
                )
            )
        elif builtin in ("RELU", "HARD_SWISH", "LOGISTIC"):
            kind = {"RELU": "relu", "HARD_SWISH": "hard_swish", "LOGISTIC": "sigmoid"}[builtin]
            ops.append(Op(kind=kind, inputs=(inputs[0],), output=output))
        elif builtin == "PRELU":
            ops.append(Op(kind="prelu", inputs=(inputs[0],), output=output, weights=(const(inputs[1], "vector"),)))
        elif builtin == "RESIZE_BILINEAR":
            o = _options(op, tflite.ResizeBilinearOptions)
            ops.append(
                Op(
                    kind="resize_bilinear",
                    inputs=(inputs[0],),
                    output=output,
                    shape=out_shape,
                    align_corners=bool(o.AlignCorners()),
                    half_pixel=bool(o.HalfPixelCenters()),
                )
            )
        elif builtin == "DEPTH_TO_SPACE":
            block = _options(op, tflite.DepthToSpaceOptions).BlockSize()
            ops.append(Op(kind="depth_to_space", inputs=(inputs[0],), output=output, block=block))
        elif builtin == "STRIDED_SLICE":
            # The attention mesh copies its mesh output through a slice of everything; only that is supported.
            begin, end, strides = (constants[k] for k in inputs[1:4])
            in_shape = tuple(int(s) for s in graph.Tensors(inputs[0]).ShapeAsNumpy())
            if in_shape != out_shape or begin.any() or tuple(end) != in_shape or (strides != 1).any():
                raise CheckpointError("the converter reads only STRIDED_SLICE ops that copy their whole input")
            ops.append(Op(kind="reshape", inputs=(inputs[0],), output=output, shape=out_shape))
        elif builtin == "CUSTOM" and code.CustomCode().decode() in ATTENTION_OPS:
            ops.append(_attention_op(ATTENTION_OPS[code.CustomCode().decode()], code, op, inputs, output))
        elif builtin == "CUSTOM" and code.CustomCode() == b"Convolution2DTransposeBias":
            # MediaPipe's custom op: options are a raw TfLiteTransposeConvParams {padding, stride_w, stride_h}.
            padding, stride_w, stride_h = np.frombuffer(op.CustomOptionsAsNumpy().tobytes(), dtype=np.int32)[:3]
            transpose_weights = (const(inputs[1], "transpose"), const(inputs[2], "vector"))
            ops.append(
                Op(
                    kind="transpose_conv",
                    inputs=(inputs[0],),
                    output=output,
                    weights=transpose_weights,
                    stride=(int(stride_h), int(stride_w)),
                    padding=PADDINGS[int(padding) - 1],
                )
            )
        else:
            custom = code.CustomCode().decode() if builtin == "CUSTOM" else builtin
            raise CheckpointError(f"the converter does not know the TFLite operator {custom}")
    outputs = [int(k) for k in graph.OutputsAsNumpy()]
    return ConvertedModel(ops, weights, int(graph.InputsAsNumpy()[0]), outputs, hashlib.sha256(data).hexdigest())


def read_source(source: Path) -> dict[str, bytes]:
    """The bytes of every file the conversion needs (:data:`MODEL_FILES` and the licence), by wheel member name.

    Args:
        source: a MediaPipe wheel, or the ``site-packages`` folder (or the ``mediapipe`` folder) of an
            installed MediaPipe.
    """
    members = [*MODEL_FILES.values(), LICENSE_MEMBER]
    if source.is_file():
        with zipfile.ZipFile(source) as wheel:
            return {m: wheel.read(m) for m in members}
    root = source.parent if source.name == "mediapipe" else source
    missing = [m for m in members if not (root / m).is_file()]
    if missing:
        raise CheckpointError(
            f"{source} has no {missing[0]}; give a mediapipe=={MEDIAPIPE_VERSION} wheel or its site-packages"
        )
    return {m: (root / m).read_bytes() for m in members}


def convert(source: Path, out: Path = ASSETS) -> dict[str, object]:
    """Convert every model of :data:`MODEL_FILES` from ``source`` into ``out``; returns the provenance record."""
    files = read_source(source)
    record: dict[str, object] = {"mediapipe_version": MEDIAPIPE_VERSION, "files": {}}
    if source.is_file():
        record["wheel"] = source.name
        record["wheel_sha256"] = hashlib.sha256(source.read_bytes()).hexdigest()
    make_folder(out)
    for name, member in MODEL_FILES.items():
        converted = convert_tflite(files[member])
        metadata = {
            "ops": ops_to_json(converted.ops),
            "input": str(converted.input),
            "outputs": json.dumps(converted.outputs),
            "source": member,
            "source_sha256": converted.sha256,
            "mediapipe_version": MEDIAPIPE_VERSION,
        }
        write_tensors(out / f"{name}.safetensors", converted.weights, metadata)
        record["files"][member] = converted.sha256  # type: ignore[index]
    (out / "LICENSE").write_bytes(files[LICENSE_MEMBER])
    (out / "NOTICE").write_text(NOTICE.format(version=MEDIAPIPE_VERSION), encoding="utf-8")
    (out / PROVENANCE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> None:
    """``python -m motionkit.face.convert SOURCE [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", type=Path, help=f"a mediapipe=={MEDIAPIPE_VERSION} wheel or its site-packages")
    parser.add_argument("--out", type=Path, default=ASSETS, help="output folder (default: the package's assets)")
    args = parser.parse_args(argv)
    print(json.dumps(convert(args.source, args.out), indent=2))


if __name__ == "__main__":
    main()
