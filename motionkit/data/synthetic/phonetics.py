"""Phones of the synthetic language and the random syllable timeline that both the audio and the mouth follow.

Each phone carries its acoustics (formant targets, voicing, frication band) and its viseme (mouth opening and
width). Vowel formants are the Peterson & Barney (1952) averages of adult male speakers; consonants carry the
formant loci of their place of articulation. Openings: open vowels open widest, bilabials (p, b, m) and pauses
close the lips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from motionkit.data.synthetic.config import SpeechConfig
from motionkit.data.synthetic.identity import Voice

PhoneKind = Literal["pause", "vowel", "stop", "nasal", "fricative", "approximant", "aspirate"]


@dataclass(frozen=True)
class Phone:
    """One phone: acoustics and viseme.

    Attributes:
        formants: F1, F2, F3 targets in Hz (before the voice's formant scale).
        voicing: amplitude of the glottal source (vowels 1).
        noise_band: band of the frication or burst noise in Hz, or ``None``.
        noise: amplitude of the frication noise relative to a vowel.
        opening: mouth opening 0..1 (``None`` for /h/, which takes the following vowel's).
        width: mouth width 0 (rounded) .. 1 (spread).
    """

    name: str
    kind: PhoneKind
    formants: tuple[float, float, float]
    voicing: float
    noise_band: tuple[float, float] | None
    noise: float
    opening: float | None
    width: float


def _vowel(name: str, f1: float, f2: float, f3: float, opening: float, width: float) -> Phone:
    return Phone(name, "vowel", (f1, f2, f3), 1.0, None, 0.0, opening, width)


PAUSE = Phone("_", "pause", (500.0, 1500.0, 2500.0), 0.0, None, 0.0, 0.0, 0.5)

VOWELS: tuple[Phone, ...] = (
    _vowel("iy", 270, 2290, 3010, 0.2, 0.92),
    _vowel("ih", 390, 1990, 2550, 0.32, 0.78),
    _vowel("eh", 530, 1840, 2480, 0.52, 0.72),
    _vowel("ae", 660, 1720, 2410, 0.78, 0.78),
    _vowel("aa", 730, 1090, 2440, 1.0, 0.55),
    _vowel("ao", 570, 840, 2410, 0.72, 0.32),
    _vowel("uh", 440, 1020, 2240, 0.36, 0.3),
    _vowel("uw", 300, 870, 2240, 0.22, 0.1),
    _vowel("ah", 640, 1190, 2390, 0.62, 0.5),
    _vowel("er", 490, 1350, 1690, 0.38, 0.4),
)

CONSONANTS: tuple[Phone, ...] = (
    Phone("p", "stop", (400, 900, 2200), 0.0, (300.0, 2500.0), 0.25, 0.0, 0.5),
    Phone("b", "stop", (300, 900, 2200), 0.14, (300.0, 2500.0), 0.15, 0.0, 0.5),
    Phone("m", "nasal", (260, 1000, 2200), 0.32, None, 0.0, 0.0, 0.5),
    Phone("f", "fricative", (400, 1100, 2300), 0.0, (1500.0, 7500.0), 0.07, 0.08, 0.45),
    Phone("v", "fricative", (300, 1100, 2300), 0.3, (1500.0, 7500.0), 0.04, 0.08, 0.45),
    Phone("t", "stop", (400, 1800, 2700), 0.0, (2500.0, 7000.0), 0.3, 0.28, 0.6),
    Phone("d", "stop", (300, 1700, 2600), 0.14, (2500.0, 7000.0), 0.2, 0.28, 0.6),
    Phone("n", "nasal", (260, 1700, 2600), 0.32, None, 0.0, 0.3, 0.6),
    Phone("s", "fricative", (400, 1800, 2700), 0.0, (4000.0, 7800.0), 0.18, 0.18, 0.68),
    Phone("z", "fricative", (300, 1700, 2600), 0.3, (4000.0, 7800.0), 0.1, 0.18, 0.68),
    Phone("sh", "fricative", (400, 1900, 2500), 0.0, (2000.0, 6000.0), 0.2, 0.22, 0.25),
    Phone("k", "stop", (400, 2000, 2500), 0.0, (1500.0, 4000.0), 0.25, 0.4, 0.55),
    Phone("g", "stop", (300, 2000, 2500), 0.14, (1500.0, 4000.0), 0.18, 0.4, 0.55),
    Phone("l", "approximant", (360, 1300, 2700), 0.65, None, 0.0, 0.35, 0.55),
    Phone("r", "approximant", (420, 1300, 1600), 0.65, None, 0.0, 0.28, 0.3),
    Phone("w", "approximant", (300, 700, 2200), 0.6, None, 0.0, 0.12, 0.08),
    Phone("hh", "aspirate", (500, 1500, 2500), 0.0, (400.0, 6000.0), 0.06, None, 0.5),
)

CONSONANT_WEIGHTS = np.array([1.2, 1.0, 1.2, 0.6, 0.4, 1.3, 1.0, 1.2, 1.2, 0.5, 0.5, 0.9, 0.5, 0.9, 0.8, 0.6, 0.5])
"""Relative frequency of each consonant as a syllable onset or coda."""
VOWEL_WEIGHTS = np.array([1.0, 1.2, 1.0, 1.0, 1.1, 0.8, 0.5, 0.8, 1.3, 0.6])
"""Relative frequency of each vowel."""

PHONES: tuple[Phone, ...] = (PAUSE, *VOWELS, *CONSONANTS)
"""Every phone; a timeline stores indices into this tuple."""
_INDEX = {phone.name: i for i, phone in enumerate(PHONES)}


def phone_index(name: str) -> int:
    """Index of the phone called ``name`` in :data:`PHONES`."""
    return _INDEX[name]


@dataclass(frozen=True)
class Timeline:
    """A sequence of phones with times in seconds.

    Attributes:
        starts, ends: ``(P,)`` start and end time of each phone (s); contiguous, ``starts[0] == 0``.
        phones: ``(P,)`` indices into :data:`PHONES`.
        stressed: ``(P,)`` whether the phone belongs to a stressed syllable.
        phrase: ``(P,)`` phrase number of each phone, ``-1`` for pauses.
        duration: total length (s); the last phone is a pause that reaches it.
    """

    starts: np.ndarray
    ends: np.ndarray
    phones: np.ndarray
    stressed: np.ndarray
    phrase: np.ndarray
    duration: float

    def __len__(self) -> int:
        return int(self.phones.shape[0])

    def phone(self, i: int) -> Phone:
        return PHONES[int(self.phones[i])]

    def openings(self) -> np.ndarray:
        """``(P,)`` viseme opening of every phone; /h/ takes the opening of the phone after it."""
        out = np.zeros(len(self), np.float64)
        following = 0.0
        for i in range(len(self) - 1, -1, -1):
            opening = self.phone(i).opening
            out[i] = following if opening is None else opening
            following = out[i]
        return out

    def widths(self) -> np.ndarray:
        """``(P,)`` viseme width of every phone."""
        return np.array([self.phone(i).width for i in range(len(self))], np.float64)

    def frame_phones(self, fps: float, frames: int) -> np.ndarray:
        """``(frames,)`` index into the timeline of the phone at each frame centre ``(t + 0.5) / fps``."""
        centres = (np.arange(frames) + 0.5) / fps
        return np.clip(np.searchsorted(self.ends, centres, side="right"), 0, len(self) - 1)

    def silent_frames(self, fps: float, frames: int) -> np.ndarray:
        """``(frames,)`` bool, True where the frame centre falls inside a pause."""
        return self.phones[self.frame_phones(fps, frames)] == _INDEX[PAUSE.name]


def sample_timeline(rng: np.random.Generator, duration: float, voice: Voice, config: SpeechConfig) -> Timeline:
    """Random phrases of CV(C) syllables separated by pauses, filling exactly ``duration`` seconds.

    The clip starts with a pause of ``config.lead_silence_seconds`` and ends with a pause; a phrase that would
    not fit is cut at a syllable boundary.
    """
    pause = _INDEX[PAUSE.name]
    names: list[int] = []
    lengths: list[float] = []
    stress: list[bool] = []
    phrases: list[int] = []

    def add(index: int, seconds: float, stressed: bool, phrase: int) -> None:
        if index == pause and names and names[-1] == pause:  # never two pauses in a row
            lengths[-1] += seconds
            return
        names.append(index)
        lengths.append(seconds)
        stress.append(stressed)
        phrases.append(phrase)

    add(pause, rng.uniform(*config.lead_silence_seconds), False, -1)
    vowel_p = VOWEL_WEIGHTS / VOWEL_WEIGHTS.sum()
    consonant_p = CONSONANT_WEIGHTS / CONSONANT_WEIGHTS.sum()
    phrase = 0
    while True:
        syllables: list[list[tuple[int, float, bool]]] = []
        for _ in range(int(rng.integers(config.syllables_per_phrase[0], config.syllables_per_phrase[1] + 1))):
            stressed = bool(rng.uniform() < config.stress_probability)
            syllable: list[tuple[int, float]] = []
            if rng.uniform() < config.onset_probability:
                syllable.append((_consonant(rng, consonant_p), rng.uniform(*config.consonant_seconds)))
            vowel_seconds = rng.uniform(*config.vowel_seconds) * (config.stress_lengthening if stressed else 1.0)
            syllable.append((1 + int(rng.choice(len(VOWELS), p=vowel_p)), vowel_seconds))
            if rng.uniform() < config.coda_probability:
                syllable.append((_consonant(rng, consonant_p), rng.uniform(*config.consonant_seconds)))
            syllables.append([(index, seconds / voice.rate, stressed) for index, seconds in syllable])
        closing_pause = rng.uniform(*config.pause_seconds)
        used = float(sum(lengths))
        kept: list[list[tuple[int, float, bool]]] = []
        for timed in syllables:
            needed = sum(seconds for _, seconds, _ in timed)
            if used + needed + config.pause_seconds[0] > duration:
                break
            kept.append(timed)
            used += needed
        for timed in kept:
            for index, seconds, stressed in timed:
                add(index, seconds, stressed, phrase)
        remaining = duration - float(sum(lengths))
        if len(kept) < len(syllables) or remaining <= closing_pause + config.pause_seconds[0]:
            add(pause, max(remaining, 0.0), False, -1)
            break
        add(pause, closing_pause, False, -1)
        phrase += 1
    ends = np.cumsum(lengths)
    ends[-1] = duration  # absorb floating-point round-off so the timeline ends exactly at the clip end
    return Timeline(
        starts=np.concatenate([[0.0], ends[:-1]]),
        ends=ends,
        phones=np.array(names, np.int64),
        stressed=np.array(stress, bool),
        phrase=np.array(phrases, np.int64),
        duration=float(duration),
    )


def _consonant(rng: np.random.Generator, probabilities: np.ndarray) -> int:
    return 1 + len(VOWELS) + int(rng.choice(len(CONSONANTS), p=probabilities))
