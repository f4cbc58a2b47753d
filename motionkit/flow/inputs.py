"""The conditions of one vector-field evaluation, as one frozen type.

A vector field is called as ``model(x, t, inputs)``: ``x`` the current state, ``t`` the flow time and ``inputs``
everything the field is conditioned on. Guidance, CUDA graphs, the windowed sampler, the training objective and the
benchmarks pass ``inputs`` along without naming its members, so a new condition (pose, gaze) changes this type and
the transformer that reads it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from motionkit.errors import ShapeError


@dataclass(frozen=True)
class VectorFieldInputs:
    """Conditions of the flow transformer for a batch of ``B`` windows (``L`` current, ``L'`` context frames).

    Attributes:
        wa: ``(B, L, Da)`` audio features of the current frames.
        wr: ``(B, D)`` source (reference) motion.
        we: ``(B, 1, E)`` emotion shared by all ``L' + L`` frames (FLOAT), or ``(B, L' + L, E)`` per frame
            (context frames first).
        prev_x: ``(B, L', D)`` context motion (clean, not noised; zeros before the first window).
        prev_wa: ``(B, L', Da)`` context audio features.
    """

    wa: torch.Tensor
    wr: torch.Tensor
    we: torch.Tensor
    prev_x: torch.Tensor
    prev_wa: torch.Tensor

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Member names in order (the order of :meth:`tensors`)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The members in :meth:`names` order."""
        return tuple(getattr(self, name) for name in self.names())

    @classmethod
    def from_tensors(cls, tensors: Sequence[torch.Tensor]) -> VectorFieldInputs:
        """Inverse of :meth:`tensors`."""
        names = cls.names()
        if len(tensors) != len(names):
            raise ShapeError(f"vector-field inputs are {len(names)} tensors ({', '.join(names)}), got {len(tensors)}.")
        return cls(**dict(zip(names, tensors)))

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> VectorFieldInputs:
        """``fn`` applied to every member (e.g. a device move)."""
        return self.from_tensors([fn(value) for value in self.tensors()])

    def replace(self, **changes: torch.Tensor) -> VectorFieldInputs:
        """A copy with the named members replaced."""
        return dataclasses.replace(self, **changes)

    def nulled(self, names: Iterable[str]) -> VectorFieldInputs:
        """A copy with the named members replaced by zeros (classifier-free guidance's dropped conditions)."""
        return self.replace(**{name: torch.zeros_like(getattr(self, name)) for name in names})

    @classmethod
    def cat(cls, batches: Sequence[VectorFieldInputs]) -> VectorFieldInputs:
        """Member-wise concatenation along the batch dimension."""
        return cls.from_tensors([torch.cat(parts) for parts in zip(*(b.tensors() for b in batches))])
