"""The converter and the op runner: a fresh conversion reproduces the shipped files; TFLite's conventions."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.face.attention import landmarks_to_transform, transform_landmarks, transform_tensor_bilinear
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


def _box_points(x0: float, y0: float, x1: float, y1: float) -> torch.Tensor:
    """(1, 4, 3) corners of an axis-aligned box, listed so that points 0 -> 1 run along its top edge."""
    return torch.tensor([[[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]]], dtype=torch.float64)


def test_a_crop_transform_frames_its_points_scaled_about_their_centre() -> None:
    points = _box_points(10.0, 20.0, 30.0, 28.0)  # 20 x 8 around (20, 24)
    transform = landmarks_to_transform(points, (0, 1, 2, 3), (0, 1), (16, 16), (1.5, 1.5))
    corners = transform_landmarks(torch.tensor([[[0.0, 0.0], [16.0, 16.0]]], dtype=torch.float64), transform)
    expected = torch.tensor([[[20.0 - 15.0, 24.0 - 6.0], [20.0 + 15.0, 24.0 + 6.0]]], dtype=torch.float64)
    torch.testing.assert_close(corners, expected)


@given(st.floats(-3.0, 3.0), st.floats(-50.0, 50.0), st.floats(-50.0, 50.0))
def test_a_crop_transform_turns_and_moves_with_its_points(angle: float, dx: float, dy: float) -> None:
    points = _box_points(10.0, 20.0, 30.0, 28.0)
    cos, sin = math.cos(angle), math.sin(angle)
    turn = torch.tensor([[cos, -sin], [sin, cos]], dtype=torch.float64)
    moved = points.clone()
    moved[..., :2] = points[..., :2] @ turn.T + torch.tensor([dx, dy], dtype=torch.float64)
    base = landmarks_to_transform(points, (0, 1, 2, 3), (0, 1), (16, 16), (1.5, 1.5))
    turned = landmarks_to_transform(moved, (0, 1, 2, 3), (0, 1), (16, 16), (1.5, 1.5))
    torch.testing.assert_close(turned[0, :2, :2], turn @ base[0, :2, :2])
    torch.testing.assert_close(turned[0, :2, 3], turn @ base[0, :2, 3] + torch.tensor([dx, dy], dtype=torch.float64))


def test_a_bilinear_crop_samples_where_its_transform_maps_the_pixel_centres() -> None:
    # A linear ramp is reproduced exactly by bilinear sampling, so the crop reads back its sample positions.
    height, width = 12, 20
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij"
    )
    features = torch.stack([xs, ys])[None]  # channel 0: x, channel 1: y
    points = _box_points(6.0, 4.0, 12.0, 7.0)
    points[0, 1, 1] = 5.0  # a tilted top edge: the crop is rotated
    transform = landmarks_to_transform(points, (0, 1, 2, 3), (0, 1), (4, 4), (1.2, 1.2))
    crop = transform_tensor_bilinear(features, transform, (4, 4))
    v, u = torch.meshgrid(torch.arange(4.0, dtype=torch.float64), torch.arange(4.0, dtype=torch.float64), indexing="ij")
    centres = torch.stack([u.flatten(), v.flatten()], dim=-1)[None] + 0.5
    mapped = transform_landmarks(centres, transform)[0] - 0.5
    torch.testing.assert_close(crop[0].flatten(1).T, mapped)
    outside = torch.eye(4, dtype=torch.float64)[None].clone()
    outside[0, 0, 3] = -10.0  # every sample left of the feature map: zeros
    assert transform_tensor_bilinear(features, outside, (4, 4)).abs().max() == 0


def test_an_identity_transform_copies_the_feature_map() -> None:
    features = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    identity = torch.eye(4, dtype=torch.float64).expand(2, 4, 4)
    torch.testing.assert_close(transform_tensor_bilinear(features, identity, (8, 8)), features)
