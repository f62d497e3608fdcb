"""The Pareto/NBD buyers: the published generative story, with the dropout the events never show."""

from __future__ import annotations

from collections import Counter

import numpy as np

from momentstream.sim.btyd import simulate_btyd


def test_buyers_buy_only_while_alive_and_look_like_cdnow() -> None:
    history = simulate_btyd(3000, days=540, seed=4)
    purchases = Counter(e.customer_id for e in history.events)
    assert set(purchases) == set(history.acquired_day)  # everyone makes the trial purchase
    for event in history.events:
        day = history.day_of(event.ts)
        assert history.acquired_day[event.customer_id] <= day < history.dropout_day[event.customer_id] + 1e-4
        assert event.value is not None
        assert event.value > 0
    one_timers = sum(1 for n in purchases.values() if n == 1) / len(purchases)
    assert 0.45 < one_timers < 0.75  # CDNOW: 60% never come back
    gone = np.mean([t < 540 for t in history.dropout_day.values()])
    assert 0.4 < gone < 0.85
    assert [e.ts for e in history.events] == sorted(e.ts for e in history.events)


def test_the_same_seed_gives_the_same_buyers() -> None:
    a, b = simulate_btyd(50, 200, seed=1), simulate_btyd(50, 200, seed=1)
    assert a.events == b.events
    assert a.dropout_day == b.dropout_day
    assert simulate_btyd(50, 200, seed=2).events != a.events
