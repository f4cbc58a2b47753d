"""Image losses against references: SSIM vs scikit-image, pyramids, regions, perceptual, adversarial."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import save_file
from skimage.metrics import structural_similarity

from motionkit.config.train import AELossConfig
from motionkit.errors import CheckpointError, ConfigError, ShapeError
from motionkit.testing.tolerances import assert_rounding_close, rounding_tolerance, sampled_magnitude
from motionkit.train.adversarial import (
    Discriminator,
    discriminator_loss,
    generator_loss,
    lazy_regularization,
    r1_penalty,
)
from motionkit.train.criteria import AdversarialCriterion, ReconstructionCriterion
from motionkit.train.losses import (
    crop_boxes,
    gaussian_window,
    masked_l1,
    multiscale_l1,
    multiscale_ssim_loss,
    region_loss,
    ssim,
)
from motionkit.train.perceptual import PerceptualLoss, VGG19Features


def _skimage_ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    """scikit-image's Gaussian SSIM of one (C, H, W) pair in [-1, 1], as Wang et al. define it."""
    return float(
        structural_similarity(
            x.permute(1, 2, 0).double().numpy(),
            y.permute(1, 2, 0).double().numpy(),
            channel_axis=2,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=2.0,
        )
    )


def _image_pair(seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    smooth = F.avg_pool2d(torch.rand(2, 3, size + 4, size + 4, generator=generator), 5, stride=1)
    x = smooth * 2 - 1
    y = (x + 0.2 * torch.randn(x.shape, generator=generator)).clamp(-1, 1)
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_scikit_image(seed: int) -> None:
    x, y = _image_pair(seed)
    ours64 = ssim(x.double(), y.double())
    ours32 = ssim(x, y)
    for b in range(2):
        reference = _skimage_ssim(x[b], y[b])
        assert float(ours64[b]) == pytest.approx(reference, abs=1e-10)
        assert float(ours32[b]) == pytest.approx(reference, abs=2e-5)


def test_ssim_on_a_real_photograph() -> None:
    from skimage.data import astronaut

    image = torch.from_numpy(astronaut()[::8, ::8].copy()).permute(2, 0, 1).double() / 127.5 - 1
    noisy = (image + 0.1 * torch.randn(image.shape, dtype=torch.float64)).clamp(-1, 1)
    assert float(ssim(image[None], noisy[None])[0]) == pytest.approx(_skimage_ssim(image, noisy), abs=1e-10)
    assert float(ssim(image[None], image[None])[0]) == pytest.approx(1.0, abs=1e-12)


def test_gaussian_window_is_normalised_and_symmetric() -> None:
    window = gaussian_window(11, 1.5, dtype=torch.float64)
    assert float(window.sum()) == pytest.approx(1.0)
    assert torch.equal(window, window.flip(0))
    assert int(window.argmax()) == 5


@given(st.integers(0, 2**16), st.integers(1, 3))
def test_multiscale_l1_is_the_mean_over_the_pyramid(seed: int, levels: int) -> None:
    x, y = _image_pair(seed, size=16)
    expected = (x - y).abs().mean()
    xs, ys = x, y
    for _ in range(levels - 1):
        xs, ys = F.avg_pool2d(xs, 2), F.avg_pool2d(ys, 2)
        expected = expected + (xs - ys).abs().mean()
    # the mean of |x - y| over every pixel of each level (sums of positive terms: M is the result), 2 x 2 pooling
    depth = x.numel() + 4 * levels + levels
    value = float(expected / levels)
    assert float(multiscale_l1(x, y, levels)) == pytest.approx(
        value, abs=rounding_tolerance(torch.float32, depth, value)
    )


def test_multiscale_ssim_loss_is_zero_for_identical_images_and_has_gradients() -> None:
    x, y = _image_pair(3, size=48)
    # SSIM of an image with itself divides two products of the same rounded factors (1 - 1 up to 8 roundings)
    assert float(multiscale_ssim_loss(x, x, 2)) == pytest.approx(0.0, abs=rounding_tolerance(torch.float32, 8))
    prediction = y.clone().requires_grad_(True)
    loss = multiscale_ssim_loss(prediction, x, 2)
    loss.backward()
    assert 0 < float(loss.detach()) < 1
    assert prediction.grad is not None
    assert float(prediction.grad.abs().sum()) > 0
    with pytest.raises(ShapeError, match="at least 11x11"):
        multiscale_ssim_loss(x[..., :16, :16], y[..., :16, :16], 2)  # the 8-pixel level is too small
    with pytest.raises(ShapeError, match="same shape"):
        multiscale_l1(x, y[:, :2])


def test_crop_boxes_of_the_whole_image_and_of_aligned_boxes_are_exact() -> None:
    images = torch.randn(2, 3, 16, 16)
    whole = torch.tensor([[[0.0, 0.0, 16.0, 16.0]], [[0.0, 0.0, 16.0, 16.0]]])
    # bilinear sampling at computed pixel centres: the coordinates' rounding moves samples along the image's slope
    depth = 4 + 8  # the coordinates from the box (4), then the bilinear weights and sum (8)
    magnitude = sampled_magnitude(images, torch.ones(1))
    assert_rounding_close(crop_boxes(images, whole, 16)[:, 0], images, depth=depth, magnitude=magnitude)
    boxes = torch.tensor(
        [[[4.0, 2.0, 12.0, 10.0], [0.0, 8.0, 8.0, 16.0]], [[8.0, 8.0, 16.0, 16.0], [2.0, 0.0, 10.0, 8.0]]]
    )
    crops = crop_boxes(images, boxes, 8)
    for b in range(2):
        for r in range(2):
            x1, y1, x2, y2 = (int(v) for v in boxes[b, r])
            assert_rounding_close(crops[b, r], images[b, :, y1:y2, x1:x2], depth=depth, magnitude=magnitude)


def test_region_loss_uses_only_valid_regions() -> None:
    x = torch.zeros(2, 3, 16, 16, requires_grad=True)
    y = torch.zeros(2, 3, 16, 16)
    y[0, :, 0:8, 0:8] = 1.0  # differs only inside the first image's first box
    boxes = torch.tensor([[[0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]]] * 2)
    valid = torch.tensor([[True, True], [True, False]])
    loss = region_loss(x, y, boxes, valid, size=8)
    # one of three valid crops differs by 1: bilinear crops (12 roundings), then the mean over 3 crops of 3 x 8 x 8
    depth = 12 + 3 * 3 * 8 * 8
    assert float(loss.detach()) == pytest.approx(1 / 3, abs=rounding_tolerance(torch.float32, depth, 1.0))
    none = region_loss(x, y, boxes, torch.zeros(2, 2, dtype=torch.bool), size=8)
    assert float(none.detach()) == 0.0
    assert none.requires_grad


def test_masked_l1() -> None:
    x, y = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    y[..., 2:, :] = 5  # outside the mask
    assert float(masked_l1(x, y, mask)) == pytest.approx(1.0)
    assert float(masked_l1(x, y, torch.zeros(1, 1, 4, 4))) == 0.0
    with pytest.raises(ShapeError, match=r"\(B, 1, H, W\)"):
        masked_l1(x, y, torch.ones(1, 3, 4, 4))


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    weights = dict(VGG19Features().state_dict())
    weights["classifier.0.weight"] = torch.zeros(2, 2)  # extra keys (a full torchvision state dict) are ignored
    path = tmp_path_factory.mktemp("vgg") / "vgg19.safetensors"
    save_file(weights, str(path))
    return path


@pytest.fixture(scope="module")
def vgg(vgg_file: Path) -> VGG19Features:
    return VGG19Features.from_safetensors(vgg_file)


def test_perceptual_loss_with_user_supplied_weights(vgg: VGG19Features, vgg_file: Path) -> None:
    network = vgg
    assert not any(p.requires_grad for p in network.parameters())
    features = network(torch.zeros(1, 3, 32, 32))
    assert [f.shape[1:] for f in features] == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 2, 2)]
    from safetensors.torch import load_file

    assert torch.equal(network.features[28].weight, load_file(str(vgg_file))["features.28.weight"])
    loss = PerceptualLoss(network)
    x, y = _image_pair(0)
    assert float(loss(x, x)) == 0.0
    prediction = y.clone().requires_grad_(True)
    value = loss(prediction, x)
    value.backward()
    assert float(value.detach()) > 0
    assert prediction.grad is not None
    assert all(p.grad is None for p in network.parameters())


