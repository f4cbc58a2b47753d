"""Decoding frames side by side (``Renderer.render(workers=...)``, ``motionkit.runtime.OneThreadWorkers``): the same
frames as decoding on the calling thread, in time order, deterministic, failures reported and workers stopped."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from motionkit import runtime
from motionkit.errors import ConfigError, RenderError
from motionkit.io import read_video
from motionkit.pipeline.video import Video
from motionkit.renderer import Renderer
from motionkit.renderer import renderer as renderer_module
from motionkit.types import MotionTrack

FRAMES = 11
"""Not a multiple of the chunk or the worker count: the last chunk is short and workers get unequal shares."""
CHUNK = 4


def _track(dim: int, frames: int = FRAMES, batch: int = 1) -> MotionTrack:
    generator = torch.Generator().manual_seed(3)
    return MotionTrack(0.3 * torch.randn(batch, frames, dim, generator=generator))


def _decode_worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("motionkit-decode")]


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_render_equals_serial_render_bit_for_bit(
    tiny_renderer: Renderer, portraits: torch.Tensor, workers: int
) -> None:
    source = tiny_renderer.encode(portraits[:1])
    track = _track(tiny_renderer.latent_dim)
    serial = list(tiny_renderer.render(source, track, chunk_size=CHUNK, workers=1))
    parallel = list(tiny_renderer.render(source, track, chunk_size=CHUNK, workers=workers))
    assert [c.shape[1] for c in parallel] == [4, 4, 3]
    for ours, theirs in zip(parallel, serial, strict=True):
        assert torch.equal(ours, theirs)
    again = list(tiny_renderer.render(source, track, chunk_size=CHUNK, workers=workers))
    assert all(torch.equal(a, b) for a, b in zip(again, parallel, strict=True))


def test_parallel_render_of_a_batch_and_of_several_frames_per_pass(
    tiny_renderer: Renderer, portraits: torch.Tensor
) -> None:
    sources = tiny_renderer.encode(portraits)
    track = _track(tiny_renderer.latent_dim, batch=2)
    for frames_per_pass in (1, 3):
        serial = torch.cat(
            list(tiny_renderer.render(sources, track, CHUNK, frames_per_pass=frames_per_pass, workers=1)), dim=1
        )
        parallel = torch.cat(
            list(tiny_renderer.render(sources, track, CHUNK, frames_per_pass=frames_per_pass, workers=2)), dim=1
        )
        assert torch.equal(parallel, serial)
    # time order is kept: frames 4-6 of each portrait are one pass of the second chunk, decoded on their own
    with torch.no_grad():
        for b in range(2):
            alone = tiny_renderer.decode(renderer_module._select(sources, b), track.latents[b, 4:7])[0]
            assert torch.equal(parallel[b, 4:7], alone)


def test_workers_keep_the_callers_thread_count_and_grad_mode(tiny_renderer: Renderer, portraits: torch.Tensor) -> None:
    source = tiny_renderer.encode(portraits[:1])
    before = torch.get_num_threads()
    chunks = list(tiny_renderer.render(source, _track(tiny_renderer.latent_dim), chunk_size=CHUNK, workers=2))
    assert torch.get_num_threads() == before
    assert torch.is_grad_enabled()
    assert not any(c.requires_grad for c in chunks), "workers decode without autograd"
    assert not _decode_worker_threads(), "the workers end with the iterator"


def test_one_thread_workers_run_on_one_intra_op_thread() -> None:
    """The mechanism itself: a worker's OpenMP team is one thread while the caller keeps its count."""
    ctypes = pytest.importorskip("ctypes")
    library = next(Path(torch.__file__).parent.joinpath("lib").glob("libgomp*"), None)
    if library is None:
        pytest.skip("torch is not built with GNU OpenMP here")
    omp = ctypes.CDLL(str(library))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with runtime.OneThreadWorkers(2) as pool:
            teams = [pool.submit(omp.omp_get_max_threads).result() for _ in range(4)]
            assert torch.get_num_threads() == 2
            assert omp.omp_get_max_threads() == 2
        assert teams == [1, 1, 1, 1]
    finally:
        torch.set_num_threads(before)


