"""The simulator is deterministic and contains the seed scenario."""

from __future__ import annotations

from momentstream.sim.journeys import simulate


def test_same_seed_same_events() -> None:
    a, b = simulate(100, 60, seed=4), simulate(100, 60, seed=4)
    assert [e.model_dump() for e in a.events] == [e.model_dump() for e in b.events]
    assert a.truth == b.truth
    assert simulate(100, 60, seed=5).events != a.events


def test_seed_scenario_is_support_on_monday_then_purchase_on_wednesday() -> None:
    sim = simulate(300, 90, seed=2)
    seeds = [c for c, t in sim.truth.items() if t.archetype == "seed"]
    assert seeds
    for customer in seeds:
        mine = [e for e in sim.events if e.customer_id == customer]
        support = next(e for e in mine if e.type == "support_ticket")
        second = next(e for e in mine if e.type == "purchase" and e.properties.get("order_number") == 2)
        assert support.ts.weekday() == 0
        assert second.ts.weekday() == 2
        assert 0 < (second.ts - support.ts).days <= 3
