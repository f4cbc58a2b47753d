"""EditProgram: an ordered, serialisable list of edits applied to a MotionTrack in a MotionSpace.

``program.apply(track, space)`` projects the latents, runs every edit on the coefficients in order and composes
back as ``x' = x + V (c' - c)``: the residual outside the span is kept exactly, and a program that changes
nothing returns the input latents unchanged. The input track is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import Field

from motionkit.errors import EditError, ShapeError
from motionkit.space._model import SpaceModel
from motionkit.space.edits.axis_edits import Keyframes, Offset, Oscillate, Scale, Set
from motionkit.space.edits.base import EditContext, EditState
from motionkit.space.edits.subspace_edits import Freeze, Mix, Retarget, Smooth
from motionkit.space.space import MotionSpace, compute_dtype
from motionkit.types import MotionTrack

EDIT_PROGRAM_VERSION: Final = 1

Edit = Annotated[
    Offset | Scale | Set | Oscillate | Keyframes | Freeze | Smooth | Mix | Retarget,
    Field(discriminator="kind"),
]
"""Any edit; JSON objects are told apart by their ``"kind"`` field."""


class EditProgram(SpaceModel):
    """An ordered list of edits; pure: ``apply`` returns a new track.

    Example::

        program = EditProgram(edits=[Oscillate.nod(amplitude=8.0, end=2.0), Keyframes.turn(20.0, start=2.0)])
        edited = program.apply(track, space)            # space must have "pitch" and "yaw" axes
        program.save("edits.json"); EditProgram.load("edits.json") == program
    """

    version: Literal[1] = Field(default=EDIT_PROGRAM_VERSION, description="Edit-program format version.")
    edits: tuple[Edit, ...] = ()

    def then(self, *edits: Edit) -> EditProgram:
        """A new program with ``edits`` appended."""
        return EditProgram(edits=(*self.edits, *edits))

    def apply(
        self,
        track: MotionTrack,
        space: MotionSpace,
        references: Mapping[str, MotionTrack] | None = None,
        *,
        first_frame: int = 0,
        total_duration: float | None = None,
    ) -> MotionTrack:
        """Apply the edits in order.

        Args:
            track: the motion to edit, latents ``(B, T, D)`` with ``D == space.dim``.
            space: the motion space whose axes the edits name.
            references: tracks that :class:`Mix` and :class:`Retarget` refer to by name.
            first_frame: where ``track`` starts in a longer stream (a live session edits each new chunk with its
                recent past): edit times are the stream's, frame ``k`` at ``(first_frame + k) / fps``, and
                references are read from that frame on.
            total_duration: the stream's length in seconds, where edits without an ``end`` stop (``math.inf``
                while it runs); default: the end of ``track``.

        Returns:
            A new track with the same fps; its source is the input's, except after a ``Retarget`` to a named
            target (then the target's source).
        """
        if not isinstance(track, MotionTrack):
            raise EditError(f"apply() edits a MotionTrack, got {type(track).__name__}; wrap latents in MotionTrack.")
        if not isinstance(space, MotionSpace):
            raise EditError(f"apply() needs a MotionSpace, got {type(space).__name__}.")
        if track.dim != space.dim:
            raise ShapeError(
                f"the track has latent size {track.dim} but the space has dim {space.dim}; use the space of the "
                "model that produced the track."
            )
        if isinstance(first_frame, bool) or not isinstance(first_frame, int) or first_frame < 0:
            raise EditError(f"first_frame must be a non-negative integer, got {first_frame!r}.")
        references = dict(references or {})
        for name, reference in references.items():
            if not isinstance(reference, MotionTrack):
                raise EditError(f"references[{name!r}] must be a MotionTrack, got {type(reference).__name__}.")
        dtype = compute_dtype(track.latents.dtype)
        context = EditContext(
            space=space,
            fps=float(track.fps),
            frames=track.frames,
            batch=track.batch,
            dtype=dtype,
            latent_dtype=track.latents.dtype,
            device=track.latents.device,
            references=references,
            first_frame=first_frame,
            total_duration=total_duration,
        )
        original = context.coefficients(track.latents)
        state = EditState(original, track.source)
        for index, edit in enumerate(self.edits):
            try:
                state = edit.transform(state, context)
            except EditError as error:
                raise error.with_context(f"edit {index} ({edit.kind}): ") from None
        latents = track.latents.to(dtype) + space.compose(state.coefficients - original)
        return MotionTrack(latents.to(track.latents.dtype), fps=track.fps, source=state.source)

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> EditProgram:
        """Parse a program; any problem raises :class:`~motionkit.EditError` naming the offending field."""
        return cls.model_validate_json(text)

    def save(self, path: str | Path) -> Path:
        """Write the program as JSON (atomically); returns the path."""
        from motionkit.io.files import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> EditProgram:
        """Read a program written by :meth:`save` (or by hand)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise EditError(f"cannot read edit program {path} ({error}).") from None
        try:
            return cls.from_json(text)
        except EditError as error:
            raise error.with_context(f"{path}: ") from None
