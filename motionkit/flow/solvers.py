"""Fixed-grid ODE solvers for ``dx/dt = v(x, t)``, independent of what the velocity model is.

A velocity model is any callable ``velocity(x, t) -> v`` with ``x`` and ``v`` of the same shape and ``t`` a 0-d
tensor. A solver advances ``x`` along a time grid ``t_0 < t_1 < ... < t_K`` one interval at a time; each solver is a
small class whose docstring states its update (``h = t_{i+1} - t_i``). FLOAT integrates from noise (``t = 0``) to
data (``t = 1``) with explicit Euler on ``torch.linspace(0, 1, nfe)``, i.e. ``nfe - 1`` velocity evaluations.

Example::

    >>> import torch
    >>> from motionkit.flow.solvers import solve_ode, uniform_time_grid
    >>> x1 = torch.ones(2, 3)
    >>> solution = solve_ode(lambda x, t: x1 - x, torch.zeros(2, 3), uniform_time_grid(10), "rk4")
    >>> solution.evaluations
    36
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from motionkit.config.flow import SolverName
from motionkit.errors import ConfigError
from motionkit.validation import check_tensor

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``velocity(x, t) -> v``: ``x``, ``v`` of the same shape; ``t`` a 0-d tensor."""


class Solver:
    """One step of an explicit fixed-grid method; subclasses implement :meth:`step`."""

    name: ClassVar[SolverName]
    evaluations_per_step: ClassVar[int]

    def step(self, velocity: Velocity, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
        """Advance ``x`` from time ``t`` to ``t_next`` (both 0-d tensors)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Euler(Solver):
    """Explicit Euler (FLOAT's solver, torchdiffeq ``method='euler'``): ``x' = x + h v(x, t)``."""

    name = "euler"
    evaluations_per_step = 1

    def step(self, velocity: Velocity, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
        return x + (t_next - t) * velocity(x, t)


class Midpoint(Solver):
    """Explicit midpoint: ``x' = x + h v(x + (h/2) v(x, t), t + h/2)``."""

    name = "midpoint"
    evaluations_per_step = 2

    def step(self, velocity: Velocity, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
        h = t_next - t
        half = h / 2
        return x + h * velocity(x + half * velocity(x, t), t + half)


class Heun(Solver):
    """Heun (explicit trapezoid): ``k1 = v(x, t)``, ``k2 = v(x + h k1, t + h)``, ``x' = x + (h/2)(k1 + k2)``."""

    name = "heun"
    evaluations_per_step = 2

    def step(self, velocity: Velocity, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
        h = t_next - t
        k1 = velocity(x, t)
        k2 = velocity(x + h * k1, t_next)
        return x + (h / 2) * (k1 + k2)


class RK4(Solver):
    """Classic Runge-Kutta 4: ``k1 = v(x, t)``, ``k2 = v(x + h k1/2, t + h/2)``, ``k3 = v(x + h k2/2, t + h/2)``,
    ``k4 = v(x + h k3, t + h)``, ``x' = x + (h/6)(k1 + 2 k2 + 2 k3 + k4)``."""

    name = "rk4"
    evaluations_per_step = 4

    def step(self, velocity: Velocity, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
        h = t_next - t
        half = h / 2
        t_mid = t + half
        k1 = velocity(x, t)
        k2 = velocity(x + half * k1, t_mid)
        k3 = velocity(x + half * k2, t_mid)
        k4 = velocity(x + h * k3, t_next)
        return x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


SOLVERS: dict[str, type[Solver]] = {cls.name: cls for cls in (Euler, Midpoint, Heun, RK4)}
"""Solver name -> class."""


def get_solver(solver: str | Solver) -> Solver:
    """A solver instance from its name (``euler``, ``midpoint``, ``heun``, ``rk4``) or the instance itself."""
    if isinstance(solver, Solver):
        return solver
    try:
        return SOLVERS[solver]()
    except KeyError:
        raise ConfigError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}.") from None


def uniform_time_grid(nfe: int, device: torch.device | str | None = None) -> torch.Tensor:
    """FLOAT's grid ``torch.linspace(0, 1, nfe)`` in float32 (``nfe`` points, ``nfe - 1`` intervals)."""
    if isinstance(nfe, bool) or not isinstance(nfe, int) or nfe < 2:
        raise ConfigError(f"nfe must be an integer >= 2 (the number of time-grid points), got {nfe!r}.")
    return torch.linspace(0, 1, nfe, device=device)


def check_time_grid(time_grid: object) -> torch.Tensor:
    """Validate a user time grid: 1-D float tensor, at least two points, finite, strictly increasing."""
    grid = check_tensor("time_grid", time_grid, ndim=1, hint="Expected (K + 1,) times, e.g. torch.linspace(0, 1, 10).")
    if grid.numel() < 2:
        raise ConfigError(f"time_grid needs at least two points, got {grid.numel()}.")
    if not bool((grid[1:] > grid[:-1]).all()):
        raise ConfigError("time_grid must be strictly increasing (from noise at t = 0 towards data at t = 1).")
    return grid


@dataclass(frozen=True)
class ODESolution:
    """Result of :func:`solve_ode`.

    Attributes:
        x: the state at the last grid time.
        evaluations: number of velocity-model calls made.
        intermediates: the states at every grid time (``K + 1`` tensors) when requested, else empty.
    """

    x: torch.Tensor
    evaluations: int
    intermediates: tuple[torch.Tensor, ...] = ()


def solve_ode(
    velocity: Velocity,
    x_init: torch.Tensor,
    time_grid: torch.Tensor,
    solver: str | Solver = "euler",
    return_intermediates: bool = False,
) -> ODESolution:
    """Integrate ``dx/dt = velocity(x, t)`` from ``time_grid[0]`` to ``time_grid[-1]``.

    Args:
        velocity: ``(x, t) -> v``; it is called with the grid's 0-d time tensors (and, for multi-stage methods,
            intermediate times).
        x_init: initial state ``x(t_0)``, any shape.
        time_grid: ``(K + 1,)`` strictly increasing times; the step sizes are ``t_{i+1} - t_i`` in the grid's dtype.
        solver: a :class:`Solver` or its name.
        return_intermediates: keep the state at every grid time.
    Returns:
        :class:`ODESolution` with the final state and the number of velocity evaluations
        (``K * solver.evaluations_per_step``).
    """
    method = get_solver(solver)
    grid = check_time_grid(time_grid)
    calls = 0

    def counted(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return velocity(x, t)

    x = x_init
    states = [x] if return_intermediates else []
    for i in range(grid.numel() - 1):
        x = method.step(counted, x, grid[i], grid[i + 1])
        if return_intermediates:
            states.append(x)
    return ODESolution(x=x, evaluations=calls, intermediates=tuple(states))