def test_perceptual_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"do not exist.*perceptual loss weight to 0"):
        VGG19Features.from_safetensors(tmp_path / "missing.safetensors")
    partial = tmp_path / "partial.safetensors"
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3)}, str(partial))
    with pytest.raises(CheckpointError, match=r"does not hold torchvision's VGG19 'features\.\*' tensors: \d+ missing"):
        VGG19Features.from_safetensors(partial)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="damaged or not a safetensors"):
        VGG19Features.from_safetensors(garbage)


def test_reconstruction_criterion_weights_its_parts(tmp_path: Path, vgg: VGG19Features) -> None:
    x, y = _image_pair(1, size=48)
    criterion = ReconstructionCriterion(AELossConfig(l1=2.0, ssim=0.5, scales=2))
    output = criterion(x, y)
    assert set(output.parts) == {"l1", "ssim"}
    expected = 2.0 * multiscale_l1(x, y, 2) + 0.5 * multiscale_ssim_loss(x, y, 2)
    assert float(output.total) == pytest.approx(
        float(expected), abs=rounding_tolerance(torch.float32, 3, float(expected))
    )
    regions = (torch.tensor([[[0.0, 0.0, 16.0, 16.0]]] * 2), torch.ones(2, 1, dtype=torch.bool))
    with_regions = ReconstructionCriterion(AELossConfig(region=1.0, region_size=8, scales=2))(x, y, regions)
    assert "region" in with_regions.parts
    perceptual = ReconstructionCriterion(AELossConfig(perceptual=1.0, perceptual_weights=tmp_path / "x"), vgg)
    assert "perceptual" in perceptual(x, y).parts


