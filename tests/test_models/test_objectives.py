"""The objectives file is checked when loaded: every key and value, with file, objective and field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from momentstream.cli.commands import main
from momentstream.cli.demo import default_engine
from momentstream.data import bundled_moments_path, bundled_objectives_path
from momentstream.models.objectives import DEFAULT_AVERAGE_MS, ObjectivesError, load_objectives, parse_objectives

BUNDLED = yaml.safe_load(bundled_objectives_path().read_text())


def with_change(path: Path, change: dict[str, object] | None = None, binding: dict[str, object] | None = None,
                model: dict[str, object] | None = None) -> Path:  # fmt: skip
    doc = yaml.safe_load(bundled_objectives_path().read_text())
    doc["objectives"][0].update(change or {})
    if model is not None:
        doc["objectives"][0].setdefault("model", {}).update(model)
    if binding is not None:
        doc["moments"] = {"silent_churn": {"objective": "churn", **binding}}
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("change", "binding", "model", "field"),
    [
        (None, {"min_score": "high"}, None, "moments.silent_churn.min_score"),  # crashed at the first trigger
        (None, {"min_score": 1.5}, None, "moments.silent_churn.min_score"),
        (None, {"min_scor": 0.5}, None, "moments.silent_churn"),  # a typo was ignored
        (None, {"rise": 0.2, "within": "7 days"}, None, "moments.silent_churn.within"),  # a raw ValueError
        (None, {"within": "7d"}, None, "moments.silent_churn.within"),
        ({"horizon": "0s"}, None, None, "objectives[0].horizon"),
        ({"horizn": "30d"}, None, None, "objectives[0]"),
        ({"max_pending": 0}, None, None, "objectives[0].max_pending"),
        ({"outcome": {"typ": "purchase"}}, None, None, "objectives[0].outcome.typ"),
        (None, None, {"learning_rate": -1}, "objectives[0].model.learning_rate"),
        (None, None, {"learnig_rate": 0.1}, "objectives[0].model"),
        (None, None, {"l2": float("nan")}, "objectives[0].model.l2"),
        (None, None, {"average": "-1d"}, "objectives[0].model.average"),
        (None, None, {"average": 10000}, "objectives[0].model.average"),  # labels? seconds? a duration says
        (None, None, {"average": "30 days"}, "objectives[0].model.average"),
        (None, None, {"average": "30d", "optimizer": "adam"}, "objectives[0].model.average"),  # sgd only
        ({"kind": "values"}, None, None, "objectives[0].kind"),
        ({"kind": "value"}, None, None, "objectives[0].outcome_means"),  # a sum has no "means"
        ({"kind": "value", "outcome_means": None}, None, None, "objectives[0].outcome_means"),
        (None, None, {"estimator": "poisson_regression"}, "objectives[0].model.estimator"),  # not a probability
        (None, {"min_value": -5}, None, "moments.silent_churn.min_value"),
        (None, {"min_value": "lots"}, None, "moments.silent_churn.min_value"),
    ],
)
def test_a_bad_objectives_file_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, object] | None, binding: dict[str, object] | None,
    model: dict[str, object] | None, field: str,
) -> None:  # fmt: skip
    path = with_change(tmp_path / "objectives.yaml", change, binding, model)
    with pytest.raises(ObjectivesError) as caught:
        load_objectives(path)
    assert caught.value.field == field, caught.value
    assert str(caught.value).startswith(str(path))


def test_scores_are_averaged_by_default_and_a_file_may_turn_it_off(tmp_path: Path) -> None:
    assert load_objectives(bundled_objectives_path()).objectives[0].average_ms == DEFAULT_AVERAGE_MS
    off = load_objectives(with_change(tmp_path / "off.yaml", model={"average": 0})).objectives[0]
    assert off.average_ms == 0
    week = load_objectives(with_change(tmp_path / "week.yaml", model={"average": "7d"})).objectives[0]
    assert week.average_ms == 7 * 86_400_000
    adam = parse_objectives(
        {
            "objectives": [
                {
                    "name": "churn",
                    "owner": "cs",
                    "outcome": {"type": "purchase"},
                    "horizon": "30d",
                    "model": {"optimizer": "adam"},
                }
            ]
        }
    ).objectives[0]
    assert adam.average_ms == 0  # River's optimizers keep their own weights: nothing to average
    assert off.learning_key() != load_objectives(bundled_objectives_path()).objectives[0].learning_key()


def test_a_binding_for_a_moment_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objectives.yaml"
    doc = dict(BUNDLED, moments={"no_such_moment": {"objective": "churn"}})
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ObjectivesError, match="no_such_moment"):
        default_engine(None, objectives=path)


def test_a_moments_file_passed_as_objectives_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ObjectivesError, match="looks like a moments file"):
        load_objectives(bundled_moments_path())
    code = main(["replay", "-", "--objectives", str(bundled_moments_path()), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("momentstream: invalid objectives: ")


def test_your_own_moments_run_with_the_bundled_objectives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled objectives bind the bundled moments: with your own moments file and no objectives file, the
    bindings to moments you do not have are dropped (an objectives file of yours is held to every binding)."""
    moments = tmp_path / "moments.yaml"
    moments.write_text("moments:\n  - name: silent_churn\n    pattern: [{name: a, where: {type: purchase}}]\n"
                       "  - name: mine\n    pattern: [{name: a, where: {type: login}}]\n")  # fmt: skip
    engine = default_engine(moments)
    assert engine.scorer is not None
    assert set(engine.scorer.config.bindings) == {"silent_churn"}
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id":"e","customer_id":"c","type":"purchase","ts":"2026-01-05T00:00:00Z"}\n')
    assert main(["replay", str(events), "-c", str(moments), "-o", str(tmp_path / "t.jsonl"), "-q"]) == 0
    mine = with_change(tmp_path / "objectives.yaml")  # the bundled file as the user's own: every binding counts
    with pytest.raises(ObjectivesError, match="no moment named"):
        default_engine(moments, objectives=mine)


