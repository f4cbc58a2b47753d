#!/usr/bin/env bash
# What a call to a lent GPU machine carries besides the project (both folders are ignored by git; about 51 MB of the
# 64 MiB a call takes). Run here, from the project root, where pip reaches a registry; then carry .whl and .parity:
#   .whl/     wheels of the dependencies the machine's image lacks (av, soundfile, pydantic and what they need;
#             the image has torch, triton, transformers, numpy, scipy, matplotlib, scikit-image, safetensors, pillow,
#             tqdm, pytest, pytest-xdist and hypothesis), for its Python 3.12 on x86_64 Linux;
#   .parity/  the parity folder without the tensors no GPU test reads (the four 512 px frame_* images and the two
#             stacked wav2vec2 features); point MOTIONKIT_PARITY_DIR at it there.
# tools/gpu_session.sh installs .whl when it is present.
set -eu
platform=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
# av and soundfile without their dependencies: those they need besides cffi (numpy) are in the image
python3 -m pip download -q --no-deps "${platform[@]}" -c constraints/ci.txt -d .whl av soundfile
python3 -m pip download -q "${platform[@]}" -c constraints/ci.txt -d .whl pydantic cffi
PYTHONPATH=".:kernels${PYTHONPATH:+:$PYTHONPATH}" python3 - <<'PY'
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from motionkit.testing.parity import fixture_dir

source, target = fixture_dir(), Path(".parity")
unread = {"frame_first", "frame_second", "frame_mid", "frame_last", "audio_w2v_stacked", "trunc_audio_w2v_stacked"}
shutil.rmtree(target, ignore_errors=True)
shutil.copytree(source, target, ignore=shutil.ignore_patterns("expected.safetensors"))
expected = load_file(str(source / "expected.safetensors"))
save_file({k: v for k, v in expected.items() if k not in unread}, str(target / "expected.safetensors"))
PY
du -sh .whl .parity
