"""FlowSampler speed: against a plain eager implementation, then forward, window, clip, solver/nfe sweep, guidance,
streaming latency and noise.

Run from the project root::

    PYTHONPATH=.:kernels python benchmarks/sampler.py                  # float-512 and tiny on CPU, all sections
    PYTHONPATH=.:kernels python benchmarks/sampler.py --device cuda    # adds bf16 autocast rows to the details
    PYTHONPATH=.:kernels python benchmarks/sampler.py --sections eager --models float-512 --threads 1 \
        --csv benchmarks/results/sampler_cpu.csv

Section ``eager``: a plain PyTorch re-implementation of the vector-field transformer written here, in the form of
the official code (a dense boolean band mask passed to ``scaled_dot_product_attention``, separate ``nn.LayerNorm``,
modulation and gated-residual ops, the three guidance branches concatenated on every call), loads the sampler's
own ``state_dict``. The script first checks that both give the same transformer output and the same sampled window
(max-abs difference printed; it stops if above ``EAGER_TOLERANCE``), then times one window with FLOAT's defaults
(Euler, nfe 10 = 9 evaluations of a 3-branch batch, guidance 2 / 1) for both in float32 and under bfloat16
autocast, alternating the two implementations between repeats. It prints frames/s, real-time factor and the ratio
motionkit / eager (> 1: motionkit is faster) from wall time and from process CPU time.

Section ``detail``: figures are wall-clock medians. A "window" is FLOAT's unit of work (L' + L = 60 frames in,
L = 50 out); a "clip" is 4 s of speech (100 frames = 2 windows). Real-time factor = duration of the generated
motion / time to generate it (> 1 is faster than real time). Weights are random (speed does not depend on their
values).
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from harness import Timing, machine, median_timing, synchronize, write_csv
from torch import nn

from motionkit.config import FlowConfig, GuidanceConfig
from motionkit.families import preset
from motionkit.flow import FlowSampler, VectorFieldInputs, frame_noise
from motionkit.flow.solvers import SOLVERS
from motionkit.types import Conditions

CLIP_FRAMES = 100
FPS = 25.0
EAGER_TOLERANCE = 1e-4
"""Largest float32 max-abs difference between motionkit and the eager implementation accepted before timing."""


def build(config: FlowConfig, device: torch.device) -> FlowSampler:
    sampler = FlowSampler(config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in sampler.named_parameters():
            if name != "pos_embed":
                param.copy_(torch.randn(param.shape, generator=generator) / math.sqrt(param.shape[-1]))
    return sampler.to(device).eval()


def conditions_for(config: FlowConfig, frames: int, device: torch.device) -> Conditions:
    generator = torch.Generator().manual_seed(1)
    audio = torch.randn(1, frames, config.audio_dim, generator=generator)
    emotion = torch.softmax(torch.randn(1, 1, config.emotion_dim, generator=generator), -1).expand(1, frames, -1)
    return Conditions(audio, emotion.contiguous()).to(device)


def realtime_chunks(conditions: Conditions, chunk: int, pace: bool) -> Iterator[Conditions]:
    """Conditions in ``chunk``-frame pieces, released at the speech's pace when ``pace`` (as a live stream)."""
    start = time.perf_counter()
    for first in range(0, conditions.frames, chunk):
        if pace:
            due = start + first / conditions.fps
            time.sleep(max(0.0, due - time.perf_counter()))
        yield conditions.slice(first, first + chunk)


