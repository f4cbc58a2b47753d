"""Frame-rate conversion: output frame ``k`` shows the source frame whose timestamp is nearest to ``k / fps``.

Timestamps are relative to the first frame; ties go to the earlier frame. A clip lasts until the end of its last
frame, so a clip of ``n`` frames at rate ``r`` gives ``ceil(n * fps / r)`` output frames.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from fractions import Fraction


def output_frames(times: Sequence[Fraction], fps: Fraction, fallback_rate: Fraction) -> int:
    """Output frames of a clip whose sorted source times (seconds from the first frame) are ``times``: the clip
    lasts one mean frame step past its last frame (``1 / fallback_rate`` for a single frame)."""
    step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 1 / fallback_rate
    return math.ceil((times[-1] + step) * fps)


def nearest_source_frames(times: Sequence[Fraction], frames: int, fps: Fraction) -> list[int]:
    """For each output frame k, the index of the source time nearest to k / fps (ties: the earlier)."""
    chosen = []
    for k in range(frames):
        target = Fraction(k) / fps
        right = bisect.bisect_left(times, target)
        if right == 0:
            chosen.append(0)
        elif right == len(times):
            chosen.append(len(times) - 1)
        else:
            before, after = times[right - 1], times[right]
            chosen.append(right - 1 if target - before <= after - target else right)
    return chosen
