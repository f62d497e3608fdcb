"""Code written against the earlier, flat tree keeps importing: the public names at their old paths."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

import momentstream
from momentstream.legacy_paths import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_gives_the_moved_module_s_own_objects(old: str, new: str) -> None:
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stand_in = importlib.import_module(old)
    moved = importlib.import_module(new)
    moved_notes = [str(w.message) for w in caught if "moved to" in str(w.message)]
    assert moved_notes == [f"{old} moved to {new}; import from there"]
    names = getattr(moved, "__all__", None) or [n for n in vars(moved) if not n.startswith("_")]
    assert names
    for name in names:
        assert getattr(stand_in, name) is getattr(moved, name), name


def test_an_old_path_that_never_existed_still_fails() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("momentstream.engine_that_never_was")


def test_the_old_forms_people_wrote() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from momentstream.engine import Engine, EngineConfig  # noqa: PLC0415
        from momentstream.runtime.batch_worker import BatchWorker  # noqa: PLC0415
        from momentstream.schema import TouchpointEvent, Trigger  # noqa: PLC0415

        from momentstream.runtime import replay  # noqa: PLC0415 - a module then, a package now
    from momentstream.core.engine import Engine as NewEngine  # noqa: PLC0415
    from momentstream.runtime.kafka.batch_worker.worker import BatchWorker as NewWorker  # noqa: PLC0415

    assert (Engine, EngineConfig, TouchpointEvent, Trigger) == (
        momentstream.Engine, momentstream.EngineConfig, momentstream.TouchpointEvent, momentstream.Trigger,
    )  # fmt: skip
    assert Engine is NewEngine
    assert BatchWorker is NewWorker
    assert callable(replay.replay_file)


def test_the_public_api_is_importable_from_the_package() -> None:
    from momentstream import Engine, Moment, TouchpointEvent, Trigger, load_moments  # noqa: PLC0415

    moment = Moment("m").begin("a", where={"type": "signup"}).compile()
    assert Engine([moment]).new_state("c1").customer_id == "c1"
    assert {TouchpointEvent.__name__, Trigger.__name__} == {"TouchpointEvent", "Trigger"}
    assert callable(load_moments)
