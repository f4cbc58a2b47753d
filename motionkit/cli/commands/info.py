"""``motionkit info``: what a model folder holds — configuration, parameters, axes, provenance, licence."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from motionkit.cli.common import HelpFormatter, license_lines
from motionkit.errors import CheckpointError
from motionkit.families import family
from motionkit.io.tensors import tensor_shapes
from motionkit.model_folder import AXES_FILE, is_non_commercial, read_config, read_manifest
from motionkit.space.axes import axes_from_file

DESCRIPTION = """\
Describe a model folder without loading its weights: configuration, parameters per component, named motion
axes, where the weights came from (source files and their sha256) and their licence.

example:
  motionkit info models/float-512
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "info",
        parents=parents,
        help="describe a model folder (config, parameters, axes, provenance, licence)",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("model", type=Path, metavar="DIR", help="model folder")
    parser.add_argument("--json", action="store_true", help="print the description as JSON")
    parser.set_defaults(func=run)


def count_parameters(path: Path) -> int:
    """Number of values in a safetensors file, from its header (no tensor is read)."""
    shapes = tensor_shapes(path, what="model weights", fix="convert or export the model again")
    return sum(math.prod(shape) for shape in shapes.values())


def describe_model(folder: Path) -> dict[str, Any]:
    """Everything ``motionkit info`` shows, as JSON-compatible data."""
    config = read_config(folder)
    manifest = read_manifest(folder)
    parameters = {}
    for name, weights in family(config.family).weight_files.items():
        path = folder / weights.path
        if path.is_file():
            parameters[name] = count_parameters(path)
        elif weights.required:
            raise CheckpointError(f"{path} is missing: the model folder is incomplete; convert or export it again.")
    axes_path = folder / AXES_FILE
    axes = []
    if axes_path.is_file():
        named = axes_from_file(axes_path, dim=config.latent_dim, rank=config.motion_rank)
        axes = [{"name": axis.name, "unit": axis.unit} for axis in named.values()]
    license_entry = manifest.get("license")
    return {
        "folder": str(folder),
        "family": config.family,
        "config": config.model_dump(mode="json"),
        "parameters": parameters,
        "total_parameters": sum(parameters.values()),
        "axes": axes,
        "manifest": manifest,
        "license": license_entry,
        "non_commercial": is_non_commercial(license_entry) if license_entry is not None else False,
    }


def _millions(count: int) -> str:
    return f"{count / 1e6:.1f} M" if count >= 1e5 else f"{count:,}"


def _sources(manifest: dict[str, Any]) -> list[str]:
    lines = []
    if manifest.get("converted_from"):
        lines.append(f"converted from {manifest['converted_from']}")
    for name, source in (manifest.get("sources") or {}).items():
        if not isinstance(source, dict):
            continue
        if "sha256" in source:
            lines.append(f"  {name}: {source.get('file', '?')} sha256 {source['sha256']}")
        elif "files" in source:
            files = source["files"]
            lines.append(f"  {name}: {source.get('repo', source.get('folder', '?'))} ({len(files)} files hashed)")
    return lines


def run(args: argparse.Namespace) -> int:
    description = describe_model(args.model)
    if args.json:
        print(json.dumps(description, indent=2))
        return 0
    config = family(description["family"]).config_type.model_validate(description["config"])
    manifest = description["manifest"]
    created = manifest.get("created", "unknown date")
    print(
        f"model folder {args.model}: {config.name}, written by motionkit {manifest.get('motionkit_version', '?')} "
        f"({created})"
    )
    for line in license_lines(description["license"]):
        print(line)
    for label, text in config.summary():
        print(f"{label:<12} {text}")
    parameters = description["parameters"]
    counts = ", ".join(f"{name} {_millions(count)}" for name, count in parameters.items())
    print(f"{'parameters':<12} {counts}; total {_millions(description['total_parameters'])}")
    if description["axes"]:
        axes = ", ".join(f"{a['name']} ({a['unit']})" for a in description["axes"])
        print(f"{'axes':<12} {axes}")
    else:
        rank = config.motion_rank
        print(f"{'axes':<12} none named: basis directions d0..d{rank - 1} (name them with MotionSpace.fit_axes)")
    for line in _sources(manifest):
        print(line)
    if manifest.get("notes"):
        print(f"notes: {manifest['notes']}")
    return 0
