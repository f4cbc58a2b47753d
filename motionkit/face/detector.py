"""BlazeFace face detection (MediaPipe's short- and full-range detectors): anchors, box decoding, weighted NMS.

The network sees the whole image letterboxed into a ``S x S`` square (``S`` = 128 short range, 192 full range;
the image is downscaled with antialiasing, centred, padded with black, values in ``[-1, 1]``) and predicts, per
SSD anchor, 16 numbers (box centre offset and size, six keypoints) and a score logit. Decoding, with ``a`` the
anchor centre in ``[0, 1]`` and ``r`` the raw values::

    centre = a + r[0:2] / S,   size = r[2:4] / S,   keypoint k = a + r[4+2k : 6+2k] / S,   score = sigmoid(logit)

(anchors have a fixed unit size, MediaPipe's ``fixed_anchor_size``). Boxes scoring below ``min_score`` are dropped
and the rest merged by MediaPipe's *weighted* non-maximum suppression: the best box absorbs every box overlapping
it by more than ``nms_threshold`` IoU, and its coordinates become the score-weighted mean of the group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from motionkit.face.weights import load_net

KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")
"""The detector's six keypoints, in its output order (the subject's right eye is on the image's left)."""


class DetectorConfig(BaseModel):
    """A BlazeFace variant and its decoding options (MediaPipe 0.10.21's graph values)."""

    model_config = ConfigDict(frozen=True)

    model: str = Field("face_detection_short_range", description="Converted network (motionkit.face.weights).")
    input_size: int = Field(128, description="Side S of the square network input, pixels.")
    strides: tuple[int, ...] = Field((8, 16, 16, 16), description="SSD layer strides; equal strides share a grid.")
    anchors_per_layer: int = Field(2, description="Anchors per layer and cell (aspect 1 + interpolated scale).")
    min_score: float = Field(0.5, description="Detections scoring below this are dropped.")
    nms_threshold: float = Field(0.3, description="IoU above which weighted NMS merges two boxes.")
    score_clip: float = Field(100.0, description="Logits are clipped to +-this before the sigmoid.")


SHORT_RANGE = DetectorConfig()
"""Faces within about 2 m of the camera (MediaPipe's default face detector)."""

FULL_RANGE = DetectorConfig(
    model="face_detection_full_range",
    input_size=192,
    strides=(4,),
    anchors_per_layer=1,
    min_score=0.6,
)
"""Faces up to about 5 m away (smaller in the frame); MediaPipe's sparse full-range model, densified."""


