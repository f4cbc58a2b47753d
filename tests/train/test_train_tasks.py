"""The auto-encoder and flow training tasks: they learn, train what they should, freeze what they should, resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from train_task_fixtures import identities, smooth_motion, tiny, write_waveform_cache

from motionkit.conditioner import Conditioner
from motionkit.config.train import AELossConfig, TrainConfig, train_config_from_dict
from motionkit.data.cache import FeatureCache, FeatureCacheWriter, WindowSource
from motionkit.data.synthetic import SyntheticWorld
from motionkit.errors import CheckpointError, ConfigError, ShapeError
from motionkit.flow import FlowSampler
from motionkit.io import VideoWriter, normalize_waveform
from motionkit.model_folder import load_model
from motionkit.renderer import Renderer
from motionkit.testing.files import umask, unusual_modes
from motionkit.testing.tolerances import assert_rounding_close, layers_depth, sampled_magnitude
from motionkit.train import DistContext, Trainer, load_checkpoint, run_training
from motionkit.train.demo.data import SyntheticPairSource, parameter_scales
from motionkit.train.engine import METRICS_FILE
from motionkit.train.metrics import MetricsLog
from motionkit.train.protocols import StepContext
from motionkit.train.run import TASK_BUILDERS
from motionkit.train.tasks import (
    AutoencoderTask,
    FlowTask,
    audio_margin,
    build_autoencoder_task,
    build_flow_task,
    export_model,
)

SCALES = parameter_scales(SyntheticWorld(size=64))


def _train_config(tmp_path: Path, kind: str, steps: int, **overrides: object) -> TrainConfig:
    fields: dict[str, object] = {
        "kind": kind,
        "model": "tiny",
        "output_dir": tmp_path,
        "steps": steps,
        "batch_size": 4,
        "lr": 3e-3,
        "ema_decay": 0.9,
        "log_every": 1,
        "checkpoint_every": 1000,
        "device": "cpu",
        "data_workers": 0,
    }
    fields.update(overrides)
    return TrainConfig.model_validate(fields)


def _dist() -> DistContext:
    return DistContext(device=torch.device("cpu"))


def _context(phase: str = "main", seed: int = 0) -> StepContext:
    return StepContext(0, phase, 0, torch.Generator().manual_seed(seed), torch.device("cpu"))


def _pairs(batch_size: int = 4) -> SyntheticPairSource:
    return SyntheticPairSource(identities(), SCALES, portrait_rate=0.5, batch_size=batch_size, seed=0)


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict[str, torch.Tensor], module: nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


# ------------------------------------------------------------------------------------------------ auto-encoder


def test_autoencoder_steps_lower_the_loss_and_change_the_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    renderer = Renderer(tiny().renderer)
    data = _pairs()
    task = AutoencoderTask(renderer, AELossConfig(parameters=1.0), parameters=len(SCALES), preview=data.batch(0))
    held_out = _pairs(8).batch(10_000)
    with torch.no_grad():
        first = task.loss(held_out, _context())
    before = _state(renderer)
    result = Trainer(task, data, _train_config(tmp_path, "ae", 40, sample_every=40)).fit()
    with torch.no_grad():
        last = task.loss(held_out, _context())
    assert _changed(before, renderer)
    assert float(last.total) < 0.8 * float(first.total)
    assert float(last.parts["params"]) < float(first.parts["params"])
    assert set(first.parts) == {"l1", "ssim", "params"}
    assert result.checkpoint is not None
    assert {p.name for p in result.checkpoint.glob("*.safetensors")} == {
        "renderer.safetensors",
        "renderer.ema.safetensors",
    }
    assert (tmp_path / "samples" / "step-00000040" / "reconstruction.png").is_file()
    rows = MetricsLog(tmp_path / METRICS_FILE).rows()
    assert len(rows) == 40
    assert {"l1", "ssim", "params", "loss/main"} <= set(rows[0])


class _FeatureNet(nn.Module):
    """Five frozen feature maps (stand-in for VGG19's relu taps)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = torch.relu(self.conv(images))
        return [x, x.mean(1, keepdim=True), x[:, :2], x.amax(1, keepdim=True), x[:, 3:]]


def test_adversarial_perceptual_and_region_losses_train_their_phases(tmp_path: Path) -> None:
    torch.manual_seed(1)
    renderer = Renderer(tiny().renderer)
    features = _FeatureNet()
    losses = AELossConfig(  # the given feature network replaces the VGG19 file, which is never read
        adversarial=0.1,
        r1_every=2,
        discriminator_channels=8,
        perceptual=0.5,
        perceptual_weights=tmp_path / "unused",
        region=1.0,
    )
    task = AutoencoderTask(renderer, losses, perceptual_network=features)
    assert [phase.name for phase in task.phases()] == ["generator", "discriminator"]

    class _Data(SyntheticPairSource):
        def sample(self, index: int) -> dict[str, torch.Tensor]:
            sample = super().sample(index)
            del sample["params"]
            sample["regions"] = torch.tensor([[20.0, 36.0, 44.0, 50.0], [0.0, 0.0, 0.0, 0.0]])
            sample["regions_valid"] = torch.tensor([True, False])
            return sample

    data = _Data(identities(), SCALES, portrait_rate=0.5, batch_size=4)
    disc_before, features_before = _state(task.adversarial.discriminator), _state(features)  # type: ignore[union-attr]
    Trainer(task, data, _train_config(tmp_path, "ae", 4)).fit()
    assert _changed(disc_before, task.adversarial.discriminator)  # type: ignore[union-attr]
    assert not _changed(features_before, features)
    assert not any(p.requires_grad for p in features.parameters())
    rows = MetricsLog(tmp_path / METRICS_FILE).rows()
    assert {"perceptual", "region", "g_adv", "d_logistic", "loss/generator", "loss/discriminator"} <= set(rows[0])
    assert "r1" in rows[0]
    assert "r1" not in rows[1]


def test_autoencoder_errors() -> None:
    renderer = Renderer(tiny().renderer)
    with pytest.raises(ConfigError, match="needs the number P of known per-frame parameters"):
        AutoencoderTask(renderer, AELossConfig(parameters=1.0))
    with pytest.raises(ConfigError, match=r"P <= motion_dim = 8"):
        AutoencoderTask(renderer, AELossConfig(parameters=1.0), parameters=9)
    task = AutoencoderTask(renderer, AELossConfig(parameters=1.0), parameters=7)
    batch = _pairs().batch(0)
    with pytest.raises(ConfigError, match="has no 'params'"):
        task.loss({k: v for k, v in batch.items() if k != "params"}, _context())
    with pytest.raises(ShapeError, match=r"expected \(4, 7\)"):
        task.loss({**batch, "params": batch["params"][:, :3]}, _context())


def test_parameter_forcing_decodes_the_known_parameters_in_the_drawn_rows() -> None:
    torch.manual_seed(0)
    renderer = Renderer(tiny().renderer).eval()
    batch = _pairs().batch(0)
    source, driving, params = batch["source"], batch["driving"], batch["params"]
    rows = torch.tensor([True, False, True, False])
    with torch.no_grad():
        plain, coefficients = renderer.autoencode(source, driving)
        forced, same = renderer.autoencode(source, driving, (params, rows))
        identity = renderer.encode(source).identity
        known = torch.cat([params, coefficients[:, 7:]], dim=1)
        expected, grid = renderer.dec(identity + renderer.dec.direction(known), renderer.enc(source).features)
    assert torch.equal(same, coefficients)  # the parameter loss still sees the encoder's reading
    assert torch.equal(forced[~rows], plain[~rows])
    # the same decoder on a batch of other rows: other blockings of the same sums, and the warps' coordinates
    depth = layers_depth(renderer) + 8 * int(math.log2(renderer.config.size))  # bilinear warps: 8 a level
    magnitude = sampled_magnitude(expected[rows], grid[rows])
    assert_rounding_close(forced[rows], expected[rows], depth=depth, magnitude=magnitude)
    assert not torch.allclose(forced[rows], plain[rows], atol=1e-3)
    with pytest.raises(ShapeError, match="forced values must have shape"):
        renderer.autoencode(source, driving, (params[:2], rows))

    losses = AELossConfig(parameters=1.0, parameter_forcing=1.0)
    task = AutoencoderTask(renderer, losses, parameters=7)
    with torch.no_grad():
        everywhere = task.loss(batch, _context())
        never = AutoencoderTask(renderer, AELossConfig(parameters=1.0), parameters=7).loss(batch, _context())
    assert float(everywhere.parts["params"]) == pytest.approx(float(never.parts["params"]))
    assert float(everywhere.parts["l1"]) != pytest.approx(float(never.parts["l1"]))
    with pytest.raises(ValueError, match="parameter_forcing needs known parameters"):
        AELossConfig(parameter_forcing=0.5)


def test_autoencoder_builder_refuses_parameter_loss_on_videos(tmp_path: Path) -> None:
    config = train_config_from_dict(
        {"preset": "ae-tiny", "videos": str(tmp_path), "output_dir": str(tmp_path), "losses": {"parameters": 1.0}}
    )
    with pytest.raises(ConfigError, match="videos do not have"):
        build_autoencoder_task(config, _dist())


def test_builtin_tasks_are_registered() -> None:
    assert TASK_BUILDERS["ae"] is build_autoencoder_task
    assert TASK_BUILDERS["flow"] is build_flow_task


# ------------------------------------------------------------------------------------------------ flow


def _flow_task(cache: FeatureCache, *, renderer: Renderer | None = None) -> tuple[FlowTask, int]:
    model = tiny()
    margin = audio_margin(model.conditioner, True)
    task = FlowTask(FlowSampler(model.flow), Conditioner(model.conditioner), margin=margin, renderer=renderer)
    return task, margin


def _windows(cache: FeatureCache, margin: int, batch_size: int = 4, seed: int = 0) -> WindowSource:
    flow = tiny().flow
    return WindowSource(
        cache,
        window=flow.window,
        context=flow.context + margin,
        batch_size=batch_size,
        seed=seed,
        source_frame="cached",
    )


def test_trained_mel_features_equal_whole_clip_features(tmp_path: Path) -> None:
    """Each window is encoded with its receptive field (from the clip start when it reaches it), so the features
    of the L' + L frames the loss uses equal the conditioner's whole-clip features at inference, frame for frame."""
    model = tiny()
    spf = model.conditioner.samples_per_frame
    frames = 40
    with FeatureCacheWriter(tmp_path) as writer:
        for clip, identity in enumerate(identities()):
            waveform = normalize_waveform(identity.audio[: frames * spf], model.conditioner.norm_eps)
            index = torch.arange(frames, dtype=torch.float32)[:, None]
            motion = torch.cat([index, torch.full((frames, 1), float(clip)), torch.zeros(frames, 30)], dim=1)
            audio = torch.from_numpy(waveform).reshape(frames, spf)
            writer.add(f"c{clip}", {"motion": motion, "audio": audio, "source": motion[0].clone()})
    cache = FeatureCache(tmp_path)
    torch.manual_seed(0)
    task, margin = _flow_task(cache)
    data = _windows(cache, margin, batch_size=24)
    batch = data.next_batch()
    with torch.no_grad():
        features = task.audio_features(batch["prev_audio"], batch["audio"], batch["context_valid"])
        whole = [
            task.conditioner.encode_audio(torch.from_numpy(normalize_waveform(f.audio[: frames * spf], 1e-7))[None])[0]
            for f in identities()
        ]
    window, context = model.flow.window, model.flow.context + margin
    starts = []
    for b in range(batch["motion"].shape[0]):
        start, clip = int(batch["motion"][b, 0, 0]), int(batch["motion"][b, 0, 1])
        starts.append(start)
        first = max(0, start - context)
        expected = torch.zeros(context + window, model.conditioner.audio_dim)
        expected[context - (start - first) :] = whole[clip][first : start + window]
        # The first `margin` frames only give the later ones their receptive field; the loss uses the rest.
        # the same encoder on a window of the clip's samples: the layers and the clip-wide sums (3 per sample)
        depth = layers_depth(task.conditioner) + 3 * frames * spf
        assert_rounding_close(features[b, margin:], expected[margin:], depth=depth)
    assert min(starts) < context <= max(starts)  # windows at the clip start and inside the clip were checked


def test_flow_steps_lower_the_loss_train_the_audio_encoder_and_keep_the_renderer_frozen(tmp_path: Path) -> None:
    cache = FeatureCache(write_waveform_cache(tmp_path / "features", tiny()))
    torch.manual_seed(0)
    renderer = Renderer(tiny().renderer)
    renderer_before = _state(renderer)
    task, margin = _flow_task(cache, renderer=renderer)
    held_out = _windows(cache, margin, batch_size=16, seed=99).next_batch()

    def loss() -> float:
        with torch.no_grad():
            return float(task.loss(held_out, _context(seed=5)).total)

    first = loss()
    flow_before, conditioner_before = _state(task.sampler), _state(task.conditioner)
    result = Trainer(task, _windows(cache, margin), _train_config(tmp_path / "run", "flow", 40)).fit()
    assert loss() < 0.8 * first
    assert _changed(flow_before, task.sampler)
    assert _changed(conditioner_before, task.conditioner)
    assert not _changed(renderer_before, renderer)
    assert not any(p.requires_grad for p in renderer.parameters())
    assert result.checkpoint is not None
    saved = {p.name for p in result.checkpoint.glob("*.safetensors")}
    assert saved == {
        "flow.safetensors",
        "flow.ema.safetensors",
        "conditioner.safetensors",
        "conditioner.ema.safetensors",
    }
    assert {"ot", "vel"} <= set(MetricsLog(tmp_path / "run" / METRICS_FILE).rows()[-1])


def test_flow_resume_is_bit_identical(tmp_path: Path) -> None:
    cache = FeatureCache(write_waveform_cache(tmp_path / "features", tiny()))

    def run(folder: Path, steps: int, resume: str | None = None) -> FlowTask:
        torch.manual_seed(0)
        task, margin = _flow_task(cache)
        config = _train_config(folder, "flow", steps, checkpoint_every=3, resume=resume)
        Trainer(task, _windows(cache, margin), config).fit()
        return task

    straight = run(tmp_path / "straight", 6)
    run(tmp_path / "resumed", 3)
    resumed = run(tmp_path / "resumed", 6, resume="latest")
    for a, b in ((straight.sampler, resumed.sampler), (straight.conditioner, resumed.conditioner)):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name
    ema_a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "step-00000006").ema
    ema_b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "step-00000006").ema
    for module in ("flow", "conditioner"):
        for key in ema_a[module]:
            assert torch.equal(ema_a[module][key], ema_b[module][key]), key
    rows_a = MetricsLog(tmp_path / "straight" / METRICS_FILE).rows()
    rows_b = MetricsLog(tmp_path / "resumed" / METRICS_FILE).rows()
    assert rows_a == rows_b


