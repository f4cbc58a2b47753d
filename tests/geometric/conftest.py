"""Real photos (public domain: scikit-image's astronaut, matplotlib's Grace Hopper) and their face-stack landmarks."""

from __future__ import annotations

import matplotlib.cbook as cbook
import matplotlib.pyplot as plt
import numpy as np
import pytest
from skimage import data

from motionkit.eval.face import LandmarkFaceAnalyzer
from motionkit.geometric import GeometricPortrait, GeometricRenderer, PortraitGeometry


def _landmarks(photo: np.ndarray) -> np.ndarray:
    return np.asarray(LandmarkFaceAnalyzer().landmarks(photo[None])[0])


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def hopper() -> np.ndarray:
    """600 x 512: a portrait that is not square."""
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.ascontiguousarray(plt.imread(handle, format="jpg"))


@pytest.fixture(scope="session")
def astronaut_geometry(astronaut: np.ndarray) -> PortraitGeometry:
    return PortraitGeometry(_landmarks(astronaut))


@pytest.fixture(scope="session")
def hopper_geometry(hopper: np.ndarray) -> PortraitGeometry:
    return PortraitGeometry(_landmarks(hopper))


@pytest.fixture(scope="session")
def renderer() -> GeometricRenderer:
    return GeometricRenderer()


@pytest.fixture(scope="session")
def astronaut_portrait(
    renderer: GeometricRenderer, astronaut: np.ndarray, astronaut_geometry: PortraitGeometry
) -> GeometricPortrait:
    return renderer.encode_portrait(astronaut, geometry=astronaut_geometry)
