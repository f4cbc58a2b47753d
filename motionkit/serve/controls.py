"""Live controls -> the session's edit program, timed from the next frame.

The program a live session runs is the client's own (``start.edits`` or an ``edits`` message, times in seconds of
the session's audio) followed by the gestures asked for live: every nod is an :class:`Oscillate` from the next
frame's time for its duration; turns build one relative :class:`Keyframes` track (each turn starts when the
previous one has ended, so the head never jumps); ``still_head`` and ``lip_only`` hold a :class:`Freeze` from the
next frame until they are switched off, fading in and out over :data:`FADE` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from motionkit.serve.protocol import Nod, Toggle, Turn
from motionkit.space import EditProgram
from motionkit.space.edits import Freeze, Key, Keyframes, Oscillate
from motionkit.space.edits.axis_edits import TURN_AXIS

FADE = 0.2
"""Seconds over which a held pose (still head, lip only) blends in and out, so the head never jumps."""
NOD_FREQUENCY = 1.5
"""Nods per second (Hz), :meth:`Oscillate.nod`'s default."""


@dataclass
class LiveEdits:
    """The client's program plus the live gestures (see the module docstring)."""

    program: EditProgram = field(default_factory=EditProgram)
    nods: list[Oscillate] = field(default_factory=list)
    turn_keys: list[Key] = field(default_factory=list)
    holds: dict[str, Freeze] = field(default_factory=dict)
    released: list[Freeze] = field(default_factory=list)

    def nod(self, message: Nod, now: float) -> None:
        fade = min(FADE, message.duration / 2)
        self.nods.append(
            Oscillate.nod(
                amplitude=message.amplitude,
                frequency=NOD_FREQUENCY,
                start=now,
                end=now + message.duration,
                fade_in=fade,
                fade_out=fade,
            )
        )

    def turn(self, message: Turn, now: float) -> float:
        """Add a turn; returns the time it starts (now, or when the previous turn ends)."""
        current = self.turn_keys[-1].value if self.turn_keys else 0.0
        start = max(now, self.turn_keys[-1].time if self.turn_keys else now)
        if not self.turn_keys or start > self.turn_keys[-1].time:  # keys must be strictly increasing in time
            self.turn_keys.append(Key(time=start, value=current))
        self.turn_keys.append(Key(time=start + message.duration, value=message.angle))
        return start

    def toggle(self, message: Toggle, now: float) -> None:
        held = self.holds.pop(message.type, None)
        if held is not None:  # switching off (or on again): the current hold fades out from now
            end = max(now + FADE, held.start + 2 * FADE)
            self.released.append(held.model_copy(update={"end": end, "fade_out": FADE}))
        if message.on:
            hold = Freeze.still_head(start=now) if message.type == "still_head" else Freeze.lip_only(start=now)
            self.holds[message.type] = hold.model_copy(update={"fade_in": FADE})

    def compose(self) -> EditProgram:
        """The whole program: the client's edits, then nods, the turn track, and the holds."""
        turns = (
            [Keyframes(axis=TURN_AXIS, keys=tuple(self.turn_keys), interpolation="ease-in-out", mode="relative")]
            if self.turn_keys
            else []
        )
        return self.program.then(*self.nods, *turns, *self.released, *self.holds.values())
