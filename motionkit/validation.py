"""Input checks shared by every component: shapes, dtypes and finiteness, with actionable messages."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import torch

from motionkit.errors import NonFiniteError, ShapeError

FLOAT_DTYPES: tuple[torch.dtype, ...] = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_tensor(
    name: str,
    value: object,
    *,
    ndim: int | Sequence[int] | None = None,
    last_dim: int | None = None,
    dtypes: Sequence[torch.dtype] | None = FLOAT_DTYPES,
    finite: bool = True,
    hint: str = "",
) -> torch.Tensor:
    """Validate ``value`` as a tensor and return it.

    Args:
        name: how the argument is called in the public API (used in messages).
        ndim: required number of dimensions (one value or several accepted values).
        last_dim: required size of the last dimension.
        dtypes: accepted dtypes (floating types by default); ``None`` accepts any.
        finite: reject NaN/inf values.
        hint: extra advice appended to shape errors (e.g. the expected layout ``(B, T, D)``).
    """
    suffix = f" {hint}" if hint else ""
    if not isinstance(value, torch.Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor, got {type(value).__name__}.{suffix}")
    if ndim is not None:
        accepted = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in accepted:
            want = " or ".join(str(n) for n in accepted)
            raise ShapeError(f"{name} must have {want} dimensions, got shape {tuple(value.shape)}.{suffix}")
    if last_dim is not None and (value.ndim == 0 or value.shape[-1] != last_dim):
        raise ShapeError(f"{name} must have last dimension {last_dim}, got shape {tuple(value.shape)}.{suffix}")
    if dtypes is not None and value.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise ShapeError(
            f"{name} has dtype {str(value.dtype).replace('torch.', '')}; expected one of {names}. "
            f"Convert it with .float()."
        )
    if finite and value.is_floating_point() and value.numel() and not bool(torch.isfinite(value).all()):
        raise NonFiniteError(f"{name} contains NaN or infinite values; check the upstream computation or input data.")
    return value


@dataclass(frozen=True)
class KeyReport:
    """The names of a state dict checked against a model layout, without raising.

    Attributes:
        missing: names the layout needs that the state dict lacks.
        unexpected: names the state dict holds that the layout does not know.
        misshaped: ``"name (found shape) (expected shape)"`` for names present with the wrong shape or type.

    Reports add up (``a + b``), so a checkpoint holding several components can be checked component by component
    and reported as one error.
    """

    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    misshaped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.misshaped)

    def __add__(self, other: KeyReport) -> KeyReport:
        return KeyReport(
            self.missing + other.missing, self.unexpected + other.unexpected, self.misshaped + other.misshaped
        )

    def describe(self, limit: int = 8) -> str:
        """``"2 missing: a, b; 1 unexpected: c; 1 with the wrong shape: d (3,) (expected (4,))"`` (empty if ok)."""
        parts = []
        for label, names in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("with the wrong shape", self.misshaped),
        ):
            if names:
                shown = ", ".join(names[:limit]) + (f", ... (+{len(names) - limit} more)" if len(names) > limit else "")
                parts.append(f"{len(names)} {label}: {shown}")
        return "; ".join(parts)


def check_keys(
    state_dict: Mapping[str, object],
    expected: Mapping[str, Sequence[int]],
    *,
    optional: Collection[str] = (),
    prefix: str = "",
) -> KeyReport:
    """Compare the entries of ``state_dict`` whose names start with ``prefix`` with a layout.

    Args:
        state_dict: name -> tensor (other values are reported as mis-shaped).
        expected: full name -> shape of every tensor the layout needs.
        optional: full names the layout accepts without needing them (e.g. buffers a constructor rebuilds); their
            shapes are not checked.
        prefix: only names starting with it are checked (the component's part of a larger checkpoint).
    """
    names = [name for name in state_dict if name.startswith(prefix)]
    present = set(names)
    missing = tuple(name for name in expected if name not in present)
    unexpected = tuple(name for name in names if name not in expected and name not in optional)
    misshaped = []
    for name in names:
        if name not in expected:
            continue
        value, want = state_dict[name], tuple(expected[name])
        if not isinstance(value, torch.Tensor):
            misshaped.append(f"{name} (a {type(value).__name__}) (expected a tensor of shape {want})")
        elif tuple(value.shape) != want:
            misshaped.append(f"{name} {tuple(value.shape)} (expected {want})")
    return KeyReport(missing, unexpected, tuple(misshaped))
