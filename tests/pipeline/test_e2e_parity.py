"""End-to-end parity: the official-layout checkpoint, converted by the CLI, generates FLOAT's motion and frames.

The parity fixture's synthetic weights are written the way FLOAT ships them — a pickled flat ``float.pth`` (the
274 parameters and the 36 buffers of the official key list), a Hugging Face ``save_pretrained`` folder for the
wav2vec2-base audio encoder and a ``pytorch_model.bin`` folder for the (tiny) emotion classifier — converted with
``motionkit convert-float`` in-process, loaded with ``Pipeline.from_pretrained`` (pickle disabled), and run on the
fixture's portrait (no crop), speech and per-window noise with FLOAT's sampling settings. Motion and frames must
match the official code's outputs within the manifest tolerances.

One module-scoped run (conversion writes about 1.3 GB; rendering 100 frames at 512 px): 2-4 minutes on 2 cores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from motionkit.cli import main
from motionkit.families.float.layout import official_flow_entries
from motionkit.model_folder import file_sha256
from motionkit.pipeline import Pipeline, Video
from motionkit.testing.files import umask, unusual_modes
from motionkit.testing.parity import ParityFixture, parity_fixture

pytestmark = pytest.mark.parity

KEY_LIST = Path(__file__).resolve().parents[2].parent / "shared" / "float" / "state_dict_keys.txt"
FRAME_NAMES = ("frame_first", "frame_second", "frame_mid", "frame_last")


def official_buffers(key_list: Path) -> dict[str, torch.Tensor]:
    """The 36 buffers of float.pth (FIR kernels, alignment mask), valued as the official constructors build them."""
    from motionkit import FlowSampler, Renderer

    names = [
        line.split("\t")[0]
        for line in key_list.read_text().splitlines()
        if line.strip() and not line.startswith("#") and line.rstrip().endswith("buffer")
    ]
    with torch.device("meta"):
        sampler = FlowSampler()
    built = {"motion_autoencoder." + name: value for name, value in Renderer().named_buffers()}
    built["fmt.alignment_mask"] = official_flow_entries(sampler)["fmt.alignment_mask"]
    return {name: built[name] for name in names}


def write_sources(fixture: ParityFixture, root: Path) -> tuple[Path, Path, Path]:
    """float.pth and the two Hugging Face folders, in the layouts FLOAT's users download."""
    from safetensors.torch import load_file

    from motionkit.conditioner import EmotionClassifier, build_wav2vec2

    checkpoint = root / "float.pth"
    state = fixture.float_state_dict()
    assert KEY_LIST.is_file(), f"official key list missing: {KEY_LIST}"
    state.update(official_buffers(KEY_LIST))
    assert len(state) == 310
    torch.save(state, checkpoint)
    del state

    wav2vec2_dir = root / "wav2vec2-base-960h"
    model = build_wav2vec2(fixture.audio_config(), fixture.audio_wav2vec2_state_dict())
    model.save_pretrained(wav2vec2_dir)  # Hugging Face's own writer
    shutil.copy(fixture.root / "preprocessor_config.json", wav2vec2_dir)
    del model

    emotion_dir = root / "wav2vec-english-speech-emotion-recognition"
    EmotionClassifier.from_state_dict(fixture.emotion_config(), fixture.emotion_state_dict()).save(emotion_dir)
    weights = emotion_dir / "model.safetensors"
    torch.save(load_file(str(weights)), emotion_dir / "pytorch_model.bin")  # the pickle the real repository ships
    weights.unlink()
    return checkpoint, wav2vec2_dir, emotion_dir


