"""Kept predictions packed: exact values back, vectors shared, the state's encoding unchanged, hostile names bounded."""

from __future__ import annotations

import math
import sys
from array import array

import msgpack
import pytest

from momentstream.models import shared_names
from momentstream.models.kept_predictions import KeptPredictions, KeptRow
from momentstream.models.scoring_state import ScoringState
from tests.test_models.test_scoring_state import FEATURES

OLDER = [FEATURES, {"churn": [[1, 100, 200, {"a": 1.0, "b": 2.5}], [2, 150, 250, {"a": 2.0}, 0]],
                    "value": [[3, 100, 900, {"a": 1.0, "b": 2.5}, 12.5]], "expansion": []}, {}, 3, None,
         {"churn": 150, "value": 100}]  # fmt: skip


def test_values_come_back_exactly_in_their_order() -> None:
    x = {"b": 0.1, "a": -0.0, "huge": 1e308, "tiny": 5e-324, "nan": math.nan, "count": 3}
    kept = KeptPredictions()
    kept.add("churn", 1, 0, 10, x)
    ((_, (back,)),) = kept.take_all_due(10)
    assert list(back.x) == list(x)
    assert [math.copysign(1, v) for v in back.x.values() if v == 0] == [-1.0]
    assert all(back.x[k] == v or (math.isnan(back.x[k]) and math.isnan(v)) for k, v in x.items())


def test_the_state_encoding_is_the_bytes_it_always_was() -> None:
    state = ScoringState.from_list(OLDER)
    assert msgpack.packb(state.to_list()[1]) == msgpack.packb(OLDER[1])  # labels 0 stay integers, 12.5 a float
    assert len(state.pending.values) == 3  # churn's and value's rows of one instant share their features


class _Row:
    """The objects packing replaced: a slotted prediction of five fields and a vector of names and values."""

    __slots__ = ("at_ms", "deadline_ms", "label", "ref", "x")


class _Vector:
    __slots__ = ("names", "values")


def test_kept_predictions_cost_less_than_the_objects_they_replaced() -> None:
    """Twenty predictions of twenty features, four objectives keeping at the same instants, two by two on the
    same features: the replaced objects, built here as they were, beside the packed rows."""
    kept, objects, lists = KeptPredictions(), 0, {name: [] for name in ("churn", "upsell", "value", "spend")}
    for at in range(5):
        for pair in (("churn", "upsell"), ("value", "spend")):
            x = {f"{pair[0]}_feature_{i}": float(at + i) for i in range(20)}
            vector = None
            old = _Vector()
            old.values = array("d", list(x.values()))
            objects += sys.getsizeof(old) + sys.getsizeof(old.values)
            for name in pair:
                vector = kept.add(name, at, at, at + 100, x, vector)
                lists[name].append(_Row())
                objects += sys.getsizeof(lists[name][-1])
    objects += sum(sys.getsizeof(rows) for rows in lists.values()) + sys.getsizeof(lists)
    own = sum(sys.getsizeof(part) for part in (kept, kept.meta, kept.labels, kept.names, kept.starts, kept.values,
                                               kept.objectives))  # fmt: skip
    assert len(kept) == 20
    assert own < 0.8 * objects, (own, objects)


def refs(taken: list[tuple[str, list[KeptRow]]]) -> list[tuple[str, list[int]]]:
    return [(name, [row.ref for row in rows]) for name, rows in taken]


def test_taking_rows_packs_the_values_and_keeps_shared_vectors_shared() -> None:
    kept = KeptPredictions()
    for at in range(4):
        vector = kept.add("churn", 10 + at, at, 100 + at, {"a": float(at)})
        kept.add("value", 20 + at, at, 500 + at, {"a": float(at)}, vector)
    assert refs(kept.take_all_due(101)) == [("churn", [10, 11])]
    assert len(kept.values) == 4  # value still holds all four vectors
    assert refs(kept.take_all_due(501)) == [("churn", [12, 13]), ("value", [20, 21])]
    assert list(kept.values) == [2.0, 3.0]
    assert list(kept.rows("churn")) == []
    assert kept.take_ref("value", 23, 502) is None  # not due yet
    assert kept.take_ref("value", 23, 503) == (23, 3, 503, None, {"a": 3.0})
    assert kept.next_deadline() == 502


def test_an_outcome_labels_the_rows_whose_window_holds_it() -> None:
    kept = KeptPredictions()
    for at in (0, 50, 100):
        kept.add("churn", at, at, at + 100, {"a": 1.0})
        kept.add("value", at, at, at + 100, {"a": 1.0})
    kept.label_window("churn", 120, 10, 0, None)  # windows (10, 100] miss it; (60, 150] and (110, 200] hold it
    kept.label_window("churn", 130, 10, 1, None)  # an earlier label stays
    kept.label_window("value", 120, 10, 0, 7.5)
    kept.label_window("value", 130, 10, 0, 2.5)
    assert [r.label for r in kept.rows("churn")] == [None, 0, 0]
    assert [r.label for r in kept.rows("value")] == [None, 10.0, 10.0]


def test_features_named_by_hostile_event_types_do_not_grow_the_shared_names_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shared_names, "_names", {})
    monkeypatch.setattr(shared_names, "SHARED_NAME_SETS", 10)
    kept = KeptPredictions()
    for i in range(100):
        kept.add("churn", i, i, 1_000, {f"type_attack_{i}": 1.0})
    assert len(shared_names._names) == 10
    assert [r.x for r in kept.rows("churn")][-2:] == [{"type_attack_98": 1.0}, {"type_attack_99": 1.0}]
