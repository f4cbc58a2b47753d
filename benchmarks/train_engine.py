"""Training-engine overhead and frame-pair decoding speed.

1. ms per step of :class:`motionkit.train.Trainer` against a hand-written loop doing the same work (AdamW, clipping,
   EMA) on an MLP, excluding checkpoint writing.
2. Random (source, driving) pairs from a generated video: seeking reads (``read_frames``) against decoding the
   whole clip for each pair.

Run: ``PYTHONPATH=.:kernels python benchmarks/train_engine.py`` (prints figures; nothing is written outside a
temporary folder).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
import torch.nn.functional as F
from harness import machine, measure
from torch import nn

from motionkit.config.train import TrainConfig
from motionkit.data.stream import IndexedBatchStream
from motionkit.data.video import FaceCropper, ScanSettings, iter_clip_frames, probe_clip, read_frames
from motionkit.train import LossOutput, StepContext, Trainer

WIDTH, DEPTH, BATCH, STEPS, WARMUP = 512, 4, 64, 60, 10


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(DEPTH):
        layers += [nn.Linear(WIDTH, WIDTH), nn.GELU()]
    return nn.Sequential(*layers)


class _Data(IndexedBatchStream):
    def sample(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        return {"x": torch.randn(WIDTH, generator=generator), "y": torch.randn(WIDTH, generator=generator)}


class _Task:
    def __init__(self) -> None:
        self.net = _mlp()

    def modules(self) -> Mapping[str, nn.Module]:
        return {"net": self.net}

    def loss(self, batch: Any, context: StepContext) -> LossOutput:
        mse = F.mse_loss(self.net(batch["x"]), batch["y"])
        return LossOutput(mse, {"mse": mse})


def plain_loop(steps: int) -> float:
    net = _mlp()
    data = _Data(batch_size=BATCH)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.0)
    shadows = [p.detach().clone() for p in net.parameters()]
    start = 0.0
    for step in range(steps):
        if step == WARMUP:
            start = time.perf_counter()
        batch = data.next_batch()
        optimizer.zero_grad(set_to_none=True)
        loss = F.mse_loss(net(batch["x"]), batch["y"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        torch._foreach_lerp_(shadows, [p.detach() for p in net.parameters()], 1e-3)
        if step % 10 == 0:
            float(loss.detach())
    return (time.perf_counter() - start) / (steps - WARMUP)


def trainer_loop(steps: int, folder: Path) -> float:
    times: list[float] = []

    class _Timed(_Task):
        def loss(self, batch: Any, context: StepContext) -> LossOutput:
            times.append(time.perf_counter())
            return super().loss(batch, context)

    config = TrainConfig(
        kind="ae",
        model="tiny",
        output_dir=folder,
        steps=steps,
        batch_size=BATCH,
        lr=1e-4,
        ema_decay=0.999,
        log_every=10,
        checkpoint_every=10**9,
        device="cpu",
        data_workers=0,
    )
    Trainer(_Timed(), _Data(batch_size=BATCH), config).fit()  # type: ignore[arg-type]
    return (times[-1] - times[WARMUP]) / (steps - 1 - WARMUP)


def _write_video(path: Path, frames: int, size: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "50"}
        rng = np.random.default_rng(0)
        base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        for i in range(frames):
            image = np.roll(base, i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def pair_reading(folder: Path, pairs: int = 20) -> tuple[float, float]:
    path = folder / "clip.mp4"
    _write_video(path, 250, 256)
    cropper = FaceCropper.resize(256)
    info = probe_clip(path, cropper, ScanSettings(require_audio=False))
    rng = np.random.default_rng(1)
    chosen = [rng.choice(info.frames, 2, replace=False).tolist() for _ in range(pairs)]
    seeking = measure(lambda: [read_frames(info, indices, cropper) for indices in chosen])[0] / pairs
    whole = chosen[:5]
    full = measure(lambda: [np.concatenate(list(iter_clip_frames(info, cropper)))[i] for i in whole])[0] / len(whole)
    return seeking, full


TRIALS = 3


def main() -> None:
    # Alternate the two loops and keep each one's best trial: shared machines make single timings noisy.
    plain, engine = float("inf"), float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(TRIALS):
            plain = min(plain, plain_loop(STEPS))
            engine = min(engine, trainer_loop(STEPS, Path(tmp) / f"run{trial}"))
        seeking, full = pair_reading(Path(tmp))
    print(f"machine: {machine()}")
    print(f"MLP {DEPTH}x{WIDTH}, batch {BATCH}, fp32 CPU, best of {TRIALS} trials")
    print(f"  hand-written loop   {plain * 1e3:8.2f} ms/step")
    print(f"  Trainer             {engine * 1e3:8.2f} ms/step   ratio {engine / plain:.2f}x")
    print("random frame pair from a 10 s 256x256 H.264 clip (keyframe every 2 s)")
    print(f"  read_frames (seek)  {seeking * 1e3:8.1f} ms/pair")
    print(f"  decode whole clip   {full * 1e3:8.1f} ms/pair   speed-up {full / seeking:.1f}x")


if __name__ == "__main__":
    main()
