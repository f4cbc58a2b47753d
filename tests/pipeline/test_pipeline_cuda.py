"""Pipelines loaded onto CUDA sample with CUDA graphs, with the motion of eager sampling; CPU pipelines do not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from motionkit.pipeline import Pipeline


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
    tolerance = 1e-5 if dtype == "float32" else 1e-3
    torch.testing.assert_close(graphed, eager, rtol=tolerance, atol=tolerance)
