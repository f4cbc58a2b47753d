"""Thread pools under CPU contention: one small ``generate`` (the shipped synthetic-demo model, 64 px, the bundled
4 s clip) with other processes busy, for each thread setting, in a fresh process each.

Run from the project root::

    PYTHONPATH=. python benchmarks/contention.py                    # loads 0, 1 and 2 busy processes per core
    PYTHONPATH=. python benchmarks/contention.py --loads 0 4 --out benchmarks/results/contention_cpu.csv

The background load is ``--loads`` processes per available core, each spinning a pure-Python loop (no OpenMP of
its own), started before and stopped after each case. The settings compared:

* ``torch defaults``: torch imported before motionkit, so the OpenMP runtime keeps its default wait policy
  (threads spin between parallel regions), one thread per core;
* ``torch defaults, 1 thread``: the same with ``torch.set_num_threads(1)`` (the ``OMP_NUM_THREADS=1`` remedy);
* ``passive, all cores``: motionkit's wait policy (``OMP_WAIT_POLICY=PASSIVE``, idle threads sleep), one thread per
  core;
* ``motionkit defaults``: the passive policy and :func:`motionkit.runtime.default_threads` (cores minus the load
  average), what ``motionkit generate`` does without ``--threads``.

Each case prints its wall and process-CPU seconds (generation and decoding of every frame, model loading excluded)
and a hash of the frames: the output must not depend on the setting.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import machine, write_csv

SETTINGS: dict[str, dict[str, str]] = {
    "torch defaults": {"order": "torch-first", "threads": "cores"},
    "torch defaults, 1 thread": {"order": "torch-first", "threads": "1"},
    "passive, all cores": {"order": "motionkit-first", "threads": "cores"},
    "motionkit defaults": {"order": "motionkit-first", "threads": "auto"},
}
"""Name -> how the child process imports and sets its threads."""

CHILD = """
import hashlib, json, os, sys, time, warnings
warnings.simplefilter("ignore")
order, threads = sys.argv[1], sys.argv[2]
if order == "torch-first":
    import torch
import motionkit  # sets the passive wait policy unless torch came first
import torch
from motionkit import Pipeline, runtime
from motionkit.assets import bundled_model_path, demo_speech_path, demo_portrait_path

counts = {"cores": runtime.available_cores(), "auto": None}
used = runtime.configure_threads(counts[threads] if threads in counts else int(threads))
pipeline = Pipeline.from_pretrained(bundled_model_path("synthetic-demo"))
wall, cpu = time.perf_counter(), time.process_time()
video = pipeline.generate(demo_portrait_path(), demo_speech_path(), "neutral", seed=0)
digest = hashlib.sha256()
for frame in video.frames():
    digest.update(frame.tobytes())
print(json.dumps({"threads": used, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                  "frames": len(video), "wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
                  "frames_sha256": digest.hexdigest()[:16]}))
"""


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    value = 0
    while not stop.is_set():
        for i in range(100_000):
            value ^= i


def _run_case(setting: dict[str, str], timeout: float) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OMP_NUM_THREADS")}
    env["PYTHONWARNINGS"] = "ignore"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, setting["order"], setting["threads"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--loads", type=float, nargs="+", default=[0.0, 1.0, 2.0], help="busy processes per core")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one case may take")
    parser.add_argument("--out", type=Path, help="CSV file for the figures")
    args = parser.parse_args()
    from motionkit.runtime import available_cores

    cores = available_cores()
    print(machine())
    rows = []
    for load in args.loads:
        spinners = round(load * cores)
        stop = multiprocessing.Event()
        workers = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(spinners)]
        for worker in workers:
            worker.start()
        time.sleep(1.0 if workers else 0.0)
        try:
            for name in args.settings:
                before = os.getloadavg()[0]
                row = {"busy_processes": spinners, "setting": name, "load_average": round(before, 2)}
                row.update(_run_case(SETTINGS[name], args.timeout))
                rows.append(row)
                print(
                    f"{spinners} busy | {name:26s} | {row['threads']} threads ({row['wait_policy']}) | "
                    f"wall {row['wall_s']:.2f} s, cpu {row['cpu_s']:.2f} s | load avg {before:.1f} | "
                    f"frames {row['frames']} sha {row['frames_sha256']}",
                    flush=True,
                )
        finally:
            stop.set()
            for worker in workers:
                worker.join()
    if args.out:
        write_csv(args.out, rows)


if __name__ == "__main__":
    main()
