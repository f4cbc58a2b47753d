"""The family registry: every preset belongs to one family, folders are read through the family they record, and
motionkit's own components implement the protocols the Pipeline uses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from motionkit.assets import demo_model_path
from motionkit.conditioner import Conditioner
from motionkit.errors import CheckpointError, ConfigError
from motionkit.families import FAMILIES, PRESETS, family, preset
from motionkit.families.float.folder import float_architecture
from motionkit.flow import FlowSampler
from motionkit.model_folder import FORMAT_VERSION, load_model, read_config
from motionkit.protocols import EncodedPortrait, MotionGenerator, PortraitRenderer, SpeechConditioner
from motionkit.renderer import Renderer


def test_every_preset_belongs_to_the_family_that_lists_it() -> None:
    listed = [name for fam in FAMILIES.values() for name in fam.presets]
    assert len(listed) == len(set(listed)) == len(PRESETS)
    for fam in FAMILIES.values():
        for name in fam.presets:
            config = preset(name)
            assert (config.name, config.family) == (name, fam.name)


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown preset 'float-1024'; known presets: float-512, imtalker-512, photo-motion, synthetic-demo",
    ):
        preset("float-1024")
    with pytest.raises(
        CheckpointError, match=r"unknown model family 'other' \(known: float, imtalker, photo, synthetic-demo\)"
    ):
        family("other")


def test_the_shipped_model_is_read_through_its_family() -> None:
    header = json.loads((demo_model_path() / "config.json").read_text())
    assert (header["format_version"], header["family"]) == (FORMAT_VERSION, "synthetic-demo")
    parts = load_model(demo_model_path())
    assert parts.config == preset("synthetic-demo")
    assert isinstance(parts.renderer, PortraitRenderer)
    assert isinstance(parts.sampler, MotionGenerator)
    assert isinstance(parts.conditioner, SpeechConditioner)
    renderer, _, sampler = float_architecture(parts.renderer, parts.conditioner, parts.sampler)
    assert renderer.latent_dim == sampler.latent_dim == parts.config.renderer.latent_dim


def test_a_version_1_folder_is_floats_architecture(tmp_path: Path) -> None:
    folder = shutil.copytree(demo_model_path(), tmp_path / "v1")
    header = json.loads((folder / "config.json").read_text())
    config = {key: value for key, value in header["config"].items() if key != "family"}
    (folder / "config.json").write_text(json.dumps({"format": header["format"], "format_version": 1, "config": config}))
    assert read_config(folder).family == "float"
    assert isinstance(load_model(folder).renderer, Renderer)


def test_a_folder_of_an_unknown_family_is_refused_before_its_configuration_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    header = {"format": "motionkit.Model", "format_version": 2, "family": "imaginary", "config": {"not": "read"}}
    (folder / "config.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match=r"unknown model family 'imaginary'.*Upgrade motionkit"):
        read_config(folder)


def test_other_architectures_are_refused_where_floats_classes_are_needed() -> None:
    config = preset("tiny")
    renderer, sampler = Renderer(config.renderer), FlowSampler(config.flow)
    conditioner = Conditioner(config.conditioner)
    assert float_architecture(renderer, conditioner, sampler) == (renderer, conditioner, sampler)
    with pytest.raises(ConfigError, match=r"needs a model of FLOAT's architecture.*got Renderer, str, FlowSampler"):
        float_architecture(renderer, "a conditioner", sampler)


def test_an_encoded_portrait_is_recognised_by_its_motion() -> None:
    renderer = Renderer(preset("tiny").renderer)
    source = renderer.encode(torch.zeros(1, 3, 64, 64))
    assert isinstance(source, EncodedPortrait)
    assert not isinstance(torch.zeros(3), EncodedPortrait)
