"""Model snapshots come off a topic anyone with produce rights can write: they are read as data, and no
byte of an unsigned or wrongly signed entry is ever unpickled."""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from momentstream.data import bundled_objectives_path
from momentstream.models.objectives import load_objectives
from momentstream.models.online import ObjectiveModel
from momentstream.models.scaled_logistic import ScaledLogistic
from momentstream.models.scorer import SNAPSHOT_FORMAT, Refusal, Scorer
from momentstream.models.snapshot_codec import PLAIN, SIGNED, SnapshotRefusedError, encode_model, signature

KEY = b"snapshot-test-key-0123"


class Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def scorer(key: bytes | None = None) -> Scorer:
    s = Scorer(load_objectives(bundled_objectives_path()))
    s.snapshot_key = key
    return s


def trained() -> Scorer:
    s = scorer()
    for name, model in s.models.items():
        for i in range(300):
            model.learn({"days_since_last_event": float(i % 40), "events_30d": float(i % 7)}, int(i % 40 > 20))
        assert model.learned == 300, name
    return s


def packed(body: dict[str, Any], fmt: int = SNAPSHOT_FORMAT) -> bytes:
    return msgpack.packb([fmt, list(body), body], use_bin_type=True)  # type: ignore[no-any-return]


def test_the_default_models_travel_as_plain_numbers_and_come_back_the_same() -> None:
    source = trained()
    data = source.snapshot()
    doc = msgpack.unpackb(data, raw=False)
    assert {entry[0] for entry in doc[2].values()} == {PLAIN}
    assert b"\x80\x04" not in data
    assert b"\x80\x05" not in data
    restored = scorer()
    assert restored.restore(data) == []
    x = {"days_since_last_event": 33.0, "events_30d": 1.0}
    for name, model in source.models.items():
        again = restored.models[name]
        assert again.score(x) == model.score(x)
        assert again.version == model.version
        assert again.quality() == model.quality()
        assert again.calibration_error() == pytest.approx(model.calibration_error(), nan_ok=True)  # NaN: a value
        assert again.reasons(x) == model.reasons(x)
        assert again.predicts_value == model.predicts_value
    assert restored.models["value"].predicts_value  # the bundled value objective comes back a value model
    assert restored.models["value"].score(x) > 0.0


def test_a_pickled_snapshot_of_the_old_format_runs_nothing_and_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    forged = packed({"churn": pickle.dumps(Payload(marker))}, fmt=1)
    target = scorer(KEY)
    with pytest.raises(SnapshotRefusedError, match="format 1") as err:
        target.restore(forged)
    assert err.value.reason == "pickled_format"
    assert not marker.exists()
    assert target.refusals == {"pickled_format": 1}
    assert target.models["churn"].learned == 0


@pytest.mark.parametrize("key", [None, KEY])
def test_a_forged_signed_entry_runs_nothing_with_or_without_a_key(tmp_path: Path, key: bytes | None) -> None:
    marker = tmp_path / "owned"
    body = pickle.dumps(Payload(marker))
    forged = packed({"churn": [SIGNED, body, b"\0" * 32], "expansion": [SIGNED, body]})
    target = scorer(key)
    refused = target.restore(forged)
    reason = "unsigned" if key is None else "bad_signature"
    assert refused[0] == Refusal("churn", reason)
    assert not marker.exists()
    assert all(m.learned == 0 for m in target.models.values())


def test_a_signed_entry_is_bound_to_its_name_and_its_key(tmp_path: Path) -> None:
    source = scorer(KEY)
    tree = ObjectiveModel("churn", estimator="hoeffding_tree")
    entry = encode_model("churn", tree, KEY)
    assert entry is not None
    assert entry[0] == SIGNED
    assert entry[2] == signature(KEY, "churn", entry[1])
    assert encode_model("churn", tree, None) is None  # not plain, no key: left out
    moved = packed({"expansion": entry})
    target = scorer(KEY)
    target.models["expansion"] = ObjectiveModel("expansion", estimator="hoeffding_tree")
    assert target.restore(moved) == [Refusal("expansion", "bad_signature")]
    other_key = scorer(b"another-key-of-16-bytes")
    other_key.models["churn"] = ObjectiveModel("churn", estimator="hoeffding_tree")
    assert other_key.restore(packed({"churn": entry})) == [Refusal("churn", "bad_signature")]
    right = scorer(KEY)
    right.models["churn"] = ObjectiveModel("churn", estimator="hoeffding_tree")
    assert right.restore(packed({"churn": entry})) == []
    assert source.snapshot_key == KEY


def test_a_signed_model_of_another_kind_is_refused() -> None:
    tree = ObjectiveModel("churn", estimator="hoeffding_tree")
    entry = encode_model("churn", tree, KEY)
    target = scorer(KEY)  # the configuration's churn model is the plain logistic one
    assert target.restore(packed({"churn": entry})) == [Refusal("churn", "kind")]


def plain_doc() -> dict[str, Any]:
    entry = encode_model("churn", trained().models["churn"], None)
    assert entry is not None
    return entry[1]  # type: ignore[no-any-return]


