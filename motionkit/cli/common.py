"""Options and checks shared by the CLI commands."""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path
from typing import Any, get_args

import torch

from motionkit.config.train import DeviceName
from motionkit.errors import ConfigError, MotionkitError, OutputError
from motionkit.face import Box
from motionkit.io.files import output_parent
from motionkit.io.video import DEFAULT_CRF, DEFAULT_PRESET, MAX_CRF, VIDEO_CODECS, X264_PRESETS
from motionkit.model_folder import is_non_commercial, read_manifest
from motionkit.pipeline import Pipeline
from motionkit.pipeline.driving import DEFAULT_MAX_MISSING
from motionkit.runtime import configure_threads
from motionkit.types import Precision

DEVICES: tuple[str, ...] = get_args(DeviceName)
DTYPES: tuple[str, ...] = get_args(Precision)
TEXT_WIDTH = 100
"""Width of wrapped paragraphs in command output."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps descriptions as written and appends ``(default: ...)`` to options whose help does not state one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or not action.option_strings:
            return text
        return super()._get_help_string(action)


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        metavar="DIR",
        help="model folder (written by `motionkit convert-float` or by training; see `motionkit info DIR`), or the "
        "name of a model shipped with motionkit (photo-motion: real photos; synthetic-demo: the learned 64-px "
        "model) (default: photo-motion)",
    )


def resolve_model(model: Path | None) -> Path:
    """The folder of ``--model``: a path as given, a shipped model's name (when no such path exists), or the default
    shipped model when omitted."""
    from motionkit.assets import BUNDLED_MODELS, DEFAULT_MODEL, bundled_model_path

    if model is None:
        return bundled_model_path(DEFAULT_MODEL)
    if str(model) in BUNDLED_MODELS and not model.exists():
        return bundled_model_path(str(model))
    return model


def add_device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", choices=DEVICES, default="auto", help="where to run: auto = cuda when a GPU is available, else cpu"
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default="float32",
        help="compute precision: float32 is FLOAT's; bfloat16/float16 autocast the renderer and sampler (GPU, or a "
        "CPU with native bfloat16; elsewhere motionkit warns and computes in float32)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="CPU threads for the models (default: the cores this process may use minus those other processes keep "
        "busy, from the load average; 1 is the safest on a busy machine)",
    )


def add_crop_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--no-crop",
        action="store_true",
        help="use the whole image resized to the model resolution instead of detecting and cropping the face",
    )
    group.add_argument(
        "--box",
        type=parse_box,
        metavar="X1,Y1,X2,Y2",
        help="crop around this face box (pixels) instead of detecting the face (default: detect the face)",
    )


def add_max_side_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-side",
        type=positive_int,
        metavar="PX",
        help="shrink the portrait first (area filter, aspect ratio kept) so that its longer side is at most PX "
        "pixels; the photo family draws and encodes every frame at the photo's own size, so a 12-megapixel phone "
        "photo takes about 10 times as long as at 1024 px (default: the photo as it is)",
    )


def add_paste_back_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--paste-back",
        action="store_true",
        help="put the rendered face back into the photo: the video has the photo's own size (odd sizes padded by one "
        "pixel) and the photo outside the face is unchanged (default: the model's square face crop; the photo "
        "family always draws the whole photo)",
    )


def add_driving_crop_options(parser: argparse.ArgumentParser) -> None:
    """How a video's frames are cropped: tracked (default), whole, or around a fixed box."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--driving-no-crop",
        action="store_true",
        help="use the driving frames whole (videos that are already face crops) instead of tracking the face",
    )
    group.add_argument(
        "--driving-box",
        type=parse_box,
        metavar="X1,Y1,X2,Y2",
        help="crop every driving frame around this face box instead of tracking the face (default: track)",
    )
    parser.add_argument(
        "--max-missing",
        type=float,
        default=DEFAULT_MAX_MISSING,
        metavar="SHARE",
        help="largest share of frames without a face that is accepted (their motion is held from the nearest face)",
    )