def test_pools_started_at_once_restore_the_thread_count() -> None:
    """Two renders starting their workers together (a server's jobs) must not leave the process on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    errors: list[BaseException] = []

    def start_pools() -> None:
        try:
            for _ in range(10):
                with runtime.OneThreadWorkers(2) as pool:
                    pool.submit(torch.ones, 4).result()
        except BaseException as error:  # surfaced below: a thread's exception is otherwise lost
            errors.append(error)

    try:
        threads = [threading.Thread(target=start_pools) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_failing_worker_raises_a_render_error_and_stops(
    tiny_renderer: Renderer, portraits: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tiny_renderer.encode(portraits[:1])
    real_decode = Renderer.decode

    def decode(self: Renderer, src: object, latents: torch.Tensor, **kwargs: object) -> object:
        if float(latents[0, 0]) == float(track.latents[0, 6, 0]):
            raise RuntimeError("out of memory (simulated)")
        return real_decode(self, src, latents, **kwargs)  # type: ignore[arg-type]

    track = _track(tiny_renderer.latent_dim)
    monkeypatch.setattr(Renderer, "decode", decode)
    chunks = tiny_renderer.render(source, track, chunk_size=CHUNK, workers=2)
    assert next(chunks).shape[1] == CHUNK
    with pytest.raises(RenderError, match=r"frames 4-7 .*RuntimeError: out of memory \(simulated\).*workers=1") as info:
        next(chunks)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not _decode_worker_threads()


def test_closing_the_iterator_early_stops_the_workers(tiny_renderer: Renderer, portraits: torch.Tensor) -> None:
    source = tiny_renderer.encode(portraits[:1])
    chunks = tiny_renderer.render(source, _track(tiny_renderer.latent_dim), chunk_size=2, workers=2)
    next(chunks)
    chunks.close()
    assert not _decode_worker_threads()


def test_a_failed_save_leaves_no_file(
    tiny_renderer: Renderer, portraits: torch.Tensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renderer_module, "decode_workers", lambda device: 2)  # whatever the thread count here
    source = tiny_renderer.encode(portraits[:1])
    track = _track(tiny_renderer.latent_dim, frames=20)
    video = Video(tiny_renderer, source, track, chunk_size=CHUNK)
    saved = video.save(tmp_path / "whole.mp4")
    frames, _, _ = read_video(saved)
    assert frames.shape[0] == 20
    assert frames.dtype == np.uint8
    calls = 0
    real_decode = Renderer.decode

    def decode(self: Renderer, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 10:
            raise RuntimeError("simulated failure")
        return real_decode(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Renderer, "decode", decode)
    with pytest.raises(RenderError, match="simulated failure"):
        video.save(tmp_path / "broken.mp4")
    assert not (tmp_path / "broken.mp4").exists()


def test_the_worker_policy_and_bad_counts(
    tiny_renderer: Renderer, portraits: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert runtime.decode_workers(torch.device("cpu")) == 3
    finally:
        torch.set_num_threads(before)
    assert runtime.decode_workers(torch.device("cpu"), threads=2) == 2
    assert runtime.decode_workers(torch.device("meta"), threads=4) == 1
    with pytest.raises(ConfigError, match="positive integer"):
        runtime.decode_workers(torch.device("cpu"), threads=0)
    source = tiny_renderer.encode(portraits[:1])
    with pytest.raises(ConfigError, match="workers must be a positive integer"):
        tiny_renderer.render(source, _track(tiny_renderer.latent_dim), workers=0)
    with pytest.raises(ConfigError, match="number of workers"):
        runtime.OneThreadWorkers(0)
    # the default follows the policy, and a one-pass track needs no worker thread
    seen: list[int] = []
    real_plan = renderer_module._ChunkPlan.parallel

    def parallel(self: object, workers: int) -> object:
        seen.append(workers)
        return real_plan(self, workers)  # type: ignore[arg-type]

    monkeypatch.setattr(renderer_module._ChunkPlan, "parallel", parallel)
    monkeypatch.setattr(renderer_module, "decode_workers", lambda device: 2)
    list(tiny_renderer.render(source, _track(tiny_renderer.latent_dim)))
    list(tiny_renderer.render(source, _track(tiny_renderer.latent_dim, frames=1)))
    assert seen == [2]
