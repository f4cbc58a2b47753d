"""The converter and the op runner: a fresh conversion reproduces the shipped files; TFLite's conventions."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from motionkit.face.convert import convert
from motionkit.face.graph import Op, OpNet, same_padding
from motionkit.face.weights import ASSETS, MODEL_FILES, PROVENANCE
from motionkit.io.tensors import read_tensors_and_metadata
from motionkit.testing.face_parity import mediapipe_source
from motionkit.testing.optional import skip_or_fail


def test_a_fresh_conversion_reproduces_the_shipped_weights(tmp_path: Path) -> None:
    source = mediapipe_source()
    if source is None or importlib.util.find_spec("tflite") is None:
        skip_or_fail(
            "the mediapipe 0.10.21 wheel or the tflite parser is missing",
            "the README's test command downloads the wheel; tflite comes with the dev extra",
        )
    record = convert(source, tmp_path)
    shipped = json.loads((ASSETS / PROVENANCE).read_text())
    assert record["files"] == shipped["files"]
    for name in MODEL_FILES:
        fresh, fresh_meta = read_tensors_and_metadata(tmp_path / f"{name}.safetensors")
        kept, kept_meta = read_tensors_and_metadata(ASSETS / f"{name}.safetensors")
        assert fresh_meta == kept_meta
        assert fresh.keys() == kept.keys()
        for key in kept:
            assert torch.equal(fresh[key], kept[key]), (name, key)
    assert (tmp_path / "LICENSE").read_bytes() == (ASSETS / "LICENSE").read_bytes()


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [(128, 3, 1, (1, 1)), (128, 3, 2, (0, 1)), (127, 3, 2, (1, 1)), (64, 5, 1, (2, 2))],
)
def test_same_padding_puts_the_odd_pixel_after(size: int, kernel: int, stride: int, expected: tuple[int, int]) -> None:
    assert same_padding(size, kernel, stride) == expected


def test_depth_to_space_orders_depth_as_block_row_block_column_channel() -> None:
    # TFLite: output[y * 2 + by, x * 2 + bx, c] = input[y, x, (by * 2 + bx) * C + c]
    channels, block = 3, 2
    nhwc = torch.arange(1 * 2 * 2 * channels * block * block, dtype=torch.float32).reshape(1, 2, 2, -1)
    net = OpNet([Op(kind="depth_to_space", inputs=(0,), output=1, block=block)], {}, inputs=0, outputs=[1])
    out = net(nhwc.permute(0, 3, 1, 2))[0]  # NHWC
    for y, x, by, bx, c in [(0, 0, 0, 1, 2), (1, 0, 1, 1, 0), (1, 1, 1, 0, 1)]:
        assert out[0, y * block + by, x * block + bx, c] == nhwc[0, y, x, (by * block + bx) * channels + c]
