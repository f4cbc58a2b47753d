"""Training speed of the synthetic-demo model's two stages, and what CPU threads do on a shared machine.

Measures one optimiser step (loss, backward, AdamW, EMA through :class:`motionkit.train.Trainer`) of

* the auto-encoder task (``synthetic-demo`` renderer, 64 px, batch 16, multi-scale L1 + SSIM + parameter head),
* the flow task (``synthetic-demo`` flow model + mel encoder trained jointly, batch 32 windows of 10 + 50 frames),

with 1 and 2 torch threads, on an idle machine and with one competing busy process (``--contention``), and prints
the steps per second and the ratios. With ``--model FOLDER`` it also prints the stage timings recorded in a model
folder's manifest (e.g. the shipped ``motionkit/assets/models/synthetic-demo``). Results go to
``benchmarks/results/train_demo.csv``.

Run: ``PYTHONPATH=.:kernels python benchmarks/train_demo.py [--contention] [--model FOLDER]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from harness import write_csv

from motionkit.conditioner import Conditioner
from motionkit.config.train import AELossConfig, TrainConfig
from motionkit.data.cache import FeatureCache, FeatureCacheWriter, WindowSource
from motionkit.data.synthetic import SyntheticWorld, close_up
from motionkit.families import preset
from motionkit.flow import FlowSampler
from motionkit.io import normalize_waveform
from motionkit.renderer import Renderer
from motionkit.train import Trainer
from motionkit.train.demo.data import SyntheticPairSource, make_identities, parameter_scales, training_seeds
from motionkit.train.tasks import AutoencoderTask, FlowTask, audio_margin

RESULTS = Path(__file__).parent / "results" / "train_demo.csv"
STEPS, WARMUP = 25, 5
AE_BATCH, FLOW_BATCH = 16, 32


def _busy(stop: Any) -> None:
    while not stop.is_set():
        pass


def _timed_fit(task: Any, data: Any, folder: Path, kind: str, batch: int) -> float:
    """Seconds per step after the warm-up steps (checkpoint writing excluded)."""
    stamps: list[float] = []
    loss = task.loss

    def timed(batch_: Any, context: Any) -> Any:
        if context.phase in ("main", "generator"):
            stamps.append(time.perf_counter())
        return loss(batch_, context)

    task.loss = timed
    config = TrainConfig(
        kind=kind,  # type: ignore[arg-type]
        model="synthetic-demo",
        output_dir=folder,
        steps=STEPS,
        batch_size=batch,
        lr=1e-3,
        ema_decay=0.999,
        log_every=STEPS,
        checkpoint_every=10**9,
        device="cpu",
        data_workers=0,
    )
    Trainer(task, data, config).fit()
    return (stamps[-1] - stamps[WARMUP]) / (len(stamps) - 1 - WARMUP)


def autoencoder_step(folder: Path) -> float:
    model = preset("synthetic-demo")
    world = SyntheticWorld(close_up(), size=model.renderer.size)
    identities = make_identities(close_up(), model.renderer.size, training_seeds(0, 4), 2.0, 8)
    data = SyntheticPairSource(identities, parameter_scales(world), portrait_rate=0.5, batch_size=AE_BATCH)
    task = AutoencoderTask(Renderer(model.renderer), AELossConfig(parameters=1.0), parameters=7)
    return _timed_fit(task, data, folder, "ae", AE_BATCH)


def flow_step(folder: Path) -> float:
    model = preset("synthetic-demo")
    spf = model.conditioner.samples_per_frame
    identities = make_identities(close_up(), model.renderer.size, training_seeds(0, 4), 4.0, 0)
    rng = np.random.default_rng(0)
    with FeatureCacheWriter(folder / "features") as writer:
        for identity in identities:
            frames = identity.clip_frames
            audio = normalize_waveform(identity.audio, model.conditioner.norm_eps).reshape(frames, spf)
            motion = torch.from_numpy(rng.standard_normal((frames, model.flow.motion_dim)).astype(np.float32))
            writer.add(
                str(identity.seed), {"motion": motion, "audio": torch.from_numpy(audio), "source": motion[0].clone()}
            )
    margin = audio_margin(model.conditioner, True)
    data = WindowSource(
        FeatureCache(folder / "features"),
        window=model.flow.window,
        context=model.flow.context + margin,
        batch_size=FLOW_BATCH,
        source_frame="cached",
    )
    task = FlowTask(FlowSampler(model.flow), Conditioner(model.conditioner), margin=margin)
    return _timed_fit(task, data, folder / "run", "flow", FLOW_BATCH)


def measure(name: str, step: Callable[[Path], float], threads: int, contention: bool) -> dict[str, Any]:
    torch.set_num_threads(threads)
    stop = multiprocessing.Event()
    burner = multiprocessing.Process(target=_busy, args=(stop,)) if contention else None
    if burner is not None:
        burner.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = step(Path(tmp))
    finally:
        if burner is not None:
            stop.set()
            burner.join()
    row = {"stage": name, "threads": threads, "contention": contention, "ms_per_step": round(1000 * seconds, 1)}
    print(f"{name:<12} threads {threads}  contention {contention!s:<5}  {row['ms_per_step']:8.1f} ms/step", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contention", action="store_true", help="also measure with one competing busy process")
    parser.add_argument("--model", type=Path, help="a model folder whose recorded stage timings to print")
    args = parser.parse_args()
    rows = []
    for contention in (False, True) if args.contention else (False,):
        for threads in (1, 2):
            rows.append(measure("autoencoder", autoencoder_step, threads, contention))
            rows.append(measure("flow", flow_step, threads, contention))
    for stage in ("autoencoder", "flow"):
        for contention in sorted({r["contention"] for r in rows}):
            one, two = (
                next(
                    r["ms_per_step"]
                    for r in rows
                    if (r["stage"], r["threads"], r["contention"]) == (stage, t, contention)
                )
                for t in (1, 2)
            )
            print(f"{stage}: 2 threads vs 1 (contention {contention}): {one / two:.2f}x speed")
    write_csv(RESULTS, rows)
    if args.model is not None:
        manifest = json.loads((args.model / "manifest.json").read_text(encoding="utf-8"))
        print(f"recorded stage timings of {args.model}:")
        for stage, entry in manifest.get("timings", {}).items():
            print(f"  {stage:<14} {entry['wall_s']:8.1f} s wall  {entry['cpu_s']:8.1f} s CPU")
        total = manifest.get("training_time", {})
        print(f"  training total {total.get('wall_s')} s wall, {total.get('cpu_s')} s CPU")


if __name__ == "__main__":
    main()