HOSTILE: list[tuple[str, Any]] = [
    ("a NaN weight", lambda d: d["stats"].__setitem__("events_30d", [3, 1.0, 1.0, math.nan, 1.0])),
    ("an infinite intercept", lambda d: d["rates"].__setitem__(4, math.inf)),
    ("a short statistics row", lambda d: d["stats"].__setitem__("events_30d", [3, 1.0])),
    ("a string count", lambda d: d["counts"].__setitem__(0, "300")),
    ("a boolean count", lambda d: d["counts"].__setitem__(0, True)),
    ("a negative count", lambda d: d["counts"].__setitem__(0, -5)),
    ("a negative variance", lambda d: d["stats"].__setitem__("events_30d", [3, 1.0, -1.0, 0.1, 1.0])),
    ("an empty feature name", lambda d: d["stats"].__setitem__("", [3, 1.0, 1.0, 0.1, 1.0])),
    ("a huge feature name", lambda d: d["stats"].__setitem__("x" * 5000, [3, 1.0, 1.0, 0.1, 1.0])),
    ("too many features", lambda d: d["stats"].update({f"f{i}": [1, 0.0, 0.0, 0.0, 0.0] for i in range(10_001)})),
    ("mismatched AUC bins", lambda d: d["auc"][1].append(0)),
    ("no AUC bins", lambda d: d.__setitem__("auc", [[], []])),
    ("another estimator", lambda d: d.__setitem__("estimator", "hoeffding_tree")),
    ("a missing field", lambda d: d.pop("log_loss")),
    ("a list for the statistics", lambda d: d.__setitem__("stats", [1, 2])),
    ("a NaN averaged intercept", lambda d: d["averaging"].__setitem__(2, math.nan)),
    ("a negative averaging count", lambda d: d["averaging"].__setitem__(0, -1)),
    ("a short averaging entry", lambda d: d["averaging"].pop()),
    ("a NaN averaged weight", lambda d: d["stats"].__setitem__("events_30d", [3, 1.0, 1.0, 0.1, 1.0, math.nan])),
]


def test_a_snapshot_from_before_averaging_serves_the_weights_it_learned() -> None:
    """Its statistics rows have five numbers and no averaging entry: the average starts at its weights."""
    doc = plain_doc()
    source = trained().models["churn"].pipeline
    assert isinstance(source, ScaledLogistic)
    doc.pop("averaging")
    doc["stats"] = {k: s[:5] for k, s in doc["stats"].items()}
    target = scorer()
    assert target.restore(packed({"churn": [PLAIN, doc]})) == []
    pipeline = target.models["churn"].pipeline
    assert isinstance(pipeline, ScaledLogistic)
    assert pipeline.average_ms == Scorer(load_objectives(bundled_objectives_path())).config.objectives[0].average_ms > 0
    x = {"days_since_last_event": 33.0, "events_30d": 1.0}
    assert pipeline.raw(x) == pytest.approx(
        source.intercept
        + sum(
            source.stats[k][3] * max(min((v - source.stats[k][1]) * source.stats[k][4], 5.0), -5.0)
            for k, v in x.items()
        )
    )


@pytest.mark.parametrize(("what", "spoil"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_plain_model_is_refused_and_the_model_starts_fresh(what: str, spoil: Any) -> None:
    doc = plain_doc()
    spoil(doc)
    target = scorer()
    assert target.restore(packed({"churn": [PLAIN, doc]})) == [Refusal("churn", "malformed")], what
    assert target.models["churn"].learned == 0
    assert target.models["churn"].is_finite()


@pytest.mark.parametrize("entry", [None, 7, "plain", [], ["plain"], ["other", {}], ["signed", "x", "y"], [PLAIN, []]])
def test_malformed_entries_are_refused_by_name(entry: Any) -> None:
    assert scorer(KEY).restore(packed({"churn": entry})) == [Refusal("churn", "malformed")]


def test_entries_for_models_the_configuration_lacks_are_ignored_and_odd_keys_refuse_the_snapshot() -> None:
    assert scorer().restore(packed({"nobody": [PLAIN, {}]})) == []
    with pytest.raises(SnapshotRefusedError) as err:
        scorer().restore(packed({7: [PLAIN, {}]}))  # type: ignore[dict-item]
    assert err.value.reason == "unreadable"


plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(entry=plain_values, kind=st.sampled_from([PLAIN, SIGNED, "other"]))
def test_any_entry_from_a_topic_is_loaded_or_refused_never_anything_else(entry: Any, kind: str) -> None:
    target = scorer(KEY)
    data = packed({"churn": [kind, entry] if kind != "other" else entry})
    try:
        refused = target.restore(data)
    except SnapshotRefusedError:
        return
    assert [r.name for r in refused] in ([], ["churn"])
    if refused:
        assert target.models["churn"].learned == 0  # refused: the model starts fresh
    assert target.models["churn"].is_finite()


def test_a_model_that_did_not_average_serves_its_weights_when_restored_into_one_that_does() -> None:
    source = scorer()
    plain = ObjectiveModel("churn")  # average 0: its averaged weights were never kept
    for i in range(300):
        plain.learn({"days_since_last_event": float(i % 40), "events_30d": float(i % 7)}, int(i % 40 > 20))
    source.models["churn"] = plain
    target = scorer()
    assert target.restore(source.snapshot()) == []
    x = {"days_since_last_event": 33.0, "events_30d": 1.0}
    assert target.models["churn"].score(x) == pytest.approx(plain.score(x))
    assert plain.score(x) > 0.6