# ------------------------------------------------------------------------------------------- eager baseline


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class EagerAttention(nn.Module):
    """``proj(SDPA(q, k, v, mask))`` with ``qkv`` split into ``[q | k | v]`` x heads; ``mask`` True = may attend."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class EagerMlp(nn.Module):
    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden, inner)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class EagerBlock(nn.Module):
    """``x += gate1 Attn(modulate(LN1(x)))``, ``x += gate2 MLP(modulate(LN2(x)))``, each op on its own."""

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        h = config.hidden_dim
        self.norm1 = nn.LayerNorm(h, elementwise_affine=False, eps=config.norm_eps)
        self.attn = EagerAttention(h, config.num_heads)
        self.norm2 = nn.LayerNorm(h, elementwise_affine=False, eps=config.norm_eps)
        self.mlp = EagerMlp(h, int(h * config.mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(h, 6 * h))

    def forward(self, x: torch.Tensor, c: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate1 * self.attn(modulate(self.norm1(x), shift1, scale1), mask)
        return x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))


class EagerFinalLayer(nn.Module):
    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        h = config.hidden_dim
        self.norm_final = nn.LayerNorm(h, elementwise_affine=False, eps=config.norm_eps)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(h, 2 * h))
        self.linear = nn.Linear(h, config.motion_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class EagerTimestepEmbedder(nn.Module):
    """``MLP([cos(t f), sin(t f)])``, ``f_i = 10000^(-i / (dim / 2))``."""

    def __init__(self, hidden: int, frequency_dim: int) -> None:
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.frequency_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class EagerEmbedder(nn.Module):
    def __init__(self, motion_dim: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Linear(motion_dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class EagerVectorField(nn.Module):
    """The FLOAT vector-field transformer written plainly, as the official code is (same parameter names, so it
    loads a ``FlowSampler``'s ``state_dict`` as is). ``forward`` takes FLOAT's inputs (``we`` of shape
    ``(B, 1, E)``, ``t`` of shape ``(1,)``) and returns ``(B, L' + L, D)``."""

    pos_embed: torch.Tensor
    alignment_mask: torch.Tensor
    """``(N, N)`` bool, True where attention is blocked (``|i - j| > attention_window``), as FLOAT stores it."""

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        h, n = config.hidden_dim, config.sequence_length
        self.register_buffer("pos_embed", torch.zeros(1, n, h))
        index = torch.arange(n)
        blocked = (index[:, None] - index[None, :]).abs() > config.attention_window
        self.register_buffer("alignment_mask", blocked, persistent=False)
        self.x_embedder = EagerEmbedder(config.motion_dim, h)
        self.t_embedder = EagerTimestepEmbedder(h, config.time_embed_dim)
        self.c_embedder = nn.Linear(config.motion_dim + config.audio_dim + config.emotion_dim, h)
        self.blocks = nn.ModuleList(EagerBlock(config) for _ in range(config.depth))
        self.decoder = EagerFinalLayer(config)

    def forward(self, x: torch.Tensor, t: torch.Tensor, inputs: VectorFieldInputs) -> torch.Tensor:
        n = self.config.sequence_length
        t_emb = self.t_embedder(t)
        x = self.x_embedder(torch.cat([inputs.prev_x, x], dim=1)) + self.pos_embed
        wa = torch.cat([inputs.prev_wa, inputs.wa], dim=1)
        c = self.c_embedder(torch.cat([inputs.wr.unsqueeze(1).repeat(1, n, 1), wa, inputs.we.repeat(1, n, 1)], dim=-1))
        c = c + t_emb.unsqueeze(1)
        for block in self.blocks:
            x = block(x, c, ~self.alignment_mask)
        out: torch.Tensor = self.decoder(x, c)
        return out


def eager_window(
    model: EagerVectorField, x0: torch.Tensor, wa: torch.Tensor, wr: torch.Tensor, we: torch.Tensor, nfe: int
) -> torch.Tensor:
    """FLOAT's first window: Euler on ``linspace(0, 1, nfe)`` of ``v = v_u + s_a (v_a - v_u) + s_e (v_ae - v_a)``,
    the branches ``[uncond, all-cond, audio-only]`` concatenated into one batch on every call, zero context.

    ``x0``: ``(B, L, D)`` noise; ``wa``: ``(B, L, Da)``; ``wr``: ``(B, D)``; ``we``: ``(B, 1, E)``."""
    cfg = model.config
    s_a, s_e = cfg.guidance.audio_scale, cfg.guidance.emotion_scale
    B = x0.shape[0]
    prev_x = x0.new_zeros(B, cfg.context, cfg.motion_dim)
    prev_wa = x0.new_zeros(B, cfg.context, cfg.audio_dim)
    grid = torch.linspace(0, 1, nfe, device=x0.device)
    x = x0
    for i in range(nfe - 1):
        out = model(
            torch.cat([x, x, x]),
            grid[i : i + 1],
            VectorFieldInputs(
                wa=torch.cat([torch.zeros_like(wa), wa, wa]),
                wr=torch.cat([wr, wr, wr]),
                we=torch.cat([torch.zeros_like(we), we, torch.zeros_like(we)]),
                prev_x=torch.cat([prev_x, prev_x, prev_x]),
                prev_wa=torch.cat([prev_wa, prev_wa, prev_wa]),
            ),
        )
        v_u, v_ae, v_a = out[:, cfg.context :].chunk(3)
        x = x + (grid[i + 1] - grid[i]) * (v_u + s_a * (v_a - v_u) + s_e * (v_ae - v_a))
    return x


def interleaved_seconds(fns: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict[str, Timing]:
    """Median wall / CPU seconds of each function, the functions alternating (a drifting load hits all alike)."""
    for fn in fns.values():
        fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            synchronize(device)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    on_cpu = device.type == "cpu"
    return {
        name: Timing(statistics.median(wall[name]), statistics.median(cpu[name]) if on_cpu else None) for name in fns
    }


def in_precision(precision: str, device: torch.device, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``fn()`` in float32 (``"fp32"``) or under bfloat16 autocast (``"bf16"``)."""
    context = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    with context:
        return fn()


def compare_eager(name: str, config: FlowConfig, device: torch.device, repeats: int) -> list[dict[str, object]]:
    """Check that motionkit and the eager implementation agree, then time one guided window of each."""
    sampler = build(config, device)
    eager = EagerVectorField(config).to(device).eval()
    eager.load_state_dict(sampler.state_dict())  # strict: every key of both models
    L, nfe = config.window, config.nfe
    conditions = conditions_for(config, L, device)
    generator = torch.Generator().manual_seed(2)
    source = torch.randn(1, config.motion_dim, generator=generator).to(device)
    x0 = frame_noise(0, range(L), 1, config.motion_dim, device=device)
    we = conditions.emotion[:, :1]
    B3 = 3
    inputs = VectorFieldInputs(
        wa=torch.randn(B3, L, config.audio_dim, generator=generator),
        wr=torch.randn(B3, config.motion_dim, generator=generator),
        we=torch.rand(B3, 1, config.emotion_dim, generator=generator),
        prev_x=torch.randn(B3, config.context, config.motion_dim, generator=generator),
        prev_wa=torch.randn(B3, config.context, config.audio_dim, generator=generator),
    ).map(lambda value: value.to(device))
    x = torch.randn(B3, L, config.motion_dim, generator=generator).to(device)
    t = torch.full((1,), 0.3, device=device)

    def ours() -> torch.Tensor:
        return sampler.sample(conditions, source, seed=0, nfe=nfe, solver="euler", guidance=config.guidance).latents

    def theirs() -> torch.Tensor:
        with torch.no_grad():
            return eager_window(eager, x0, conditions.audio, source, we, nfe)

    with torch.no_grad():
        forward_diff = (sampler(x, t, inputs) - eager(x, t, inputs)).abs().max().item()
    window_fp32 = ours()
    window_diff = (window_fp32 - theirs()).abs().max().item()
    print(
        f"  {name}: motionkit vs eager, float32 max-abs difference: forward {forward_diff:.2e}, "
        f"guided window {window_diff:.2e} (tolerance {EAGER_TOLERANCE:g})"
    )
    if max(forward_diff, window_diff) > EAGER_TOLERANCE:
        raise SystemExit(f"{name}: motionkit and the eager implementation disagree; timings would be meaningless.")
    assert sampler.last_stats is not None
    calls, rows_per_call = sampler.last_stats.model_calls, sampler.last_stats.rows_per_call

    rows: list[dict[str, object]] = []
    for precision in ("fp32", "bf16"):
        run_ours = functools.partial(in_precision, precision, device, ours)
        run_theirs = functools.partial(in_precision, precision, device, theirs)
        bf16_note = ""
        if precision == "bf16":
            ours_bf16, theirs_bf16 = run_ours(), run_theirs()
            bf16_error = (ours_bf16.float() - window_fp32).abs().max().item()
            bf16_diff = (ours_bf16.float() - theirs_bf16.float()).abs().max().item()
            bf16_note = f"max-abs vs float32 window {bf16_error:.2e}, vs eager bf16 {bf16_diff:.2e}"
        timings = interleaved_seconds({"motionkit": run_ours, "eager": run_theirs}, repeats, device)
        base = timings["eager"]
        for implementation, timing in timings.items():
            row: dict[str, object] = {
                "model": name,
                "device": device.type,
                "precision": precision,
                "threads": torch.get_num_threads(),
                "what": f"window, euler nfe={nfe}, guidance, {calls} calls x {rows_per_call} rows",
                "implementation": implementation,
                "wall_s": timing.wall,
                "cpu_s": timing.cpu,
                "frames_per_second": L / timing.wall,
                "realtime_factor": L / FPS / timing.wall,
                "speedup_vs_eager": base.wall / timing.wall,
                "forward_max_abs_diff": forward_diff,
                "window_max_abs_diff": window_diff,
            }
            if timing.cpu is not None and base.cpu is not None:
                row.update(
                    frames_per_second_cpu=L / timing.cpu,
                    realtime_factor_cpu=L / FPS / timing.cpu,
                    speedup_vs_eager_cpu=base.cpu / timing.cpu,
                )
            rows.append(row)
            cpu = "" if timing.cpu is None else f" | cpu {timing.cpu:6.2f} s, {L / timing.cpu:6.2f} frames/s"
            print(
                f"  {name:9s} {precision:4s} {implementation:9s} wall {timing.wall:6.2f} s, {L / timing.wall:6.2f} "
                f"frames/s, RTF {L / FPS / timing.wall:5.2f}{cpu}"
            )
        ratio = f"motionkit / eager ({precision}): {base.wall / timings['motionkit'].wall:.2f}x wall"
        if base.cpu is not None and timings["motionkit"].cpu:
            ratio += f", {base.cpu / timings['motionkit'].cpu:.2f}x cpu"
        print(f"  {ratio}" + (f"; {bf16_note}" if bf16_note else ""))
    return rows


# ------------------------------------------------------------------------------------------- details


def bench_model(
    name: str, config: FlowConfig, device: torch.device, repeats: int, quick: bool, precision: str
) -> list[dict[str, object]]:
    sampler = build(config, device)
    source = torch.randn(1, config.motion_dim, device=device)
    autocast: Callable[[], AbstractContextManager[object]] = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if precision == "bf16" else nullcontext
    )
    clip_frames = max(CLIP_FRAMES, 2 * config.window)
    clip = conditions_for(config, clip_frames, device)
    one_window = clip.slice(0, config.window)
    rows: list[dict[str, object]] = []

    def record(what: str, timing: Timing, **extra: object) -> None:
        row: dict[str, object] = {"model": name, "device": device.type, "precision": precision, "what": what}
        row.update(wall_s=timing.wall, cpu_s=timing.cpu, **extra)
        rows.append(row)
        cpu = "" if timing.cpu is None else f"(cpu {timing.cpu * 1e3:9.1f} ms)"
        details = " ".join(f"{k}={v}" for k, v in extra.items())
        print(f"  {name:9s} {precision:4s} {what:44s} {timing.wall * 1e3:10.1f} ms {cpu:20s} {details}")

    def sample(conditions: Conditions, **kwargs: object) -> None:
        with autocast():
            sampler.sample(conditions, source, seed=0, **kwargs)  # type: ignore[arg-type]

    B3 = 3
    x = torch.randn(B3, config.window, config.motion_dim, device=device)
    inputs = VectorFieldInputs(
        wa=torch.randn(B3, config.window, config.audio_dim, device=device),
        wr=torch.randn(B3, config.motion_dim, device=device),
        we=torch.rand(B3, 1, config.emotion_dim, device=device),
        prev_x=torch.randn(B3, config.context, config.motion_dim, device=device),
        prev_wa=torch.randn(B3, config.context, config.audio_dim, device=device),
    )

    def forward() -> None:
        with torch.no_grad(), autocast():
            sampler(x, torch.tensor(0.5, device=device), inputs)

    record(f"forward (3 branches x {config.sequence_length} frames)", median_timing(forward, repeats, device))

    window = median_timing(lambda: sample(one_window), repeats, device)
    record("window, FLOAT defaults", window, model_calls=_calls(sampler))
    clip_time = median_timing(lambda: sample(clip), max(1, repeats // 2), device)
    record(f"clip {clip_frames} frames, FLOAT defaults", clip_time, **_speed(clip_frames, clip_time))
    if device.type == "cuda":
        sampler.use_cuda_graphs()
        graphed = median_timing(lambda: sample(one_window), repeats, device)  # the warm-up call captures
        record("window, FLOAT defaults, CUDA graphs", graphed, speedup_vs_eager=f"{window.wall / graphed.wall:.2f}")
        graphed_clip = median_timing(lambda: sample(clip), max(1, repeats // 2), device)
        record(
            f"clip {clip_frames} frames, FLOAT defaults, CUDA graphs", graphed_clip, **_speed(clip_frames, graphed_clip)
        )
        sampler.use_cuda_graphs(False)
    plain = median_timing(
        lambda: sample(one_window, guidance=GuidanceConfig(audio_scale=1.0, emotion_scale=1.0)), repeats, device
    )
    record("window, no guidance (1 branch)", plain, speedup_vs_guided=f"{window.wall / plain.wall:.2f}")

    sweep = [("euler", 2), ("euler", 5), ("euler", 10), ("euler", 20)]
    sweep += [(solver, 5 if quick else 10) for solver in SOLVERS if solver != "euler"]
    for solver, nfe in sweep:
        timing = median_timing(functools.partial(sample, one_window, solver=solver, nfe=nfe), 1, device, warmup=0)
        record(f"window, {solver} nfe={nfe}", timing, model_calls=_calls(sampler))

    for pace in (False, True):
        started = time.perf_counter()
        first: float | None = None
        with autocast():
            for _ in sampler.stream(realtime_chunks(clip, 1, pace), source, seed=0):
                if first is None:
                    first = time.perf_counter() - started
        label = "live 25 fps input" if pace else "all input ready"
        assert first is not None
        record(f"stream latency to 1st window ({label})", Timing(first), total_s=f"{time.perf_counter() - started:.2f}")
    return rows


def _speed(frames: int, timing: Timing) -> dict[str, str]:
    """Real-time factor both ways: motion seconds per wall second, and wall seconds per motion second."""
    seconds = frames / FPS
    return {"realtime_factor": f"{seconds / timing.wall:.2f}", "wall_per_motion_s": f"{timing.wall / seconds:.4f}"}


def _calls(sampler: FlowSampler) -> int:
    assert sampler.last_stats is not None
    return sampler.last_stats.model_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=["float-512", "tiny"], choices=["float-512", "tiny"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="shorter solver sweep")
    parser.add_argument(
        "--sections", nargs="+", default=["eager", "detail"], choices=["eager", "detail"], help="what to run"
    )
    parser.add_argument("--csv", type=Path, help="also write the rows to this CSV file")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {device}; {machine()}")
    rows: list[dict[str, object]] = []
    if "eager" in args.sections:
        print("== one window, FLOAT's defaults: motionkit FlowSampler vs plain eager implementation")
        for name in args.models:
            rows += compare_eager(name, preset(name).flow, device, args.repeats)
    if "detail" in args.sections:
        print("== details")
        precisions = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]
        for name in args.models:
            for precision in precisions:
                rows += bench_model(name, preset(name).flow, device, args.repeats, args.quick, precision)
        frames = 1000
        noise = median_timing(lambda: frame_noise(0, range(frames), 1, 512), 3, torch.device("cpu"))
        print(f"  seeded noise: {noise.wall / frames * 1e6:.1f} us per 512-d frame")
    if args.csv:
        write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