def test_discriminator_shapes_and_minibatch_stddev() -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(32, channels=8, max_channels=16)
    logits = discriminator(torch.randn(6, 3, 32, 32))  # batch 6 -> stddev groups of 3
    assert logits.shape == (6,)
    with pytest.raises(ConfigError, match="power of two"):
        Discriminator(48)
    with pytest.raises(ConfigError, match=r"expects \(B, 3, 32, 32\)"):
        discriminator(torch.randn(2, 3, 16, 16))


def test_r1_penalty_of_a_linear_critic_is_the_squared_weight_norm() -> None:
    weight = torch.randn(3 * 4 * 4)

    def critic(images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1) @ weight

    penalty = r1_penalty(critic, torch.randn(5, 3, 4, 4))  # type: ignore[arg-type]
    # the gradient of a linear critic is its weight: squares summed over 48 inputs, averaged over 5 rows
    value = float(weight.pow(2).sum())
    assert float(penalty) == pytest.approx(value, abs=rounding_tolerance(torch.float32, 48 + 5 + 2, value))


def test_gan_losses_and_lazy_regularisation() -> None:
    real, fake = torch.tensor([2.0, 3.0]), torch.tensor([-1.0, 0.5])
    expected_d = F.softplus(fake).mean() + F.softplus(-real).mean()
    assert float(discriminator_loss(real, fake)) == pytest.approx(float(expected_d))
    assert float(generator_loss(fake)) == pytest.approx(float(-F.logsigmoid(fake).mean()))
    scale, betas = lazy_regularization(16, (0.0, 0.99))
    assert scale == pytest.approx(16 / 17)
    assert betas == pytest.approx((0.0, 0.99 ** (16 / 17)))


def test_discriminator_learns_to_separate_real_from_fake() -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(8, channels=8, max_channels=8)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=5e-3)
    real = torch.ones(4, 3, 8, 8) * 0.5
    fake = -torch.ones(4, 3, 8, 8) * 0.5
    losses = []
    for _ in range(12):
        loss = discriminator_loss(discriminator(real), discriminator(fake))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_adversarial_criterion_applies_r1_lazily() -> None:
    torch.manual_seed(0)
    losses = AELossConfig(adversarial=0.5, r1_gamma=2.0, r1_every=4)
    criterion = AdversarialCriterion(Discriminator(16, channels=8, max_channels=8), losses)
    real, fake = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    on, off = criterion.discriminator_loss(real, fake, step=8), criterion.discriminator_loss(real, fake, step=9)
    assert "r1" in on.parts
    assert "r1" not in off.parts
    expected = off.total + 0.5 * 2.0 * 4 * on.parts["r1"]
    value = float(expected.detach())  # the same parts, weighted and summed in another order (4 roundings)
    assert float(on.total.detach()) == pytest.approx(value, abs=rounding_tolerance(torch.float32, 4, abs(value)))
    g = criterion.generator_loss(fake)
    assert float(g.total.detach()) == pytest.approx(0.5 * float(g.parts["g_adv"].detach()))
    phase = criterion.phase((0.0, 0.99))
    assert phase.name == "discriminator"
    assert not phase.ema
    assert phase.lr_scale == pytest.approx(0.8)
    with pytest.raises(ConfigError, match="adversarial > 0"):
        AdversarialCriterion(criterion.discriminator, AELossConfig())


def test_losses_do_not_modify_their_inputs() -> None:
    x, y = _image_pair(2, size=24)
    x0, y0 = x.clone(), y.clone()
    multiscale_l1(x, y)
    multiscale_ssim_loss(x, y, 1)
    crop_boxes(x, torch.tensor([[[0.0, 0.0, 8.0, 8.0]]] * 2), 4)
    assert torch.equal(x, x0)
    assert torch.equal(y, y0)
    assert np.isfinite(float(ssim(x, y).mean()))
