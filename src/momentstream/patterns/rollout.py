"""Changing moments while customers are mid-pattern: what a new moments file keeps, resets and refuses.

A customer's partial matches, pending absences and windows belong to a moment's *version*. A new
version starts afresh (its old progress is dropped when the customer is next seen); an unchanged moment
keeps everything. A moment whose pattern changed under the *same* version would read progress made under
other rules, so :func:`plan_rollout` refuses it, naming the version to use. The comparison is a
fingerprint of what decides matching (steps, ``within``, window, skip strategy, partial-match cap,
timezone); descriptions, playbooks, channels, priorities, holdouts and ``mode`` may change freely.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from momentstream.patterns.nfa import CompiledMoment
from momentstream.patterns.spec import MomentSpec

__all__ = ["MomentChangeError", "RolloutPlan", "fingerprint", "plan_rollout", "registry"]


def fingerprint(spec: MomentSpec) -> str:
    """A short hash of what decides a moment's matching and the state it keeps.

    >>> from momentstream.patterns.dsl import parse_moments
    >>> text = "moments: [{name: m, pattern: [{name: a, where: {type: x}}]}]"
    >>> a = parse_moments(text)[0].spec
    >>> b = parse_moments(text.replace("type: x", "type: y"))[0].spec
    >>> fingerprint(a) == fingerprint(a), fingerprint(a) == fingerprint(b)
    (True, False)
    """
    rules: list[object] = [spec.within_ms, spec.skip, spec.max_partial_matches, spec.timezone]
    if spec.skip_step is not None:
        rules.append(spec.skip_step)
    matching = {
        "steps": [_step_fields(s) | {"kind": type(s).__name__} for s in spec.steps],
        "window": dataclasses.asdict(spec.window) if spec.window else None,
        "rules": rules,
    }
    text = json.dumps(matching, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_LATER_FIELDS = {
    "until": None,
    "greedy": False,
    "combinations": False,
    "immediately": False,
    "optional": False,
    "after_ms": None,
}
"""Step fields added after fingerprints were first recorded: left out at their defaults, so a deployment's
recorded fingerprints stay valid across the upgrade that added them."""


def _step_fields(step: object) -> dict[str, object]:
    fields = dataclasses.asdict(step)  # type: ignore[call-overload]
    return {k: v for k, v in fields.items() if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]}


def registry(moments: Iterable[CompiledMoment]) -> dict[str, dict[str, object]]:
    """What a deployment remembers of its moments: name -> version and fingerprint."""
    return {m.name: {"version": m.version, "fingerprint": fingerprint(m.spec)} for m in moments}


class MomentChangeError(ValueError):
    """A moment's pattern changed but its version did not."""


@dataclass(slots=True)
class RolloutPlan:
    """What applying a new moments file does to each moment's customers."""

    kept: list[str] = field(default_factory=list)
    """Same version, same pattern: partial matches, absences and windows carry on."""
    new_version: list[tuple[str, int, int]] = field(default_factory=list)
    """(name, old version, new version): each customer's progress in it starts afresh."""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """No longer run: their progress is dropped as customers are seen; held triggers are audited."""
    refused: list[str] = field(default_factory=list)
    """Sentences: a pattern changed without a new version."""

    def lines(self) -> list[str]:
        """The plan as a person reads it."""
        found = [f"kept: {', '.join(self.kept)}"] if self.kept else []
        found += [f"new version: {n} {a} -> {b} (its progress starts afresh)" for n, a, b in self.new_version]
        found += [f"added: {', '.join(self.added)}"] if self.added else []
        found += [f"removed: {', '.join(self.removed)}"] if self.removed else []
        return found + [f"refused: {r}" for r in self.refused]


def plan_rollout(old: Mapping[str, Mapping[str, object]], new: Iterable[CompiledMoment]) -> RolloutPlan:
    """Compare the running moments' :func:`registry` with a new file's moments.

    >>> from momentstream.patterns.dsl import parse_moments
    >>> old = registry(parse_moments("moments: [{name: m, pattern: [{name: a, where: {type: x}}]}]"))
    >>> plan_rollout(old, parse_moments("moments: [{name: m, pattern: [{name: a, where: {type: y}}]}]")).refused
    ["moment 'm' changed its pattern but kept version 1: give it version: 2"]
    """
    plan = RolloutPlan()
    names = set()
    for m in new:
        names.add(m.name)
        before = old.get(m.name)
        if before is None:
            plan.added.append(m.name)
        elif before.get("version") != m.version:
            old_version = int(str(before.get("version", 0)))
            if m.version < old_version:  # its trigger ids would repeat those of the old version's matches
                plan.refused.append(f"moment {m.name!r} went back from version {old_version} to {m.version}: a "
                                    f"version only goes up; give it version: {old_version + 1}")  # fmt: skip
            else:
                plan.new_version.append((m.name, old_version, m.version))
        elif before.get("fingerprint") != fingerprint(m.spec):
            plan.refused.append(f"moment {m.name!r} changed its pattern but kept version {m.version}: give it "
                                f"version: {m.version + 1}")  # fmt: skip
        else:
            plan.kept.append(m.name)
    plan.removed = sorted(set(old) - names)
    return plan
