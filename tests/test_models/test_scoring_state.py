"""A customer's scoring data in the state encoding: what older states hold still loads."""

from __future__ import annotations

from momentstream.models.scoring_state import ScoringState

FEATURES = [None, None, None, {}, {}, {}, {}, {}, 0, 0.0, 0.0, 0, 0.0, 0]


def test_a_decided_label_waits_in_the_state_and_older_pending_predictions_load_undecided() -> None:
    state = ScoringState.from_list([FEATURES, {"churn": [[1, 100, 200, {"a": 1.0}], [2, 150, 250, {"a": 2.0}, 0]]},
                                    {}, 2, None, {"churn": 150}])  # fmt: skip
    assert [p.label for p in state.pending.rows("churn")] == [None, 0]
    assert ScoringState.from_list(state.to_list()).pending == state.pending


def test_a_scoring_state_stored_before_kept_at_reads_it_from_its_pending_predictions() -> None:
    pending = {"churn": [[1, 100, 200, {"a": 1.0}], [2, 150, 250, {"a": 2.0}]], "expansion": []}
    older = [FEATURES, pending, {}, 2, None]
    assert ScoringState.from_list(older).kept_at == {"churn": 150}


def test_the_timer_of_a_lazy_clock_round_trips_and_a_state_from_before_it_has_its_timer_at_the_clock() -> None:
    state = ScoringState(rescore_at=1_000, wake_at=5_000)
    assert ScoringState.from_list(state.to_list()).wake_at == 5_000
    older = state.to_list()[:-1]  # written before the clock ran lazily: the timer is at rescore_at
    loaded = ScoringState.from_list(older)
    assert (loaded.rescore_at, loaded.wake_at) == (1_000, None)
