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
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["START", "Planted", "plant"]

START = datetime(2025, 3, 3, tzinfo=UTC)


@dataclass(frozen=True)
class Planted:
    """What was planted: the sequence of event types, the window in hours, the outcome and intervention names."""

    sequence: tuple[str, ...]
    window_h: tuple[float, float]
    outcome: str
    intervention: str
    vocabulary: tuple[str, ...]


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
    lines: list[str] = []
    for c in range(customers):
        cid = f"u{seed}-{c:05d}"
        n = 0

        def emit(kind: str, ts: datetime, _cid: str = cid, **properties: str) -> None:
            nonlocal n
            n += 1
            lines.append(json.dumps({"event_id": f"{_cid}-{n}", "customer_id": _cid, "type": kind,
                                     "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "properties": properties}))  # fmt: skip

        joined = START + timedelta(days=rng.uniform(0, days - 45))
        t = joined
        while True:  # noise: every behavioural word, about one event per two days
            t += timedelta(hours=rng.expovariate(1 / 48))
            if t >= START + timedelta(days=days):
                break
            emit(rng.choice(behaviour), t)
        if rng.random() < 0.25:  # ordinary outcomes, unrelated to anything, inside the customer's observed span
            emit(outcome, joined + (START + timedelta(days=days) - joined) * rng.random())
        if rng.random() < 0.2:
            emit(intervention, joined + timedelta(days=rng.uniform(0, days)))
        if rng.random() >= share:
            continue
        t = joined + timedelta(days=rng.uniform(1, 20))
        for kind in sequence:
            t += timedelta(hours=rng.uniform(1, 20))
            emit(kind, t)
        if confounded and rng.random() < 0.6:  # a scheduled send: early to those who buy anyway, late to the rest
            buys = rng.random() < 0.5
            delay = rng.uniform(0, 6) if buys else rng.uniform(50, 72)
            emit(intervention, t + timedelta(hours=delay), timing="scheduled")
            if buys:
                emit(outcome, t + timedelta(days=rng.uniform(4, 12)))
            continue
        delay = rng.uniform(0, 72)
        emit(intervention, t + timedelta(hours=delay), timing="random")
        hit = window[0] <= delay < window[1]
        if effect and rng.random() < (inside if hit else outside):
            emit(outcome, t + timedelta(days=rng.uniform(4, 12)))
    rng.shuffle(lines)
    path.write_text("\n".join(lines) + "\n")
    return Planted(sequence, window, outcome, intervention, vocabulary)