def value_objective(**change: object) -> dict[str, object]:
    return {"name": "spend", "owner": "am", "kind": "value", "outcome": {"type": "purchase"}, "horizon": "90d",
            **change}  # fmt: skip


def test_a_value_objective_predicts_spend_with_its_own_defaults() -> None:
    loaded = parse_objectives({"objectives": [value_objective()]})
    spend = loaded.value_objective
    assert spend is not None
    assert (spend.kind, spend.estimator, spend.learning_rate) == ("value", "poisson_regression", 0.003)
    assert spend.average_ms == DEFAULT_AVERAGE_MS
    assert spend.label_for_silence() == 0  # nothing spent
    bundled = load_objectives(bundled_objectives_path())
    assert bundled.value_objective is not None
    assert bundled.value_objective.name == "value"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (
            {"objectives": [value_objective(), value_objective(name="again")]},
            "objectives",
        ),  # which would triggers carry?
        ({"objectives": [value_objective()], "moments": {"m": {"objective": "spend"}}}, "moments.m.objective"),
        (
            {
                "objectives": [{**value_objective(kind="probability"), "outcome_means": "positive"}],
                "moments": {"m": {"objective": "spend", "min_value": 10}},
            },
            "moments.m.min_value",
        ),  # no value objective
        (
            {"objectives": [value_objective(model={"estimator": "logistic_regression"})]},
            "objectives[0].model.estimator",
        ),
        ({"objectives": [value_objective(model={"optimizer": "adam"})]}, "objectives[0].model.optimizer"),
    ],
)
def test_a_value_objective_is_used_as_an_amount_or_refused(doc: dict[str, object], field: str) -> None:
    with pytest.raises(ObjectivesError) as caught:
        parse_objectives(doc)
    assert caught.value.field == field, caught.value
