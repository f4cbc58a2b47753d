#!/usr/bin/env bash
# Wheels of motionkit's dependencies that the lent GPU machines' image lacks (it has torch, triton, transformers,
# numpy, scipy, matplotlib, scikit-image, safetensors, pillow, tqdm, pytest, pytest-xdist and hypothesis), for its
# Python 3.12 on x86_64 Linux, into .whl/ (ignored by git). Run here, from the project root, where pip can reach a
# registry; carry .whl with the device call and benchmarks/gpu_session.sh installs them there (about 39 MB).
set -eu
DEST=${1:-.whl}
platform=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
# av and soundfile without their dependencies: those they need besides cffi (numpy) are in the image
python3 -m pip download -q --no-deps "${platform[@]}" -c constraints/ci.txt -d "$DEST" av soundfile
python3 -m pip download -q "${platform[@]}" -c constraints/ci.txt -d "$DEST" pydantic cffi
du -sh "$DEST"