class Run:
    """Everything the tests compare, computed once."""

    def __init__(self, fixture: ParityFixture, root: Path) -> None:
        self.fixture = fixture
        self.checkpoint, wav2vec2_dir, emotion_dir = write_sources(fixture, root)
        self.model = root / "float-512"
        argv = ["--quiet", "convert-float", "--checkpoint", str(self.checkpoint), "--wav2vec2", str(wav2vec2_dir)]
        with umask():
            self.exit_code = main([*argv, "--emotion", str(emotion_dir), "--out", str(self.model)])
        assert self.exit_code == 0
        self.checkpoint.unlink()  # free the disk; its hash is in the manifest

        original_load = torch.load
        torch.load = _no_pickle  # type: ignore[assignment]  # after conversion nothing may read pickle
        try:
            self.pipeline = Pipeline.from_pretrained(self.model)
            self.video: Video = self.pipeline.generate(
                fixture.image_path,
                fixture.audio_path,
                None,  # predicted from the speech, FLOAT's default
                noise=fixture.tensor("input_noise"),
                nfe=10,
                solver="euler",
                guidance=(2.0, 1.0),
                crop=False,
            )
        finally:
            torch.load = original_load  # type: ignore[assignment]
        indices = fixture.tensor("frame_indices").tolist()
        self.frames: dict[int, torch.Tensor] = {}
        stats: list[tuple[torch.Tensor, ...]] = []
        for t, frame in enumerate(self.video.frames(raw=True)):
            if t in indices:
                self.frames[t] = frame.clone()
            x = frame.double()
            stats.append((x.mean(), x.std(correction=0), x.mean(dim=(1, 2)), x.std(dim=(1, 2), correction=0)))
        self.frame_stats = {
            name: torch.stack([s[i] for s in stats]) for i, name in enumerate(("mean", "std", "chan_mean", "chan_std"))
        }

    def check(self, name: str, actual: torch.Tensor) -> None:
        result = self.fixture.compare(name, actual)
        print(result.detail)
        assert result.ok, result.detail


def _no_pickle(*args: object, **kwargs: object) -> object:
    raise AssertionError("torch.load (pickle) was called after conversion")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return Run(parity_fixture(), tmp_path_factory.mktemp("e2e"))


def test_converted_folder_holds_no_pickle_and_records_its_sources(run: Run) -> None:
    files = [p for p in run.model.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pth", ".bin", ".pt", ".pkl")]
    assert {p.name for p in run.model.iterdir()} >= {"config.json", "renderer.safetensors", "flow.safetensors"}
    manifest = json.loads((run.model / "manifest.json").read_text())
    assert manifest["license"]["commercial_use"] is False
    assert "CC BY-NC" in manifest["license"]["name"]
    assert set(manifest["sources"]) == {"checkpoint", "wav2vec2", "emotion"}
    assert "pytorch_model.bin" in manifest["sources"]["emotion"]["files"]
    assert "preprocessor_config.json" in manifest["sources"]["wav2vec2"]["files"]
    assert len(manifest["sources"]["checkpoint"]["sha256"]) == 64
    assert run.pipeline.conditioner.emotion_classifier is not None
    assert unusual_modes([run.model]) == []  # the folder and every file in it readable like any file the user makes


def test_sampled_motion(run: Run) -> None:
    assert len(run.video) == 100
    run.check("sample_r_d", run.video.track.latents)


def test_frames(run: Run) -> None:
    indices = run.fixture.tensor("frame_indices").tolist()
    for index, name in zip(indices, FRAME_NAMES):
        run.check(name, run.frames[index])


def test_statistics_of_all_frames(run: Run) -> None:
    for name, values in run.frame_stats.items():
        run.check(f"frames_{name}", values)


def test_saved_video_has_every_frame_and_the_speech(run: Run, tmp_path: Path) -> None:
    """The MP4 decodes to the same 100 frames (H.264 at crf 0 keeps luma exact; chroma is subsampled)."""
    from motionkit.io import read_video

    path = run.video.with_track(run.video.track.slice(0, 4)).save(tmp_path / "out.mp4", crf=0)
    frames, fps, audio = read_video(path)
    assert frames.shape == (4, 512, 512, 3)
    assert fps == 25.0
    assert audio is not None
    assert abs(len(audio) - 64000) < 1100
    expected = next(run.video.frames())
    assert float(abs(frames[0].astype(float) - expected.astype(float)).mean()) < 3.0
    assert file_sha256(path)  # readable, complete