def test_flow_with_fixed_features_freezes_the_conditioner(tmp_path: Path) -> None:
    model = tiny()
    with FeatureCacheWriter(tmp_path / "features") as writer:
        for clip in range(2):
            writer.add(
                f"c{clip}",
                {
                    "motion": smooth_motion(30, model.flow.motion_dim, clip),
                    "audio": torch.randn(30, model.conditioner.audio_dim),
                },
            )
    cache = FeatureCache(tmp_path / "features")
    torch.manual_seed(0)
    conditioner = Conditioner(model.conditioner)
    task = FlowTask(FlowSampler(model.flow), conditioner, train_audio_encoder=False)
    before = _state(conditioner)
    flow = model.flow
    data = WindowSource(cache, window=flow.window, context=flow.context, batch_size=4, source_frame="random")
    result = Trainer(task, data, _train_config(tmp_path / "run", "flow", 3)).fit()
    assert not _changed(before, conditioner)
    assert result.checkpoint is not None
    assert not (result.checkpoint / "conditioner.safetensors").exists()


def test_flow_task_errors(tmp_path: Path) -> None:
    model = tiny()
    cache = FeatureCache(write_waveform_cache(tmp_path / "features", model))
    task, _ = _flow_task(cache)
    batch = _windows(cache, 0).next_batch()
    with pytest.raises(ShapeError, match="L' \\+ margin"):
        task.loss(batch, _context())
    wrong = model.conditioner.model_copy(update={"audio_dim": 16})
    with pytest.raises(ConfigError, match="16-d audio features"):
        FlowTask(FlowSampler(model.flow), Conditioner(wrong))
    config = train_config_from_dict(
        {
            "preset": "flow-tiny",
            "features": str(tmp_path / "features"),
            "output_dir": str(tmp_path / "run"),
            "train_audio_encoder": False,
        }
    )
    with pytest.raises(ConfigError, match="extract the features again"):
        build_flow_task(config, _dist())
    missing = train_config_from_dict({"preset": "flow-tiny", "features": str(tmp_path / "nope"), "output_dir": "o"})
    with pytest.raises(ConfigError, match="does not exist; extract it first"):
        build_flow_task(missing, _dist())