def add_encoder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--crf", type=crf_value, default=DEFAULT_CRF, help=f"x264 quality: 0 (lossless) .. {MAX_CRF} (worst)"
    )
    parser.add_argument(
        "--x264-preset",
        choices=X264_PRESETS,
        default=DEFAULT_PRESET,
        help="x264 speed preset, fastest first: faster ones encode several times faster into larger files (on a GPU "
        "the encoder can bound the whole run)",
    )
    parser.add_argument(
        "--codec",
        choices=VIDEO_CODECS,
        default="auto",
        help="H.264 encoder: auto = NVIDIA's NVENC when a GPU and PyAV have it, else libx264 (CPU)",
    )
    parser.add_argument(
        "--encoder-segments",
        type=segment_count,
        default=1,
        metavar="N",
        help="encode runs of frames with libx264 in N processes and join them without re-encoding (faster only "
        "with idle cores beyond what one encoder uses; default 1)",
    )


def encoder_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``Video.save`` (and ``DubbedVideo.save``) that :func:`add_encoder_options` and
    :func:`add_overwrite_option` parsed."""
    return {
        "crf": args.crf,
        "preset": args.x264_preset,
        "codec": args.codec,
        "encoder_segments": args.encoder_segments,
        "overwrite": args.overwrite,
    }


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def parse_box(text: str) -> Box:
    """``"x1,y1,x2,y2"`` -> :class:`Box` (an argparse ``type``: bad values are usage errors)."""
    try:
        values = [int(float(v)) for v in text.replace(" ", "").split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not (values[0] < values[2] and values[1] < values[3]):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a face box; give four pixel coordinates X1,Y1,X2,Y2 with X1 < X2 and Y1 < Y2"
        )
    return Box(*values)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def segment_count(text: str) -> int:
    """A number of encoder processes, >= 1 (an argparse ``type``: bad values are usage errors)."""
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of encoder processes; give an integer >= 1"
        ) from None


def crf_value(text: str) -> int:
    """An x264 constant rate factor in ``0 .. MAX_CRF`` (an argparse ``type``: bad values are usage errors)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_CRF:
        raise argparse.ArgumentTypeError(f"{text!r} is not a quality factor; give an integer from 0 to {MAX_CRF}")
    return value


def load_pipeline(args: argparse.Namespace) -> Pipeline:
    """The Pipeline of ``--model`` on ``--device`` in ``--dtype``, with ``--threads`` CPU threads."""
    configure_threads(args.threads)
    return Pipeline.from_pretrained(resolve_model(args.model), device=resolve_device(args.device), dtype=args.dtype)


def license_lines(license_entry: object) -> list[str]:
    """The licence paragraph (prominent for non-commercial weights)."""
    if license_entry is None:
        return ["licence: not recorded in manifest.json; check the terms of the weights you used."]
    name = license_entry.get("name", "?") if isinstance(license_entry, dict) else str(license_entry)
    lines = []
    if is_non_commercial(license_entry):
        lines.append(f"LICENCE: {name} -- NON-COMMERCIAL USE ONLY")
    else:
        lines.append(f"licence: {name}")
    if isinstance(license_entry, dict):
        if license_entry.get("summary"):
            lines += textwrap.wrap(
                str(license_entry["summary"]), TEXT_WIDTH, initial_indent="  ", subsequent_indent="  "
            )
        for component, terms in (license_entry.get("components") or {}).items():
            lines.append(f"  {component}: {terms}")
    return lines


def print_license(folder: Path) -> None:
    """Print the licence paragraph of a model folder's manifest."""
    for line in license_lines(read_manifest(folder).get("license")):
        print(line)


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was given but no CUDA GPU is available; use --device cpu.")
    return name


def check_output(path: Path, overwrite: bool, what: str = "output") -> Path:
    """Fail early (before any work) if ``path`` cannot be written: it exists without ``--overwrite``, its folder
    is missing or read-only, or it is a folder."""
    if path.is_dir():
        raise OutputError(f"the {what} {path} is a folder; give a file path.")
    if path.exists() and not overwrite:
        raise OutputError(f"the {what} {path} already exists; pass --overwrite to replace it, or choose another path.")
    parent = output_parent(path, f"the {what}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write the {what} {path}: folder {parent} is not writable; choose another folder.")
    return path


def check_suffix(path: Path, suffixes: tuple[str, ...], what: str) -> Path:
    if path.suffix.lower() not in suffixes:
        raise OutputError(
            f"the {what} {path} must end in {' or '.join(suffixes)}; choose a path like out{suffixes[0]}."
        )
    return path


def check_input_file(path: Path, error: type[MotionkitError], what: str) -> Path:
    """Fail early (before loading a model) if an input file is missing."""
    if path.is_dir():
        raise error(f"the {what} {path} is a folder; give the path of a file.")
    if not path.is_file():
        raise error(f"the {what} {path} does not exist; check the path.")
    return path
