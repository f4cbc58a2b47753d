"""``motionkit serve`` under load: N concurrent live sessions over real sockets, and a long soak of one session.

The server runs as its own process (``motionkit serve``, so its resident memory is its own); each client is a
thread pair on a real WebSocket that sends the bundled speech (looped) in 20 ms chunks *at real time* and reads
frames as they come. Per frame, the client-side latency is the time from sending the chunk that completed the
frame's audio (frame ``i`` covers ``[i / fps, (i + 1) / fps)``) to the frame's arrival: what a viewer waits,
lookahead, queueing, computation, JPEG and network included. The real-time factor (server busy time per second of
audio) and the frames dropped for slow delivery come from each session's ``done`` message; the server's resident
memory is sampled every second from ``/proc``.

Sections (``--sections``): ``concurrency`` (N = ``--sessions``, default 1,2,4,8, for ``--seconds`` of audio each) and
``soak`` (one session for ``--soak-minutes``, latency and server memory per ``--bin`` seconds, CSV and plot).

Run from the project root: ``PYTHONPATH=.:kernels python benchmarks/serve.py --model synthetic-demo``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from harness import machine, save_plot, write_csv
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from motionkit.assets import demo_speech_path
from motionkit.io import load_audio
from motionkit.serve.protocol import unpack_frame

RATE = 16000
CHUNK_SECONDS = 0.02
PCM16_MAX = 32767
STARTUP_SECONDS = 180.0
PRESETS = {"synthetic-demo": "synthetic-face"}
"""The portrait each model draws (others: the server's default, the real photo)."""


@dataclass
class SessionResult:
    sent_at: list[float] = field(default_factory=list)  # perf_counter of each chunk, in order
    arrivals: list[tuple[int, float]] = field(default_factory=list)  # (frame index, perf_counter)
    done: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def latencies(self, fps: float, chunk: int) -> np.ndarray:
        """Client-side seconds per frame (see the module docstring)."""
        out = []
        for index, arrived in self.arrivals:
            needed = (index + 1) / fps * RATE
            k = min(int(np.ceil(needed / chunk)) - 1, len(self.sent_at) - 1)
            out.append(arrived - self.sent_at[k])
        return np.asarray(out)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class Server:
    """``motionkit serve`` in a subprocess, and a sampler of its memory."""

    def __init__(self, model: str, sessions: int, threads: int) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "motionkit", "serve", "--quiet", "--model", model, "--port", str(self.port)]
        command += ["--max-sessions", str(sessions), "--threads", str(threads)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                httpx.get(self.url + "/v1/info")
                break
            except httpx.ConnectError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {self.process.stderr.read()}") from None
                time.sleep(0.2)
        self.memory: list[tuple[float, float]] = []  # (perf_counter, MiB)
        self.running = True
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()

    def _sample(self) -> None:
        while self.running:
            self.memory.append((time.perf_counter(), rss_mib(self.process.pid)))
            time.sleep(1.0)

    def stop(self) -> None:
        self.running = False
        self.process.terminate()
        self.process.wait(timeout=60)


def run_session(
    url: str, speech: np.ndarray, seconds: float, model: str, result: SessionResult, live: dict[str, int] | None = None
) -> None:
    """One client: speech (looped) sent at real time for ``seconds``, then ``end``; frames read concurrently."""
    chunk = round(RATE * CHUNK_SECONDS)
    total = round(seconds / CHUNK_SECONDS)
    pcm = (np.clip(speech, -1, 1) * PCM16_MAX).astype("<i2")
    try:
        with connect(url.replace("http", "ws") + "/v1/live", max_size=None) as ws:
            start: dict[str, Any] = {"type": "start", "audio": {"encoding": "s16", "sample_rate": RATE}}
            if model in PRESETS:
                start["portrait"] = PRESETS[model]
            if live:
                start["live"] = live
            ws.send(json.dumps(start))
            ready = json.loads(ws.recv())
            if ready["type"] != "ready":
                result.error = ready.get("message", str(ready))
                return

            def read() -> None:
                try:
                    for message in ws:
                        if isinstance(message, bytes):
                            result.arrivals.append((unpack_frame(message)[0], time.perf_counter()))
                        else:
                            data = json.loads(message)
                            if data["type"] == "done":
                                result.done = data
                            elif data["type"] == "error":
                                result.error = data["message"]
                except ConnectionClosed as closed:  # the server closed the session (its error message came first)
                    result.error = result.error or str(closed)

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            began = time.perf_counter()
            for k in range(total):
                wait = began + k * CHUNK_SECONDS - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                offset = (k * chunk) % (len(pcm) - chunk)
                ws.send(pcm[offset : offset + chunk].tobytes())
                result.sent_at.append(time.perf_counter())
            ws.send('{"type": "end"}')
            reader.join()
    except ConnectionClosed:  # closed by the server while sending: the reader recorded why
        pass
    except Exception as error:  # a benchmark reports failures in its table
        result.error = f"{type(error).__name__}: {error}"


def live(args: argparse.Namespace) -> dict[str, int] | None:
    """The sessions' ``start.live`` settings from ``--chunk-frames`` / ``--lookahead-frames`` (None: defaults)."""
    settings = {"chunk_frames": args.chunk_frames, "lookahead_frames": args.lookahead_frames}
    return {key: value for key, value in settings.items() if value is not None} or None


def concurrency(args: argparse.Namespace, speech: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for n in args.sessions:
        server = Server(args.model, n, args.threads)
        try:
            results = [SessionResult() for _ in range(n)]
            threads = [
                threading.Thread(target=run_session, args=(server.url, speech, args.seconds, args.model, r, live(args)))
                for r in results
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            server.stop()
        chunk = round(RATE * CHUNK_SECONDS)
        latencies = [r.latencies(25.0, chunk) for r in results if len(r.arrivals)]
        every = np.concatenate(latencies) if latencies else np.zeros(0)
        rtf = [r.done.get("realtime_factor") for r in results if r.done.get("realtime_factor") is not None]
        row = {
            "model": args.model,
            "sessions": n,
            "seconds_each": args.seconds,
            "frames": sum(len(r.arrivals) for r in results),
            "latency_p50_ms": round(float(np.percentile(every, 50)) * 1000, 1) if len(every) else None,
            "latency_p95_ms": round(float(np.percentile(every, 95)) * 1000, 1) if len(every) else None,
            "realtime_factor_mean": round(float(np.mean(rtf)), 3) if rtf else None,
            "dropped": sum(r.done.get("frames_dropped", 0) for r in results),
            "server_rss_max_mib": round(max(m for _, m in server.memory), 1),
            "errors": "; ".join(sorted({r.error for r in results if r.error})) or "",
            "load_average": load_average(),
            "threads": args.threads,
            "live": json.dumps(live(args)) if live(args) else "defaults",
        }
        print(row, flush=True)
        rows.append(row)
    return rows


def soak(args: argparse.Namespace, speech: np.ndarray) -> list[dict[str, Any]]:
    server = Server(args.model, 1, args.threads)
    result = SessionResult()
    try:
        run_session(server.url, speech, args.soak_minutes * 60.0, args.model, result, live(args))
    finally:
        server.stop()
    if result.error:
        print(f"soak session error: {result.error}")
    latencies = result.latencies(25.0, round(RATE * CHUNK_SECONDS))
    began = result.sent_at[0]
    arrived = np.asarray([t for _, t in result.arrivals]) - began
    rows = []
    for start in np.arange(0.0, arrived.max() if len(arrived) else 0.0, args.bin):
        inside = (arrived >= start) & (arrived < start + args.bin)
        memory = [m for t, m in server.memory if start <= t - began < start + args.bin]
        if not inside.any():
            continue
        rows.append(
            {
                "minute": round(start / 60.0, 3),
                "frames": int(inside.sum()),
                "latency_p50_ms": round(float(np.percentile(latencies[inside], 50)) * 1000, 1),
                "latency_p95_ms": round(float(np.percentile(latencies[inside], 95)) * 1000, 1),
                "server_rss_mib": round(float(np.mean(memory)), 1) if memory else None,
            }
        )
    print(f"soak: {len(result.arrivals)} frames, done: {result.done}")
    return rows


def plot_soak(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["minute"] for r in rows]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    top.plot(minutes, [r["latency_p50_ms"] for r in rows], label="p50")
    top.plot(minutes, [r["latency_p95_ms"] for r in rows], label="p95")
    top.set_ylabel("latency (ms)")
    top.legend()
    top.set_title(title, fontsize=9)
    bottom.plot(minutes, [r["server_rss_mib"] for r in rows])
    bottom.set_ylabel("server RSS (MiB)")
    bottom.set_xlabel("minutes")
    figure.tight_layout()
    save_plot(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="synthetic-demo", help="model folder or shipped model name")
    parser.add_argument("--sections", default="concurrency,soak")
    parser.add_argument("--sessions", type=lambda s: [int(v) for v in s.split(",")], default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per session in the concurrency runs")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--bin", type=float, default=10.0, help="seconds per soak row")
    parser.add_argument("--threads", type=int, default=1, help="the server's torch threads (motionkit serve)")
    parser.add_argument("--chunk-frames", type=int, help="LiveConfig.chunk_frames of every session (default: its)")
    parser.add_argument("--lookahead-frames", type=int, help="LiveConfig.lookahead_frames (default: its)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    speech = load_audio(demo_speech_path(), None, target_rate=RATE)
    print(machine(), f"| load average {load_average()}")
    sections = args.sections.split(",")
    if "concurrency" in sections:
        write_csv(args.out / f"serve_{Path(args.model).name}_sessions.csv", concurrency(args, speech))
    if "soak" in sections:
        rows = soak(args, speech)
        write_csv(args.out / f"serve_{Path(args.model).name}_soak.csv", rows)
        title = f"motionkit serve, one session of {args.soak_minutes:g} min, {args.model}, {machine()}"
        plot_soak(rows, args.out / f"serve_{Path(args.model).name}_soak.png", title)


if __name__ == "__main__":
    main()
