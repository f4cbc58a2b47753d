"""Speed of the IMTalker renderer against a loop in the official code's structure, same weights, CPU float32.

End to end for one portrait: encode the source, then draw ``--frames`` motion latents. The baseline does what the
official inference scripts do (``generator/generate.py``, ``renderer/inference.py``): one frame at a time, NCHW,
convolution then BatchNorm, and per frame the full ``decode(m_c, m_r, f_r)``: the keys and values of every IMT level
projected again from the source, every attention map materialised (``softmax(q k^T) v``, ``N x N`` per head), the
guided copy by block gathering. motionkit encodes the source side once, folds BatchNorm into the convolutions,
runs channels-last and evaluates attention with fused kernels (an explicit map only where the top-1 needs it).

Weights follow the IMTalker parity recipe (``shared/imtalker-parity``), so attention maps and the guided copy are as
non-trivial as in the fixture; the motion latents are the source's own plus noise of the fixture sample's spread.
The script checks that both give the same frames (max |diff| and the share of top-1 indices that differ) before it
times them. Baseline and motionkit runs are interleaved so that both see the same machine load; the figures are
minimum wall seconds and process-CPU seconds (steadier on a shared machine).

Run from the project root::

    PYTHONPATH=.:kernels python benchmarks/imtalker_renderer.py --frames 4 --repeats 2
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from harness import machine, measure, write_csv
from torch import nn

from motionkit.families.imtalker.checkpoints import RENDERER_PREFIX
from motionkit.families.imtalker.renderer import GUIDE_LEVEL, IMTalkerPortrait, IMTalkerRenderer
from motionkit.families.imtalker.renderer_attention import (
    WINDOW,
    GlobalBlock,
    Stage,
    SwinBlock,
    merge_heads,
    merge_windows,
    partition_windows,
    split_heads,
)
from motionkit.families.imtalker.renderer_blocks import BLOCK_SLOPE, ConvBlock, ConvResBlock, FeatResBlock
from motionkit.families.imtalker.renderer_official import renderer_from_official, renderer_layout
from motionkit.io import load_image
from motionkit.renderer.layers import ModulatedConv2d
from motionkit.testing.imtalker_weights import imtalker_tensor
from motionkit.types import MotionTrack

LATENT_SPREAD = 1.8
"""Standard deviation of the benchmark latents around the source's own (the fixture's sampled motion: rms 1.84)."""

PORTRAIT = Path(__file__).resolve().parents[1] / "motionkit" / "assets" / "demo_portrait.png"


# ------------------------------------------------------------------------------------ the official structure


def conv_bn(x: torch.Tensor, conv: nn.Conv2d, norm: nn.BatchNorm2d, slope: float | None) -> torch.Tensor:
    """Convolution, then BatchNorm with the running statistics, then the activation (three passes)."""
    out = F.batch_norm(
        F.conv2d(x, conv.weight, None, padding=1), norm.running_mean, norm.running_var, norm.weight, norm.bias, False
    )
    return out if slope is None else F.leaky_relu(out, slope)


def conv_block(block: ConvBlock, x: torch.Tensor) -> torch.Tensor:
    return conv_bn(x, block.conv, block.norm.norm, block.slope)


def feat_res(block: FeatResBlock, x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(conv_block(block.conv2, conv_block(block.conv1, x)) + x, BLOCK_SLOPE)


def conv_res(block: ConvResBlock, x: torch.Tensor) -> torch.Tensor:
    if block.resample == "up":
        x = F.interpolate(x, scale_factor=2, mode="nearest")
    x = conv_bn(x, block.conv1, block.norm.norm, BLOCK_SLOPE)
    if block.resample == "down":
        x = F.avg_pool2d(x, 2)
    x = F.conv2d(x, block.conv2.weight, None, padding=1)
    return feat_res(block.feat_res_block2, feat_res(block.feat_res_block1, x))


def tokens(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(2).transpose(1, 2)


def attention_map(q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    return torch.softmax(scores if bias is None else scores + bias, dim=-1)


def global_block(block: GlobalBlock, x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    t = tokens(x)
    a = block.attn
    q = split_heads(a.q_proj(block.norm_q(t + block.q_pos_embedding)))
    k = split_heads(a.k_proj(block.norm_kv(t + block.k_pos_embedding)))
    v = split_heads(a.v_proj(block.norm_kv(t)))
    t = t + a.proj(merge_heads(attention_map(q, k) @ v))
    t = t + block.mlp(block.norm_ffn(t))
    return t.transpose(1, 2).reshape(b, c, h, w)


def swin_block(block: SwinBlock, x: torch.Tensor) -> torch.Tensor:
    b, _, h, w = x.shape
    pixels = x.permute(0, 2, 3, 1)
    q, kv = block.norm_q(pixels), block.norm_kv(pixels)
    if block.shift:
        q, kv = (torch.roll(t, (-block.shift, -block.shift), dims=(1, 2)) for t in (q, kv))
    q, kv = partition_windows(q, WINDOW), partition_windows(kv, WINDOW)
    a = block.attn
    qh, kh, vh = split_heads(a.q(q)), split_heads(a.k(kv)), split_heads(a.v(kv))
    bias = a.bias()[None]
    if block.attn_mask is not None:
        bias = (bias + block.attn_mask[:, None]).repeat(b, 1, 1, 1)
    out = merge_windows(a.proj(merge_heads(attention_map(qh, kh, bias) @ vh)), b, h, w, WINDOW)
    if block.shift:
        out = torch.roll(out, (block.shift, block.shift), dims=(1, 2))
    pixels = pixels + out
    pixels = pixels + block.mlp(block.norm_ffn(pixels))
    return pixels.permute(0, 3, 1, 2).contiguous()


class OfficialLoop:
    """The official inference structure over a loaded :class:`IMTalkerRenderer`'s modules (see module docstring)."""

    def __init__(self, renderer: IMTalkerRenderer) -> None:
        self.r = renderer

    def encode(
        self, image: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        enc = self.r.dense_feature_encoder
        x = conv_res(enc.down_block_0, enc.initial_conv(image))
        features = [x]
        for block in enc.down_blocks:
            x = conv_res(block, x)
            features.append(x)
        identity = enc.mlp(x.mean(dim=(2, 3)))
        motion = self.r.latent_token_encoder(image)
        maps = self.r.latent_token_decoder(self.r.adapt(motion, identity))
        return features[::-1], identity, motion, maps

    def frame(self, latent: torch.Tensor, source: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        features, identity, _, source_maps = source
        maps = self.r.latent_token_decoder(self.r.adapt(latent, identity))
        aligned, top1 = [], None
        for level in range(GUIDE_LEVEL + 1):
            a = self.r.imt[level].block_efc
            b, c, h, w = maps[level].shape
            q = split_heads(a.q_proj(tokens(maps[level])))
            k = split_heads(a.k_proj(tokens(source_maps[level])))
            v = split_heads(a.v_proj(tokens(features[level])))
            weights = attention_map(q, k)
            aligned.append(a.proj(merge_heads(weights @ v)).transpose(1, 2).reshape(b, c, h, w))
            top1 = weights.mean(dim=1).topk(1, dim=-1).indices[..., 0]
        assert top1 is not None
        grid = maps[GUIDE_LEVEL].shape[-1]
        for level in range(GUIDE_LEVEL + 1, len(features)):
            feature = features[level]
            ratio = feature.shape[-1] // grid
            blocks = F.unfold(feature, ratio, stride=ratio)  # (B, C * r * r, G * G)
            picked = torch.gather(blocks, 2, top1[:, None, :].expand(-1, blocks.shape[1], -1))
            means = picked.view(1, feature.shape[1], ratio * ratio, -1).sum(dim=2) / ratio**2
            aligned.append(F.interpolate(means.view(1, -1, grid, grid), scale_factor=ratio, mode="nearest"))
        dec = self.r.frame_decoder
        x = aligned[0]
        for up, res, stage, skip in zip(dec.upconv_blocks, dec.resblocks, dec.transformer_blocks, aligned[1:]):
            x = conv_res(res, torch.cat([conv_res(up, x), skip], dim=1))
            for block in stage.blocks if isinstance(stage, Stage) else ():
                x = global_block(block, x) if isinstance(block, GlobalBlock) else swin_block(block, x)
        return torch.sigmoid(F.pixel_shuffle(dec.final_conv(x), 2)), top1

    @torch.no_grad()
    def run(self, image: torch.Tensor, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        source = self.encode(image)
        outs = [self.frame(latents[i : i + 1], source) for i in range(latents.shape[0])]
        return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])


# ------------------------------------------------------------------------------------------------------ main


def build_renderer() -> IMTalkerRenderer:
    names = renderer_layout()
    return renderer_from_official(
        {RENDERER_PREFIX + k: imtalker_tensor(RENDERER_PREFIX + k, s) for k, s in names.items()}
    )


def set_weight_form(renderer: IMTalkerRenderer, form: str) -> None:
    for module in renderer.modules():
        if isinstance(module, ModulatedConv2d):
            module.weight_form = form  # type: ignore[assignment]


def motionkit_run(renderer: IMTalkerRenderer, image: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
    portrait: IMTalkerPortrait = renderer.encode(image)
    chunks = renderer.render(portrait, MotionTrack(latents[None]), chunk_size=latents.shape[0])
    return (torch.cat(list(chunks), dim=1)[0] + 1) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=4, help="motion latents drawn after the source encode")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    renderer = build_renderer()
    image = torch.from_numpy(load_image(PORTRAIT)).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=(512, 512), mode="bilinear", antialias=True).clamp(0, 1)
    with torch.no_grad():
        own = renderer.encode(image).motion
    generator = torch.Generator().manual_seed(0)
    latents = own + LATENT_SPREAD * torch.randn(args.frames, own.shape[1], generator=generator)

    official = OfficialLoop(renderer)

    def baseline() -> tuple[torch.Tensor, torch.Tensor]:
        set_weight_form(renderer, "per_sample")  # the official grouped convolution of per-sample weights
        try:
            return official.run(image, latents)
        finally:
            set_weight_form(renderer, "auto")

    reference, reference_top1 = baseline()
    with torch.no_grad():
        portrait = renderer.encode(image)
        details = [renderer.decode_details(portrait, latents[i : i + 1]) for i in range(args.frames)]
    ours = motionkit_run(renderer, image, latents)
    flips = float((torch.cat([d.top1 for d in details]) != reference_top1).double().mean())
    print(
        f"frames: max |motionkit - official structure| = {float((ours - reference).abs().max()):.3g}, "
        f"top-1 indices differing: {flips:.3%}"
    )

    runs: dict[str, Callable[[], object]] = {
        "official structure": baseline,
        "motionkit": lambda: motionkit_run(renderer, image, latents),
    }
    best: dict[str, tuple[float, float]] = {name: (float("inf"), float("inf")) for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            wall, cpu = measure(fn)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    base_wall, base_cpu = best["official structure"]
    rows = []
    print(f"IMTalker renderer, 512 px, CPU float32, source encode + {args.frames} frames; {machine()}")
    for name, (wall, cpu) in best.items():
        row = {
            "implementation": name,
            "frames": args.frames,
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "speedup_wall": round(base_wall / wall, 3),
            "speedup_cpu": round(base_cpu / cpu, 3),
        }
        rows.append(row)
        print(
            f"  {name:20s} wall {wall:7.2f} s  cpu {cpu:7.2f} s  speedup {base_wall / wall:5.2f}x wall, "
            f"{base_cpu / cpu:5.2f}x cpu"
        )
    if args.csv:
        write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
