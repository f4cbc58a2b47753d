"""Input checks shared by every component: shapes, dtypes and finiteness, with actionable messages."""

from __future__ import annotations

from collections.abc import Sequence

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
