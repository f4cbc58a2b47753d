"""``motionkit convert-float`` and ``motionkit convert-imtalker``: official checkpoints -> a motionkit model folder
(safetensors only)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from motionkit.cli.common import HelpFormatter, add_overwrite_option, print_license
from motionkit.cli.progress import ProgressBars
from motionkit.families.float.convert import convert_float
from motionkit.families.float.licenses import EMOTION_REPO, WAV2VEC2_REPO
from motionkit.families.imtalker.convert import convert_imtalker
from motionkit.families.imtalker.licenses import CODE_REPO, WEIGHTS_REPO

DESCRIPTION = f"""\
Convert FLOAT's official checkpoint into a motionkit model folder.

Reads float.pth (with torch.load(weights_only=True), once) and the two Hugging Face folders, checks every tensor
name and shape against the float-512 layout (all problems are listed in one error), and writes OUT/ with
config.json, one safetensors file per component and manifest.json (sha256 of every source file, motionkit
version, licence). After conversion nothing reads pickle again. Nothing is downloaded: fetch the sources on a
machine with network first:

  float.pth       download_checkpoints.sh of deepbrainai-research/float
  --wav2vec2 DIR  huggingface-cli download {WAV2VEC2_REPO} --local-dir DIR
  --emotion DIR   huggingface-cli download {EMOTION_REPO} --local-dir DIR

The official FLOAT weights are licensed for NON-COMMERCIAL use only (CC BY-NC 4.0 / CC BY-NC-ND 4.0); so is the
converted folder.

example:
  motionkit convert-float --checkpoint checkpoints/float.pth --wav2vec2 checkpoints/wav2vec2-base-960h \\
      --emotion checkpoints/wav2vec-english-speech-emotion-recognition --out models/float-512
"""


IMTALKER_DESCRIPTION = f"""\
Convert IMTalker's official checkpoints into a motionkit model folder.

Reads renderer.ckpt and generator.ckpt (PyTorch-Lightning files, with torch.load(weights_only=True) and only the
few harmless globals Lightning stores besides tensors: argparse.Namespace, AttributeDict, paths) and the wav2vec2
folder, checks every tensor name and shape of both files against IMTalker's layout (all problems are listed in one
error), and writes OUT/ with config.json, one safetensors file per component and manifest.json (sha256 of every
source file, motionkit version, licences). After conversion nothing reads pickle again. Nothing is downloaded:
fetch the sources on a machine with network first:

  renderer.ckpt, generator.ckpt  huggingface-cli download {WEIGHTS_REPO} --local-dir DIR
  --wav2vec2 DIR                 huggingface-cli download {WAV2VEC2_REPO} --local-dir DIR

IMTalker's code ({CODE_REPO}) is Apache-2.0; the licence of its weights is not stated in the code repository:
check the model card of {WEIGHTS_REPO} before using the converted folder.

example:
  motionkit convert-imtalker --renderer checkpoints/renderer.ckpt --generator checkpoints/generator.ckpt \\
      --wav2vec2 checkpoints/wav2vec2-base-960h --out models/imtalker-512
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    register_float(subparsers, parents)
    register_imtalker(subparsers, parents)


def register_float(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "convert-float",
        parents=parents,
        help="convert the official FLOAT checkpoint into a model folder",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--checkpoint", type=Path, required=True, metavar="FLOAT.pth", help="FLOAT's float.pth")
    parser.add_argument(
        "--emotion",
        type=Path,
        metavar="DIR",
        help=f"Hugging Face folder of {EMOTION_REPO} (default: none; the model then cannot predict the emotion "
        "from speech and uses neutral unless told otherwise)",
    )
    add_wav2vec2_and_out_options(parser)
    parser.set_defaults(func=run)


def add_wav2vec2_and_out_options(parser: argparse.ArgumentParser) -> None:
    """The options both converters share: the wav2vec2 folder, the folder to create and ``--overwrite``."""
    parser.add_argument(
        "--wav2vec2", type=Path, required=True, metavar="DIR", help=f"Hugging Face folder of {WAV2VEC2_REPO}"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="OUT", help="model folder to create")
    add_overwrite_option(parser)


def register_imtalker(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "convert-imtalker",
        parents=parents,
        help="convert IMTalker's official checkpoints into a model folder",
        description=IMTALKER_DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--renderer", type=Path, required=True, metavar="RENDERER.ckpt", help="IMTalker's renderer.ckpt"
    )
    parser.add_argument(
        "--generator", type=Path, required=True, metavar="GENERATOR.ckpt", help="IMTalker's generator.ckpt"
    )
    add_wav2vec2_and_out_options(parser)
    parser.set_defaults(func=run_imtalker)


def run_imtalker(args: argparse.Namespace) -> int:
    return run_conversion(
        args,
        lambda progress: convert_imtalker(
            args.renderer, args.generator, args.wav2vec2, args.out, overwrite=args.overwrite, progress=progress
        ),
    )


def run(args: argparse.Namespace) -> int:
    return run_conversion(
        args,
        lambda progress: convert_float(
            args.checkpoint, args.wav2vec2, args.emotion, args.out, overwrite=args.overwrite, progress=progress
        ),
    )


def run_conversion(args: argparse.Namespace, convert: Callable[[ProgressBars], Path]) -> int:
    """Run one converter with the terminal's progress bars, then say where the folder is and under what licence."""
    started = time.perf_counter()
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        out = convert(progress)
    finally:
        progress.close()
    print(f"wrote the model folder {out} in {time.perf_counter() - started:.0f} s (details: motionkit info {out})")
    print_license(out)
    return 0
