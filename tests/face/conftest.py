"""Shared face-stack fixtures: one stack per session (the networks load once) and the public-domain photos."""

from __future__ import annotations

import numpy as np
import pytest

from motionkit.face.stack import FaceStack
from motionkit.testing.face_parity import photos


@pytest.fixture(scope="session")
def stack() -> FaceStack:
    return FaceStack()


@pytest.fixture(scope="session")
def images() -> dict[str, np.ndarray]:
    """astronaut (512 x 512), grace_hopper (512 x 600), demo_portrait, synthetic (256 x 256), uint8 RGB."""
    return photos()
