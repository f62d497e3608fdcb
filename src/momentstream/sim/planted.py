"""Histories with a planted truth the discovery code cannot know: random words, random window.

Used by the discovery tests and ``benchmarks/discover_quality.py``.

Every run draws its own vocabulary (nonsense words, nothing like the demo's event names), its
own planted sequence among them, and its own intervention window in hours. Planted customers
go through the sequence; an ``intervention`` follows at a uniformly random delay; reached
inside the window they reach the outcome with probability ``inside``, otherwise ``outside``.
Everyone also produces noise events of every word, the planted ones included, and ordinary
outcomes at random times. With ``confounded``, most sends are scheduled instead (early to
customers who will reach the outcome anyway, late to the others: a spurious early window);
only the sends marked ``timing: random`` follow the planted window. Without ``effect`` nothing
follows the sequence: the outcome is independent of behaviour, and nothing should be found.

``shape`` plants something other than an ordered sequence: any 3 of 5 words within 7 days
(``at_least``), a word not followed by another for 12h (``absence``; half the planted customers are
near misses whose second word comes within the 12h, with no effect; in everyone's background the
second word follows the first within 12h nine times in ten, as a purchase follows most carts), or a
sequence whose last event has a ``value`` of at least a round threshold (``value``; half are near
misses with an ordinary value).
"""

from __future__ import annotations

import json
import math
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

__all__ = ["SHAPES", "START", "Planted", "Shape", "plant"]

START = datetime(2025, 3, 3, tzinfo=UTC)


Shape = Literal["sequence", "at_least", "absence", "value"]
SHAPES: tuple[Shape, ...] = ("sequence", "at_least", "absence", "value")


@dataclass(frozen=True)
class Planted:
    """What was planted: the sequence of event types, the window in hours, the outcome and intervention names.

    For the other shapes: ``at_least`` any ``k`` of ``sequence`` within 7 days; ``absence`` the first of
    ``sequence`` with no second for 12h (the window measured from the first); ``value`` the sequence with its
    last event's ``value`` at least ``threshold``.
    """

    sequence: tuple[str, ...]
    window_h: tuple[float, float]
    outcome: str
    intervention: str
    vocabulary: tuple[str, ...]
    shape: Shape = "sequence"
    k: int = 0
    threshold: float | None = None


_ABSENCE_H = 12
_SET_DAYS = 7


def _word(rng: random.Random) -> str:
    return rng.choice(string.ascii_lowercase) + "".join(rng.choices(string.ascii_lowercase + "_", k=rng.randint(4, 9)))


