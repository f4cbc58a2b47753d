"""Pipelines loaded onto CUDA sample with CUDA graphs, with the motion of eager sampling; CPU pipelines do not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from motionkit.pipeline import Pipeline
from motionkit.testing.tolerances import assert_rounding_close, layers_depth


def test_cpu_pipeline_samples_eagerly(pipeline: Pipeline) -> None:
    assert not pipeline.sampler.cuda_graphs


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cuda_pipeline_uses_graphs_and_matches_eager(tiny_model: Path, portrait: Path, speech: Path, dtype: str):
    pipeline = Pipeline.from_pretrained(tiny_model, device="cuda", dtype=dtype)
    assert pipeline.sampler.cuda_graphs
    source = pipeline.encode_portrait(portrait, crop=False)
    conditions = pipeline.condition(pipeline.load_audio(speech), emotion="neutral")
    graphed = pipeline.sample(conditions, source, seed=3).latents
    assert pipeline.sampler.graph_cache.captures == 1
    pipeline.sampler.use_cuda_graphs(False)
    eager = pipeline.sample(conditions, source, seed=3).latents
    if dtype == "float32":  # every solver step runs every layer at most once: nfe x the layers' depth
        assert_rounding_close(graphed, eager, depth=pipeline.sampler.config.nfe * layers_depth(pipeline.sampler))
    else:  # past the rule's range in bfloat16: the same kernels replayed agree far inside one ulp (2^-8 at |v| ~ 1)
        torch.testing.assert_close(graphed, eager, rtol=1e-3, atol=1e-3)