@dataclass(frozen=True)
class FaceDetection:
    """One detected face in image pixels.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in pixels (may extend past the image border).
        keypoints: ``(6, 2)`` pixel ``(x, y)`` of :data:`KEYPOINTS`.
        score: detector confidence in ``[0, 1]``.
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float

    @property
    def area(self) -> float:
        """Box area in square pixels (the order of several faces: largest first)."""
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


def ssd_anchors(config: DetectorConfig) -> torch.Tensor:
    """Anchor centres ``(N, 2)`` as ``(x, y)`` in ``[0, 1]``: per stride group, rows, columns, then anchors."""
    centres = []
    layer = 0
    while layer < len(config.strides):
        stride = config.strides[layer]
        group = 1
        while layer + group < len(config.strides) and config.strides[layer + group] == stride:
            group += 1
        cells = -(-config.input_size // stride)
        axis = (torch.arange(cells, dtype=torch.float64) + 0.5) / cells
        y, x = torch.meshgrid(axis, axis, indexing="ij")
        grid = torch.stack([x, y], dim=-1).reshape(-1, 1, 2)
        centres.append(grid.expand(-1, group * config.anchors_per_layer, 2).reshape(-1, 2))
        layer += group
    return torch.cat(centres).float()


def letterbox(image: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[float, float, float]]:
    """Fit ``image`` (1, 3, H, W) in ``[0, 1]`` into a ``size`` square in ``[-1, 1]``, black padding.

    Returns the network input (1, 3, size, size) and ``(scale, left, top)``: input pixel ``p`` is image pixel
    ``(p - (left, top)) / scale``.
    """
    height, width = image.shape[-2:]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = F.interpolate(image, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    left, top = (size - new_w) // 2, (size - new_h) // 2
    padded = F.pad(resized * 2.0 - 1.0, (left, size - new_w - left, top, size - new_h - top), value=-1.0)
    return padded, (new_w / width, float(left), float(top))


def _iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    lo = torch.maximum(box[:2], boxes[:, :2])
    hi = torch.minimum(box[2:], boxes[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(dim=1)
    area = (box[2:] - box[:2]).prod()
    areas = (boxes[:, 2:] - boxes[:, :2]).prod(dim=1)
    return inter / (area + areas - inter).clamp(min=1e-12)


def weighted_nms(
    boxes: torch.Tensor, keypoints: torch.Tensor, scores: torch.Tensor, threshold: float
) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """MediaPipe's weighted non-maximum suppression.

    Args:
        boxes: (N, 4) ``x0, y0, x1, y1``; keypoints: (N, K, 2); scores: (N,).
        threshold: IoU above which a box joins the best remaining box's group.

    Returns:
        Per group, best first: the score-weighted mean box and keypoints, and the best box's score.
    """
    order = torch.argsort(scores, descending=True)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = torch.ones(len(scores), dtype=torch.bool, device=scores.device)
    kept = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        group = remaining & (_iou(boxes[i], boxes) > threshold)
        group[i] = True
        weights = scores[group] / scores[group].sum()
        box = (boxes[group] * weights[:, None]).sum(dim=0)
        points = (keypoints[group] * weights[:, None, None]).sum(dim=0)
        kept.append((box, points, float(scores[i])))
        remaining &= ~group
    return kept


class FaceDetector(nn.Module):
    """BlazeFace: ``detect(image)`` -> faces in pixels, largest first.

    Args:
        config: :data:`SHORT_RANGE` (default) or :data:`FULL_RANGE`.
    """

    anchors: torch.Tensor

    def __init__(self, config: DetectorConfig = SHORT_RANGE):
        super().__init__()
        self.config = config
        self.net = load_net(config.model)
        self.register_buffer("anchors", ssd_anchors(config), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode a batch of network inputs ``x`` (B, 3, S, S) in ``[-1, 1]``.

        Returns:
            boxes (B, N, 4) ``x0, y0, x1, y1``, keypoints (B, N, 6, 2) and scores (B, N), coordinates in ``[0, 1]`` of
            the network input.
        """
        raw, logits = self.net(x)
        size = float(self.config.input_size)
        anchors = self.anchors.to(raw.dtype)
        centre = anchors + raw[..., 0:2] / size
        half = raw[..., 2:4] / size / 2
        boxes = torch.cat([centre - half, centre + half], dim=-1)
        keypoints = anchors[:, None, :] + raw[..., 4:].reshape(*raw.shape[:-1], -1, 2) / size
        clip = self.config.score_clip
        scores = torch.sigmoid(logits[..., 0].clamp(-clip, clip))
        return boxes, keypoints, scores

    def detect(self, image: torch.Tensor) -> list[FaceDetection]:
        """Faces in ``image`` (1, 3, H, W) RGB in ``[0, 1]``, any device, largest box first.

        The image is downscaled (antialiased) to the network's input: its size does not change the memory used
        beyond the image itself.
        """
        return self.detect_batch([image])[0]

    @torch.no_grad()
    def detect_batch(self, images: Sequence[torch.Tensor]) -> list[list[FaceDetection]]:
        """:meth:`detect` on several images (each (1, 3, H, W), sizes may differ) with one network call.

        Every image is letterboxed into the same ``S x S`` input, so the batch is ``(len(images), 3, S, S)``
        whatever the sizes; non-maximum suppression then runs per image.
        """
        if not images:
            return []
        device = self.anchors.device
        boxed = [letterbox(image.to(device, torch.float32), self.config.input_size) for image in images]
        outputs = self(torch.cat([x for x, _ in boxed]))
        boxes, keypoints, scores = outputs
        return [self._decode(boxes[i], keypoints[i], scores[i], placement) for i, (_, placement) in enumerate(boxed)]

    def _decode(
        self,
        boxes: torch.Tensor,
        keypoints: torch.Tensor,
        scores: torch.Tensor,
        placement: tuple[float, float, float],
    ) -> list[FaceDetection]:
        """One image's network outputs (see :meth:`forward`, batch index removed) and its letterbox placement
        ``(scale, left, top)`` -> faces in its pixels."""
        scale, left, top = placement
        keep = scores >= self.config.min_score
        faces = []
        size = self.config.input_size
        offset = torch.tensor([left, top], device=boxes.device)
        for box, points, score in weighted_nms(boxes[keep], keypoints[keep], scores[keep], self.config.nms_threshold):
            corners = ((box.reshape(2, 2) * size - offset) / scale).reshape(4)
            pixels = (points * size - offset) / scale
            x0, y0, x1, y1 = (float(v) for v in corners)
            faces.append(FaceDetection((x0, y0, x1, y1), pixels.double().cpu().numpy(), score))
        return sorted(faces, key=lambda face: -face.area)
