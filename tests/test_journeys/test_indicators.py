"""Indicators and paths on hand-made records: what counts as "a, then b", and what the paths leave out."""

from __future__ import annotations

from momentstream.journeys.indicators import Indicator, split_by_start
from momentstream.journeys.paths import OTHER, path_map
from momentstream.journeys.records import CustomerRecord

DAY = 86_400_000


def record(name: str, start: int, top: bool, path: tuple[str, ...], **times: tuple[int, int]) -> CustomerRecord:
    firsts = {k: v[0] * DAY for k, v in times.items()}
    lasts = {k: v[1] * DAY for k, v in times.items()}
    return CustomerRecord(name, start, 100.0 if top else 0.0, firsts, lasts, path, top)


def test_a_then_b_needs_a_b_after_the_first_a() -> None:
    pair = Indicator(("guide", "success"))
    assert pair.completed(record("c", 0, True, (), guide=(2, 2), success=(5, 5))) == 5 * DAY
    assert pair.completed(record("c", 0, True, (), guide=(2, 2), success=(1, 9))) == 9 * DAY  # b, a, then b again
    assert pair.completed(record("c", 0, True, (), guide=(2, 2), success=(1, 1))) is None  # b only before a
    assert pair.completed(record("c", 0, True, (), success=(1, 1))) is None
    assert Indicator(("guide",)).completed(record("c", 0, True, (), guide=(3, 4))) == 3 * DAY


def test_the_earlier_half_chooses_and_the_later_half_tests() -> None:
    records = [record(f"c{i}", start=(9 - i) * DAY, top=False, path=()) for i in range(10)]
    earlier, later = split_by_start(records)
    assert max(r.start_ms for r in earlier) < min(r.start_ms for r in later)
    assert len(earlier) == len(later) == 5


def test_paths_leave_out_what_everyone_does_and_pool_the_rare_steps() -> None:
    records = [record(f"t{i}", 0, True, ("login", "guide", "login", "success")) for i in range(5)]
    records += [record(f"r{i}", 0, False, ("login", f"rare{i}", "login", "purchase")) for i in range(20)]
    found = path_map(records, steps=3, width=3)
    assert found.left_out == ["login"]
    assert found.columns[0][:1] == ["guide"]  # by share of each cohort: the top's guide leads step 1
    assert OTHER in found.columns[0]
    assert found.nodes[(0, "guide")] == [5, 0]
    assert found.links[(0, "guide", "success")] == [5, 0]
    assert sum(found.nodes[(0, label)][1] for label in found.columns[0] if (0, label) in found.nodes) == 20
