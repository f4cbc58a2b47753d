"""ODE solvers: FLOAT-exact Euler, orders of accuracy, evaluation counts, grids, errors."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.errors import ConfigError, NonFiniteError
from motionkit.flow import solvers
from motionkit.flow.solvers import SOLVERS, Euler, get_solver, solve_ode, uniform_time_grid


def test_euler_is_floats_update():
    """x_{i+1} = x_i + (t_{i+1} - t_i) v(x_i, t_i) on linspace(0, 1, nfe), bit for bit, nfe - 1 calls."""
    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 6, generator=g) / 3
    seen = []

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(t)
        return torch.tanh(x @ W) * (1 + t)

    x0 = torch.randn(2, 6, generator=g)
    solution = solve_ode(velocity, x0, uniform_time_grid(10))
    grid = torch.linspace(0, 1, 10)
    x = x0
    for i in range(9):
        dt = grid[i + 1] - grid[i]
        x = x + dt * (torch.tanh(x @ W) * (1 + grid[i]))
    assert torch.equal(solution.x, x)
    assert solution.evaluations == 9
    assert torch.equal(torch.stack(seen), grid[:-1])


@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("points", [2, 5, 10])
def test_evaluation_count(name, points):
    solution = solve_ode(lambda x, t: -x, torch.ones(3), uniform_time_grid(points), name)
    assert solution.evaluations == (points - 1) * SOLVERS[name].evaluations_per_step


@pytest.mark.parametrize(("name", "order"), [("euler", 1), ("midpoint", 2), ("heun", 2), ("rk4", 4)])
def test_order_of_accuracy(name, order):
    """Global error on dx/dt = -2x + cos(3t) falls as h^order."""

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -2 * x + torch.cos(3 * t)

    def exact(t: float) -> float:
        # x(0) = 1; particular solution (2 cos 3t + 3 sin 3t) / 13.
        return (1 - 2 / 13) * math.exp(-2 * t) + (2 * math.cos(3 * t) + 3 * math.sin(3 * t)) / 13

    errors = []
    for steps in (16, 32):
        grid = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
        x = solve_ode(velocity, torch.ones(1, dtype=torch.float64), grid, name).x
        errors.append(abs(x.item() - exact(1.0)))
    assert math.log2(errors[0] / errors[1]) == pytest.approx(order, abs=0.25)


@pytest.mark.parametrize(("name", "degree"), [("midpoint", 1), ("heun", 1), ("rk4", 3)])
def test_exact_for_polynomials_in_time(name, degree):
    """Quadrature exactness: dx/dt = t^k is integrated exactly up to the method's degree."""
    grid = torch.tensor([0.0, 0.3, 0.35, 1.0], dtype=torch.float64)
    x = solve_ode(lambda x, t: t**degree * torch.ones_like(x), torch.zeros(1, dtype=torch.float64), grid, name).x
    assert x.item() == pytest.approx(1 / (degree + 1), abs=1e-12)


def test_custom_grid_and_intermediates():
    grid = torch.tensor([0.0, 0.1, 0.5, 1.0])
    solution = solve_ode(lambda x, t: x + t, torch.ones(2), grid, "euler", return_intermediates=True)
    expected = [torch.ones(2)]
    for i in range(3):
        expected.append(expected[-1] + (grid[i + 1] - grid[i]) * (expected[-1] + grid[i]))
    assert len(solution.intermediates) == 4
    for got, want in zip(solution.intermediates, expected):
        assert torch.equal(got, want)
    assert torch.equal(solution.x, expected[-1])


@given(steps=st.integers(1, 12), name=st.sampled_from(list(SOLVERS)))
def test_constant_velocity_is_exact(steps, name):
    """Every method moves a constant field by (t_K - t_0) v (up to rounding)."""
    v = torch.tensor([0.5, -2.0], dtype=torch.float64)
    x = solve_ode(lambda x, t: v, torch.zeros(2, dtype=torch.float64), torch.linspace(0, 1, steps + 1), name).x
    torch.testing.assert_close(x, v)


def test_get_solver():
    assert isinstance(get_solver("euler"), Euler)
    solver = Euler()
    assert get_solver(solver) is solver
    with pytest.raises(ConfigError, match="unknown solver 'dopri5'; choose one of euler, midpoint, heun, rk4"):
        get_solver("dopri5")


@pytest.mark.parametrize(
    ("grid", "error", "match"),
    [
        (torch.tensor([0.0]), ConfigError, "at least two points"),
        (torch.tensor([0.0, 0.5, 0.5, 1.0]), ConfigError, "strictly increasing"),
        (torch.tensor([1.0, 0.0]), ConfigError, "strictly increasing"),
        (torch.tensor([0.0, float("nan")]), NonFiniteError, "time_grid contains NaN"),
        (torch.zeros(2, 2), Exception, "time_grid must have 1 dimensions"),
    ],
)
def test_bad_time_grids(grid, error, match):
    with pytest.raises(error, match=match):
        solve_ode(lambda x, t: x, torch.ones(1), grid)


@pytest.mark.parametrize("nfe", [1, 0, 2.5, True])
def test_bad_nfe(nfe):
    with pytest.raises(ConfigError, match="nfe must be an integer >= 2"):
        uniform_time_grid(nfe)


def test_docstring_example():
    result = doctest.testmod(solvers)
    assert result.attempted > 0
    assert result.failed == 0


def test_solver_registry_and_config_name_the_same_solvers() -> None:
    """FlowConfig.solver's Literal is the list of names; SOLVERS must hold one class per name, in that order."""
    from motionkit.config import FlowConfig
    from motionkit.config.flow import SOLVER_NAMES

    assert tuple(SOLVERS) == SOLVER_NAMES
    for name in SOLVER_NAMES:
        assert FlowConfig(solver=name).solver == SOLVERS[name].name
