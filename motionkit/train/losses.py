"""Model-independent image losses: multi-scale L1, Gaussian-window SSIM, region (mouth/eye) losses.

Images are ``(B, C, H, W)`` tensors (motionkit's convention: RGB in ``[-1, 1]``, so ``data_range = 2``). Every
loss returns a scalar mean and leaves its inputs unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from motionkit.errors import ShapeError
from motionkit.validation import check_tensor

SSIM_WINDOW = 11
"""Gaussian window side (Wang et al. 2004; scikit-image's size for sigma 1.5 and truncate 3.5)."""
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    check_tensor("prediction", x, ndim=4, hint="Expected images (B, C, H, W).")
    check_tensor("target", y, ndim=4, hint="Expected images (B, C, H, W).")
    if x.shape != y.shape:
        raise ShapeError(f"prediction {tuple(x.shape)} and target {tuple(y.shape)} must have the same shape.")


def pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``levels`` images, each a 2x2 average pooling of the previous (``images`` first)."""
    result = [images]
    for _ in range(levels - 1):
        if min(result[-1].shape[-2:]) < 2:
            raise ShapeError(f"images {tuple(images.shape)} are too small for a {levels}-level pyramid.")
        result.append(F.avg_pool2d(result[-1], 2))
    return result


def multiscale_l1(x: torch.Tensor, y: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Mean absolute error averaged over a pyramid: ``(1/S) sum_s mean |P_s x - P_s y|``.

    ``P_0`` is the identity and ``P_{s+1}`` halves ``P_s`` with 2x2 average pooling; ``S = levels``.
    """
    _check_pair(x, y)
    terms = [F.l1_loss(a, b) for a, b in zip(pyramid(x, levels), pyramid(y, levels))]
    return torch.stack(terms).mean()


def gaussian_window(
    size: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Normalised 1-D Gaussian ``g_i = exp(-i^2 / (2 sigma^2)) / Z`` for ``i = -(size//2) .. size//2``."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    weights = torch.exp(-(offsets**2) / (2 * sigma**2))
    return (weights / weights.sum()).to(dtype=dtype, device=device)


def _filter(images: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of each channel."""
    channels = images.shape[1]
    size = window.numel()
    horizontal = window.view(1, 1, 1, size).repeat(channels, 1, 1, 1)
    vertical = window.view(1, 1, size, 1).repeat(channels, 1, 1, 1)
    return F.conv2d(F.conv2d(images, horizontal, groups=channels), vertical, groups=channels)


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float = 2.0,
    window_size: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
    k1: float = SSIM_K1,
    k2: float = SSIM_K2,
) -> torch.Tensor:
    """Structural similarity per image, ``(B,)``, with Gaussian-weighted local statistics (Wang et al. 2004).

    With ``mu``, ``sigma^2``, ``sigma_xy`` the Gaussian-window means, variances and covariance of each channel::

        SSIM = mean over channels and valid pixels of
               (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))

    with ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2`` and ``L = data_range``. Only positions where the whole window fits
    are averaged, which equals ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=L)`` (scikit-image crops the same border).
    """
    _check_pair(x, y)
    if min(x.shape[-2:]) < window_size:
        raise ShapeError(f"SSIM needs images of at least {window_size}x{window_size} pixels, got {tuple(x.shape)}.")
    window = gaussian_window(window_size, sigma, dtype=x.dtype, device=x.device)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mu_x, mu_y = _filter(x, window), _filter(y, window)
    var_x = _filter(x * x, window) - mu_x * mu_x
    var_y = _filter(y * y, window) - mu_y * mu_y
    cov = _filter(x * y, window) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return (numerator / denominator).flatten(1).mean(1)


def multiscale_ssim_loss(x: torch.Tensor, y: torch.Tensor, levels: int = 3, *, data_range: float = 2.0) -> torch.Tensor:
    """``(1/S) sum_s mean_b (1 - SSIM(P_s x, P_s y))`` over the 2x average-pooling pyramid ``P_s``.

    This is the mean of single-scale SSIM losses (not the product form of Wang et al.'s MS-SSIM, whose fractional
    powers of negative contrast terms are undefined early in training). The coarsest level must be at least
    ``SSIM_WINDOW`` pixels on each side.
    """
    _check_pair(x, y)
    terms = [1.0 - ssim(a, b, data_range=data_range).mean() for a, b in zip(pyramid(x, levels), pyramid(y, levels))]
    return torch.stack(terms).mean()


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``sum(m |x - y|) / (C sum(m))`` with a ``(B, 1, H, W)`` mask ``m`` in ``[0, 1]``; 0 when the mask is empty."""
    _check_pair(x, y)
    check_tensor("mask", mask, ndim=4, hint="Expected (B, 1, H, W).")
    if mask.shape[0] != x.shape[0] or mask.shape[1] != 1 or mask.shape[-2:] != x.shape[-2:]:
        raise ShapeError(f"mask {tuple(mask.shape)} must be (B, 1, H, W) for images {tuple(x.shape)}.")
    weight = mask.to(x.dtype)
    area = weight.sum() * x.shape[1]
    return ((x - y).abs() * weight).sum() / area.clamp_min(1.0)


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Resample the boxes of each image to ``size x size`` crops, ``(B, R, C, size, size)``.

    ``boxes`` is ``(B, R, 4)`` as ``(x1, y1, x2, y2)`` in pixels (pixel edges: the whole image is
    ``(0, 0, W, H)``). Sampling is bilinear (``grid_sample``, ``align_corners=False``) with the affine map
    ``x_in = (x2 - x1)/W * u + (x1 + x2)/W - 1`` from output coordinates ``u`` in ``[-1, 1]``; it is
    differentiable with respect to the images.
    """
    check_tensor("images", images, ndim=4, hint="Expected (B, C, H, W).")
    check_tensor("boxes", boxes, ndim=3, last_dim=4, hint="Expected (B, R, 4) boxes (x1, y1, x2, y2) in pixels.")
    batch, channels, height, width = images.shape
    if boxes.shape[0] != batch:
        raise ShapeError(f"boxes have batch {boxes.shape[0]}, images have {batch}.")
    regions = boxes.shape[1]
    b = boxes.to(images.dtype).reshape(batch * regions, 4)
    theta = torch.zeros(batch * regions, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = (b[:, 2] - b[:, 0]) / width
    theta[:, 0, 2] = (b[:, 0] + b[:, 2]) / width - 1
    theta[:, 1, 1] = (b[:, 3] - b[:, 1]) / height
    theta[:, 1, 2] = (b[:, 1] + b[:, 3]) / height - 1
    grid = F.affine_grid(theta, [batch * regions, channels, size, size], align_corners=False)
    source = images.repeat_interleave(regions, dim=0)
    crops = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return crops.view(batch, regions, channels, size, size)


def region_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    boxes: torch.Tensor,
    valid: torch.Tensor,
    *,
    size: int = 32,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.l1_loss,
) -> torch.Tensor:
    """Mean of ``loss(crop(x), crop(y))`` over the valid regions (e.g. mouth and eyes from landmarks).

    Args:
        x, y: ``(B, C, H, W)`` prediction and target.
        boxes: ``(B, R, 4)`` region boxes ``(x1, y1, x2, y2)`` in pixels, the same for both images.
        valid: ``(B, R)`` booleans; regions whose landmarks were not found are ignored.
        size: side of the resampled crops.
        loss: any image loss on ``(N, C, size, size)`` pairs (L1 by default; a perceptual loss also fits).

    Returns 0 (still attached to ``x``'s graph) when no region is valid.
    """
    _check_pair(x, y)
    check_tensor("valid", valid, ndim=2, dtypes=None, finite=False)
    if valid.shape != boxes.shape[:2]:
        raise ShapeError(f"valid {tuple(valid.shape)} must be (B, R) like boxes {tuple(boxes.shape)}.")
    keep = valid.to(torch.bool).reshape(-1)
    if not bool(keep.any()):
        return x.sum() * 0.0
    crops_x = crop_boxes(x, boxes, size).flatten(0, 1)[keep]
    crops_y = crop_boxes(y, boxes, size).flatten(0, 1)[keep]
    return loss(crops_x, crops_y)
