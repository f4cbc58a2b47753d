"""FlowSampler: FLOAT's flow-matching motion generator and its parts.

- :mod:`~motionkit.flow.transformer` — the vector-field network (FMT) with per-frame adaLN-Zero and banded attention.
- :mod:`~motionkit.flow.solvers` — model-agnostic fixed-grid ODE solvers (FLOAT-exact Euler, midpoint, Heun, RK4).
- :mod:`~motionkit.flow.inputs` — :class:`VectorFieldInputs`, the conditions of one vector-field call.
- :mod:`~motionkit.flow.guidance` — classifier-free guidance with audio and emotion scales.
- :mod:`~motionkit.flow.noise` — seeded per-frame, explicit, or FLOAT-style fixed initial noise.
- :mod:`~motionkit.flow.windows` — FLOAT's L' + L windowed schedule, incremental for streaming.
- :mod:`~motionkit.flow.sampler` — :class:`FlowSampler`, tying them together.
- :mod:`~motionkit.flow.objective` — the training loss (flow matching + velocity loss, condition dropout).
"""

from motionkit.flow.guidance import ClassifierFreeGuidance, VectorField
from motionkit.flow.inputs import VectorFieldInputs
from motionkit.flow.noise import ExplicitNoise, SeededNoise, float_fixed_noise, frame_noise
from motionkit.flow.objective import ConditionDropout, LossOutput, flow_matching_loss, uniform_time
from motionkit.flow.sampler import FlowSampler, SamplingStats
from motionkit.flow.solvers import (
    RK4,
    SOLVERS,
    Euler,
    Heun,
    Midpoint,
    ODESolution,
    Solver,
    solve_ode,
    uniform_time_grid,
)
from motionkit.flow.transformer import FlowTransformer
from motionkit.flow.windows import WindowSchedule

__all__ = [
    "RK4",
    "SOLVERS",
    "ClassifierFreeGuidance",
    "ConditionDropout",
    "Euler",
    "ExplicitNoise",
    "FlowSampler",
    "FlowTransformer",
    "Heun",
    "LossOutput",
    "Midpoint",
    "ODESolution",
    "SamplingStats",
    "SeededNoise",
    "Solver",
    "VectorField",
    "VectorFieldInputs",
    "WindowSchedule",
    "float_fixed_noise",
    "flow_matching_loss",
    "frame_noise",
    "solve_ode",
    "uniform_time",
    "uniform_time_grid",
]