def plant(
    path: Path,
    seed: int,
    *,
    customers: int = 2500,
    days: int = 120,
    share: float = 0.45,
    inside: float = 0.85,
    outside: float = 0.15,
    effect: bool = True,
    steps: int | None = None,
    confounded: bool = False,
    shape: Shape = "sequence",
) -> Planted:
    """Write a history to ``path`` (JSON lines, shuffled) and return what was planted."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < 10:
        words.add(_word(rng))
    vocabulary = tuple(sorted(words))
    outcome, intervention, *behaviour = vocabulary
    sequence = tuple(rng.sample(behaviour, steps or rng.choice([2, 3])))
    opens = rng.uniform(4, 30)
    window = (opens, opens + rng.uniform(12, 30))
    noise_h, k, threshold = 48.0, 0, None
    if shape == "at_least":  # 5 indicators among 12 words, rarer noise: 3 of 5 by chance stays the exception
        while len(words) < 14:
            words.add(_word(rng))
        vocabulary, behaviour = tuple(sorted(words)), sorted(words - {outcome, intervention})
        sequence, k, noise_h = tuple(rng.sample(behaviour, 5)), 3, 96.0
    elif shape == "absence":  # measured from the first step, after the 12h that make the absence known
        sequence = sequence[:2]
        opens = rng.uniform(16, 30)
        window = (opens, opens + rng.uniform(12, 30))
    elif shape == "value":
        sequence = sequence[:2]
        threshold = float(rng.choice([20, 50, 100, 200, 500]))
    truth = Planted(sequence, window, outcome, intervention, vocabulary, shape, k, threshold)
    lines: list[str] = []
    for c in range(customers):
        _customer(lines, rng, f"u{seed}-{c:05d}", truth, behaviour, days=days, share=share, inside=inside,
                  outside=outside, effect=effect, confounded=confounded, noise_h=noise_h)  # fmt: skip
    rng.shuffle(lines)
    path.write_text("\n".join(lines) + "\n")
    return truth


def _customer(
    lines: list[str],
    rng: random.Random,
    cid: str,
    truth: Planted,
    behaviour: list[str],
    *,
    days: int,
    share: float,
    inside: float,
    outside: float,
    effect: bool,
    confounded: bool,
    noise_h: float,
) -> None:
    """One customer's events: noise, ordinary outcomes and sends, and for a planted customer the shape."""
    outcome, intervention, sequence, window = truth.outcome, truth.intervention, truth.sequence, truth.window_h
    n = 0
    noise: list[tuple[int, str, datetime]] = []

    def emit(kind: str, ts: datetime, value: float | None = None, **properties: str) -> None:
        nonlocal n
        n += 1
        record: dict[str, object] = {"event_id": f"{cid}-{n}", "customer_id": cid, "type": kind,
                                     "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "properties": properties}  # fmt: skip
        if value is not None:
            record["value"] = value
        lines.append(json.dumps(record))

    def background_value(kind: str) -> float | None:
        if truth.threshold is None or kind != sequence[-1]:
            return None
        return round(rng.lognormvariate(math.log(truth.threshold / 3), 0.5), 2)

    joined = START + timedelta(days=rng.uniform(0, days - 45))
    t = joined
    while True:  # noise: every behavioural word, about one event per two days
        t += timedelta(hours=rng.expovariate(1 / noise_h))
        if t >= START + timedelta(days=days):
            break
        kind = rng.choice(behaviour)
        noise.append((len(lines), kind, t))
        emit(kind, t, background_value(kind))
        if truth.shape == "absence" and kind == sequence[0] and rng.random() < 0.9:  # as a cart is mostly bought
            after = t + timedelta(hours=rng.uniform(1, _ABSENCE_H - 2))
            noise.append((len(lines), sequence[1], after))
            emit(sequence[1], after)
    if rng.random() < 0.25:  # ordinary outcomes, unrelated to anything, inside the customer's observed span
        emit(outcome, joined + (START + timedelta(days=days) - joined) * rng.random())
    if rng.random() < 0.2:
        emit(intervention, joined + timedelta(days=rng.uniform(0, days)))
    if rng.random() >= share:
        return
    t = joined + timedelta(days=rng.uniform(1, 20))
    decoy = truth.shape in ("absence", "value") and rng.random() < 0.5  # the near miss: no effect follows
    if truth.shape == "at_least":
        times = sorted(rng.uniform(0, _SET_DAYS - 0.5) for _ in range(truth.k))
        for kind, day in zip(rng.sample(sequence, truth.k), times, strict=True):
            emit(kind, t + timedelta(days=day))
        t += timedelta(days=times[-1])
    elif truth.shape == "absence":
        first, missing = sequence
        emit(first, t)
        if decoy:
            emit(missing, t + timedelta(hours=rng.uniform(1, _ABSENCE_H - 2)))
        else:  # nothing of the second step in the 12h after the first, noise included
            drop = {i for i, kind, ts in noise if kind == missing and t < ts <= t + timedelta(hours=_ABSENCE_H)}
            for i in sorted(drop, reverse=True):
                lines.pop(i)
    else:
        for kind in sequence:
            t += timedelta(hours=rng.uniform(1, 20))
            value = None
            if truth.threshold is not None and kind == sequence[-1]:  # the last step carries the amount
                value = background_value(kind) if decoy else round(truth.threshold * rng.uniform(1, 3), 2)
            emit(kind, t, value)
    if confounded and rng.random() < 0.6:  # a scheduled send: early to those who buy anyway, late to the rest
        buys = rng.random() < 0.5
        delay = rng.uniform(0, 6) if buys else rng.uniform(50, 72)
        emit(intervention, t + timedelta(hours=delay), timing="scheduled")
        if buys:
            emit(outcome, t + timedelta(days=rng.uniform(4, 12)))
        return
    delay = rng.uniform(_ABSENCE_H, 72) if truth.shape == "absence" else rng.uniform(0, 72)
    emit(intervention, t + timedelta(hours=delay), timing="random")
    hit = window[0] <= delay < window[1]
    if effect and not decoy and rng.random() < (inside if hit else outside):
        emit(outcome, t + timedelta(days=rng.uniform(4, 12)))