# ------------------------------------------------------------------------------------------------ both, from videos


def test_run_training_on_videos_then_export_a_loadable_model(tmp_path: Path) -> None:
    """`motionkit train ae|flow --config` path: registered builders, feature extraction with the frozen
    auto-encoder, then export of both checkpoints to a model folder that load_model reads."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for index, identity in enumerate(identities(2)):
        with VideoWriter(videos / f"clip{index}.mp4", fps=25.0, audio=identity.audio, crf=10) as video:
            video.write(identity.frames[: identity.clip_frames])
    common = {"device": "cpu", "steps": 3, "warmup_steps": 1, "log_every": 1, "data_workers": 0}
    ae_checkpoint = run_training(
        "ae",
        train_config_from_dict(
            {"preset": "ae-tiny", "videos": str(videos), "output_dir": str(tmp_path / "ae"), "crop": "resize", **common}
        ),
    )
    flow_config = {
        "preset": "flow-tiny",
        "videos": str(videos),
        "features": str(tmp_path / "features"),
        "autoencoder": str(ae_checkpoint),
        "crop": "resize",
        "output_dir": str(tmp_path / "flow"),
        **common,
    }
    flow_checkpoint = run_training("flow", train_config_from_dict(flow_config))
    cache = FeatureCache(tmp_path / "features")
    assert len(cache) == 2
    assert cache.dims == {"motion": 32, "audio": 640}
    with umask():
        folder = export_model(
            tmp_path / "model", autoencoder=ae_checkpoint, flow=flow_checkpoint, manifest={"license": "x"}
        )
    assert unusual_modes([folder]) == []  # weights readable like the JSON beside them
    parts = load_model(folder)
    ema = load_checkpoint(flow_checkpoint).ema
    for name, value in parts.sampler.state_dict().items():
        assert torch.equal(value, ema["flow"][name]), name
    for name, value in parts.conditioner.state_dict().items():
        assert torch.equal(value, ema["conditioner"][name]), name
    renderer_ema = load_checkpoint(ae_checkpoint).ema["renderer"]
    for name, value in parts.renderer.state_dict().items():
        assert torch.equal(value, renderer_ema[name]), name
    assert parts.manifest["license"] == "x"
    with pytest.raises(CheckpointError, match="holds no weights of 'flow'"):
        export_model(tmp_path / "wrong", autoencoder=ae_checkpoint, flow=ae_checkpoint)
