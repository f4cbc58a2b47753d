"""The training loop: learning, exact resume, phases, accumulation, clipping, sampling, errors."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from train_fixtures import (
    RegressionData,
    RegressionTask,
    SamplingRegressionTask,
    TwoPhaseTask,
    snapshot,
    tiny_config,
    training_depth,
)

from motionkit.errors import CheckpointError, ConfigError, NonFiniteError
from motionkit.testing.tolerances import assert_rounding_close
from motionkit.train import LossOutput, Phase, Trainer, latest_checkpoint, load_checkpoint
from motionkit.train.checkpoint import list_checkpoints
from motionkit.train.metrics import MetricsLog


def _fit(task: object, config, data_seed: int = 7, batch_size: int | None = None) -> Trainer:
    data = RegressionData(batch_size=batch_size or config.batch_size, seed=data_seed)
    trainer = Trainer(task, data, config)  # type: ignore[arg-type]
    trainer.fit()
    return trainer


def test_few_steps_lower_the_loss_and_change_the_weights(tmp_path: Path) -> None:
    task = RegressionTask()
    before = snapshot(task.modules())
    trainer = _fit(task, tiny_config(tmp_path, steps=40, lr=3e-2, schedule="constant", batch_size=16))
    after = snapshot(task.modules())
    rows = MetricsLog(tmp_path / "metrics.csv").rows()
    assert [row["step"] for row in rows] == list(range(1, 41))
    first = np.mean([row["loss/main"] for row in rows[:5]])
    last = np.mean([row["loss/main"] for row in rows[-10:]])
    assert last < 0.3 * first
    assert not torch.equal(before["net.hidden.weight"], after["net.hidden.weight"])
    assert torch.equal(before["prior.weight"], after["prior.weight"])  # frozen module untouched
    assert set(trainer.modules) == {"net"}
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-00000040"


def _scramble_global_rng() -> None:
    torch.manual_seed(12345)
    np.random.seed(54321)
    random.seed(999)


class _CrashError(Exception):
    pass


class _CrashingTask(RegressionTask):
    def __init__(self, crash_at: int, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.crash_at = crash_at

    def loss(self, batch, context):  # type: ignore[no-untyped-def]
        if context.step == self.crash_at:
            raise _CrashError
        return super().loss(batch, context)


@pytest.mark.parametrize("accumulation", [1, 2])
def test_resume_continues_bit_identically(tmp_path: Path, accumulation: int) -> None:
    """N straight steps == k steps, save, crash, fresh objects, resume, N - k steps (weights, EMA, optimiser, losses).

    The task draws noise from its generator, dropout from the global RNG and the data from its stream; logging
    every 2 steps with a checkpoint at step 5 leaves a half-accumulated metrics window in the checkpoint.
    """
    common = {"steps": 11, "grad_accumulation": accumulation, "log_every": 2, "ema_decay": 0.8, "checkpoint_every": 5}
    torch.manual_seed(3)
    straight_task = RegressionTask(noise=0.3, dropout=0.2)
    straight = _fit(straight_task, tiny_config(tmp_path / "straight", **common))

    torch.manual_seed(3)
    with pytest.raises(_CrashError):
        _fit(_CrashingTask(6, noise=0.3, dropout=0.2), tiny_config(tmp_path / "resumed", **common))
    _scramble_global_rng()
    resumed_task = RegressionTask(noise=0.3, dropout=0.2)  # fresh weights, overwritten by the checkpoint
    resumed = _fit(resumed_task, tiny_config(tmp_path / "resumed", resume="latest", **common))

    assert resumed.step == straight.step == 11
    a, b = snapshot({"net": straight_task.net}), snapshot({"net": resumed_task.net})  # frozen prior not saved
    for key in a:
        assert torch.equal(a[key], b[key]), key
    for name in straight.ema.shadow["net"]:  # type: ignore[union-attr]
        assert torch.equal(straight.ema.shadow["net"][name], resumed.ema.shadow["net"][name])  # type: ignore[union-attr]
    sa, sb = straight.optimizers["main"].state_dict()["state"], resumed.optimizers["main"].state_dict()["state"]
    for index in sa:
        for key in sa[index]:
            assert torch.equal(sa[index][key], sb[index][key])
    rows_a = MetricsLog(tmp_path / "straight" / "metrics.csv").rows()
    rows_b = MetricsLog(tmp_path / "resumed" / "metrics.csv").rows()
    assert rows_a == rows_b  # no duplicated or lost row; identical values
    assert [row["step"] for row in rows_b] == [2, 4, 6, 8, 10, 11]


def test_resume_truncates_rows_written_after_the_checkpoint(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, steps=6, checkpoint_every=3)
    _fit(RegressionTask(), config)
    # A crash after step 6's checkpoint would not matter; simulate rows written after step 3's checkpoint.
    checkpoints = list_checkpoints(tmp_path / "checkpoints")
    assert [step for step, _ in checkpoints] == [3, 6]
    import shutil

    shutil.rmtree(checkpoints[-1][1])
    with (tmp_path / "metrics.csv").open("a") as handle:
        handle.write("7,0.5")  # a half-written line
    trainer = _fit(RegressionTask(), config.model_copy(update={"resume": "latest"}))
    assert trainer.step == 6
    assert [row["step"] for row in MetricsLog(tmp_path / "metrics.csv").rows()] == [1, 2, 3, 4, 5, 6]


def test_fresh_run_refuses_an_output_dir_with_checkpoints(tmp_path: Path) -> None:
    _fit(RegressionTask(), tiny_config(tmp_path, steps=2))
    with pytest.raises(ConfigError, match=r"already holds checkpoints.*resume"):
        _fit(RegressionTask(), tiny_config(tmp_path, steps=2))


def test_resume_latest_without_checkpoints_starts_fresh(tmp_path: Path) -> None:
    trainer = _fit(RegressionTask(), tiny_config(tmp_path, steps=2, resume="latest"))
    assert trainer.step == 2


def test_resume_from_a_checkpoint_of_another_model_fails_clearly(tmp_path: Path) -> None:
    _fit(TwoPhaseTask(), tiny_config(tmp_path / "gan", steps=1))
    folder = latest_checkpoint(tmp_path / "gan" / "checkpoints")
    with pytest.raises(CheckpointError, match="no weights for trained modules"):
        _fit(RegressionTask(), tiny_config(tmp_path / "reg", steps=2, resume=str(folder)))
    with pytest.raises(CheckpointError, match="does not exist or is incomplete"):
        _fit(RegressionTask(), tiny_config(tmp_path / "reg2", steps=2, resume=str(tmp_path / "missing")))


def test_accumulation_equals_the_combined_batch(tmp_path: Path) -> None:
    one = RegressionTask(batch_norm=False)  # batch statistics would differ between the splits
    two = RegressionTask(batch_norm=False)
    two.net.load_state_dict(one.net.state_dict())
    _fit(one, tiny_config(tmp_path / "a", batch_size=8, ema_decay=None))
    _fit(two, tiny_config(tmp_path / "b", batch_size=4, grad_accumulation=2, ema_decay=None))
    # two halves of 4 rows averaged against 8 rows at once: the same sums, grouped otherwise
    depth = training_depth(one.net, steps=12, batch_size=8)
    for a, b in zip(one.net.state_dict().values(), two.net.state_dict().values()):
        assert_rounding_close(a, b, depth=depth)
    rows_a = MetricsLog(tmp_path / "a" / "metrics.csv").rows()
    rows_b = MetricsLog(tmp_path / "b" / "metrics.csv").rows()
    losses_a = torch.tensor([r["loss/main"] for r in rows_a], dtype=torch.float64)
    losses_b = torch.tensor([r["loss/main"] for r in rows_b], dtype=torch.float64)
    assert_rounding_close(losses_a, losses_b, depth=depth, dtype=torch.float32)


def test_gradient_clipping_bounds_the_update_norm(tmp_path: Path) -> None:
    task = RegressionTask()
    trainer = _fit(task, tiny_config(tmp_path, steps=3, grad_clip=1e-3, lr=1e-1))
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in task.net.parameters()]))
    assert float(norm) <= 1e-3 * (1 + 1e-5)
    rows = MetricsLog(tmp_path / "metrics.csv").rows()
    assert all(row["grad_norm/main"] > 1e-3 for row in rows)  # the logged norm is the norm before clipping
    assert trainer.config.grad_clip == 1e-3


def test_learning_rate_follows_the_schedule(tmp_path: Path) -> None:
    _fit(RegressionTask(), tiny_config(tmp_path, steps=10, warmup_steps=4, lr=0.1, min_lr_ratio=0.1))
    rates = [row["lr/main"] for row in MetricsLog(tmp_path / "metrics.csv").rows()]
    assert rates[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert rates[4] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(rates[4:]))


def test_ema_tracks_the_weights(tmp_path: Path) -> None:
    task = RegressionTask()
    trainer = _fit(task, tiny_config(tmp_path, steps=20, ema_decay=0.5, ema_warmup=False))
    assert trainer.ema is not None
    assert trainer.ema.updates == 20
    ema = trainer.ema.shadow["net"]["out.weight"]
    current = task.net.out.weight.detach()
    assert not torch.equal(ema, current)
    assert float((ema - current).abs().max()) < 0.1
    saved = load_checkpoint(latest_checkpoint(tmp_path / "checkpoints"))
    assert torch.equal(saved.ema["net"]["out.weight"], ema)


def test_two_phases_step_their_own_modules(tmp_path: Path) -> None:
    task = TwoPhaseTask()
    before = snapshot(task.modules())
    trainer = _fit(task, tiny_config(tmp_path, steps=4))
    after = snapshot(task.modules())
    assert not torch.equal(before["generator.weight"], after["generator.weight"])
    assert not torch.equal(before["critic.weight"], after["critic.weight"])
    assert task.critic_grad_in_generator_phase == [False] * 4
    assert task.critic.weight.requires_grad  # restored after the phase
    assert trainer.ema is not None
    assert set(trainer.ema.shadow) == {"generator"}
    assert trainer.optimizers["critic"].param_groups[0]["lr"] == pytest.approx(
        0.5 * trainer.optimizers["generator"].param_groups[0]["lr"]
    )
    row = MetricsLog(tmp_path / "metrics.csv").rows()[-1]
    assert {"loss/generator", "loss/critic", "mse", "critic", "grad_norm/critic"} <= set(row)


def test_sampling_uses_ema_weights_in_eval_mode_and_leaves_training_unchanged(tmp_path: Path) -> None:
    plain = RegressionTask(noise=0.2, dropout=0.3)
    sampled = SamplingRegressionTask(noise=0.2, dropout=0.3)
    sampled.net.load_state_dict(plain.net.state_dict())
    sampled.prior.load_state_dict(plain.prior.state_dict())
    _fit(plain, tiny_config(tmp_path / "plain", steps=6))
    trainer = _fit(sampled, tiny_config(tmp_path / "sampled", steps=6, sample_every=3))
    for (key, a), b in zip(plain.net.state_dict().items(), sampled.net.state_dict().values()):
        assert torch.equal(a, b), key
    assert [step for step, _, _ in sampled.seen] == [3, 6]
    assert all(not training for _, _, training in sampled.seen)
    assert sampled.net.training
    assert torch.equal(sampled.seen[-1][1], trainer.ema.shadow["net"]["out.weight"])  # type: ignore[union-attr]
    assert (tmp_path / "sampled" / "samples" / "step-00000003" / "preview.txt").read_text() == "3\n"


class _NaNTask(RegressionTask):
    def loss(self, batch, context):  # type: ignore[no-untyped-def]
        output = super().loss(batch, context)
        return LossOutput(output.total * float("nan"), {})


def test_non_finite_loss_stops_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NonFiniteError, match=r"loss/main became nan by step 1.*learning rate"):
        _fit(_NaNTask(), tiny_config(tmp_path, steps=3))


class _BadOutputTask(RegressionTask):
    def loss(self, batch, context):  # type: ignore[no-untyped-def]
        return super().loss(batch, context).total


def test_task_contract_violations_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must return a LossOutput"):
        _fit(_BadOutputTask(), tiny_config(tmp_path / "a", steps=1))
    frozen = RegressionTask()
    frozen.net.requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        _fit(frozen, tiny_config(tmp_path / "b", steps=1))


def test_mixed_precision_needs_cuda(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    config = tiny_config(tmp_path, precision="bf16", device="auto")
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        Trainer(RegressionTask(), RegressionData(batch_size=2), config)  # type: ignore[arg-type]


class _PhasedRegression(RegressionTask):
    def __init__(self, phases: list[Phase]) -> None:
        super().__init__()
        self._phases = phases

    def phases(self) -> list[Phase]:
        return self._phases


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ([], "non-empty with unique names"),
        ([Phase("a", ("net",)), Phase("a", ())], "unique names"),
        ([Phase("a", ("prior",))], "'prior', which is frozen"),
        ([Phase("a", ("ghost",))], "not in TrainTask.modules"),
        ([Phase("a", ("net",)), Phase("b", ("net",))], "in phases 'a' and 'b'"),
        ([Phase("a", ())], r"\['net'\] are in no phase"),
    ],
)
def test_phase_declarations_are_checked(tmp_path: Path, phases: list[Phase], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Trainer(_PhasedRegression(phases), RegressionData(batch_size=2), tiny_config(tmp_path))  # type: ignore[arg-type]


def test_sampling_interval_without_a_sampling_task_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="no sample\\(\\) method"):
        Trainer(RegressionTask(), RegressionData(batch_size=2), tiny_config(tmp_path, sample_every=2))  # type: ignore[arg-type]
