"""Perceptual (feature-matching) loss with a pluggable, frozen feature network.

No pretrained network ships with motionkit and nothing is downloaded. :class:`VGG19Features` is a VGG19
feature extractor written in torch whose weights the user provides as a safetensors file with torchvision's
key names (``features.0.weight`` ... ``features.28.bias``); export them once where torchvision weights exist::

    import torchvision, safetensors.torch
    vgg = torchvision.models.vgg19(weights="IMAGENET1K_V1")
    safetensors.torch.save_file({k: v for k, v in vgg.state_dict().items() if k.startswith("features.")},
                                "vgg19_features.safetensors")

Without such weights, train with the multi-scale L1 + SSIM reconstruction loss (the default).
Any other network fits :class:`FeatureNetwork`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from motionkit.errors import ConfigError
from motionkit.train.losses import _check_pair, pyramid
from motionkit.validation import check_keys, raise_for_keys

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's VGG19 "features" up to relu5_1: (channels, then "M" for a 2x2 max-pool).
_VGG19_LAYOUT: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
)
VGG19_TAPS = (1, 6, 11, 20, 29)
"""Indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1."""
VGG19_TAP_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
"""pix2pixHD's weights of the five taps (coarser features weigh more)."""


@runtime_checkable
class FeatureNetwork(Protocol):
    """A frozen network mapping images ``(B, 3, H, W)`` in ``[-1, 1]`` to a list of feature maps."""

    def __call__(self, images: torch.Tensor) -> Sequence[torch.Tensor]: ...


class VGG19Features(nn.Module):
    """VGG19 convolutional features (torchvision layout) returning the relu1_1 .. relu5_1 activations.

    Inputs in ``[-1, 1]`` are mapped to ``[0, 1]`` and normalised with the ImageNet mean and std first. The
    parameters are frozen (``requires_grad=False``); gradients flow to the input images only.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in _VGG19_LAYOUT:
            if isinstance(item, str):
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=False)]
                channels = item
        self.features = nn.Sequential(*layers)
        self.mean_rgb: torch.Tensor
        self.std_rgb: torch.Tensor
        self.register_buffer("mean_rgb", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std_rgb", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_safetensors(cls, path: str | Path) -> VGG19Features:
        """Build the network with weights from ``path`` (torchvision key names; extra keys are ignored)."""
        from motionkit.io.tensors import read_tensors

        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"VGG19 weights {path} do not exist; export them as described in docs/training.md, or set the "
                "perceptual loss weight to 0 to train with multi-scale L1 + SSIM."
            )
        tensors = read_tensors(path, what="VGG19 weights", fix="export them again as described in docs/training.md")
        network = cls()
        expected = {key: tuple(value.shape) for key, value in network.state_dict().items()}
        raise_for_keys(
            check_keys(tensors, expected, optional=tensors.keys()),  # other entries are ignored
            f"{path} does not hold torchvision's VGG19 'features.*' tensors",
            "Export them as described in docs/training.md.",
        )
        network.load_state_dict({key: tensors[key] for key in expected})
        return network

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = ((images + 1) / 2 - self.mean_rgb) / self.std_rgb
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in VGG19_TAPS:
                taps.append(x)
        return taps


class PerceptualLoss(nn.Module):
    """``(1/S) sum_s sum_l w_l mean |phi_l(P_s x) - phi_l(P_s y)|`` over feature maps ``phi_l`` of a frozen
    network and the 2x average-pooling pyramid ``P_s`` (``S = levels``).

    Args:
        network: any :class:`FeatureNetwork`; it is kept frozen.
        weights: one weight per feature map (default: :data:`VGG19_TAP_WEIGHTS`).
        levels: pyramid levels.
    """

    def __init__(self, network: nn.Module, weights: Sequence[float] = VGG19_TAP_WEIGHTS, levels: int = 1) -> None:
        super().__init__()
        self.network = network.requires_grad_(False).eval()
        self.weights = tuple(float(w) for w in weights)
        self.levels = levels

    def train(self, mode: bool = True) -> PerceptualLoss:
        """The feature network stays in eval mode."""
        super().train(mode)
        self.network.eval()
        return self

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check_pair(x, y)
        terms = []
        for a, b in zip(pyramid(x, self.levels), pyramid(y, self.levels)):
            features_a = self.network(a)
            with torch.no_grad():
                features_b = self.network(b)
            if len(features_a) != len(self.weights):
                raise ConfigError(
                    f"feature network returned {len(features_a)} maps but {len(self.weights)} weights were given."
                )
            per_map = [w * F.l1_loss(fa, fb) for w, fa, fb in zip(self.weights, features_a, features_b)]
            terms.append(torch.stack(per_map).sum())
        return torch.stack(terms).mean()
