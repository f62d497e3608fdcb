"""Kept features: exact values back, names shared, the state's encoding unchanged, hostile names bounded."""

from __future__ import annotations

import math
import sys

import msgpack
import pytest

from momentstream.models import kept_vector
from momentstream.models.kept_vector import KeptVector
from momentstream.models.scoring_state import ScoringState
from tests.test_models.test_scoring_state import FEATURES


def test_values_come_back_exactly_in_their_order() -> None:
    x = {"b": 0.1, "a": -0.0, "huge": 1e308, "tiny": 5e-324, "nan": math.nan, "count": 3}
    back = KeptVector(x).as_dict()
    assert list(back) == list(x)
    assert [math.copysign(1, v) for v in back.values() if v == 0] == [-1.0]
    assert all(back[k] == v or (math.isnan(back[k]) and math.isnan(v)) for k, v in x.items())


def test_a_kept_prediction_is_much_smaller_than_its_dict_and_shares_its_names() -> None:
    x = {f"feature_{i}": float(i) + 0.5 for i in range(25)}
    a, b = KeptVector(x), KeptVector(dict(x))
    assert a.names is b.names
    own = sys.getsizeof(a) + sys.getsizeof(a.values)
    as_dict = sys.getsizeof(x) + sum(sys.getsizeof(v) for v in x.values())
    assert own * 4 < as_dict


def test_the_state_encoding_is_the_name_to_value_map_it_always_was() -> None:
    older = [FEATURES, {"churn": [[1, 100, 200, {"a": 1.0, "b": 2.5}], [2, 150, 250, {"a": 2.0}, 0]]}, {}, 2, None,
             {"churn": 150}]  # fmt: skip
    state = ScoringState.from_list(older)
    assert isinstance(state.pending["churn"][0].x, KeptVector)
    assert msgpack.packb(state.to_list()[1]) == msgpack.packb(older[1])  # the same bytes as a dict wrote


def test_features_named_by_hostile_event_types_do_not_grow_the_shared_names_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kept_vector, "_names", {})
    monkeypatch.setattr(kept_vector, "SHARED_NAME_SETS", 10)
    vectors = [KeptVector({f"type_attack_{i}": 1.0}) for i in range(100)]
    assert len(kept_vector._names) == 10
    assert [v.as_dict() for v in vectors[-2:]] == [{"type_attack_98": 1.0}, {"type_attack_99": 1.0}]
