"""Two ways to declare moments: a YAML file, or a small Python builder.

Both produce :class:`~momentstream.patterns.spec.MomentSpec` values and both compile
through the same checks, so an error reads the same whichever way the moment was written.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from momentstream.core.clock import parse_duration
from momentstream.core.schema import ALL_CHANNELS
from momentstream.patterns.builder import Moment
from momentstream.patterns.errors import PatternError
from momentstream.patterns.loop_spec import LOOP_KEYS, parse_loop
from momentstream.patterns.nfa import CompiledMoment, compile_moment
from momentstream.patterns.playbook_spec import PLAYBOOK_KEY, parse_playbook
from momentstream.patterns.predicates import CUSTOMER_TIMEZONE, compile_predicate
from momentstream.patterns.quiet_hours import QuietHours, parse_clock_time
from momentstream.patterns.spec import (
    CONTIGUITIES,
    SKIP_STRATEGIES,
    SKIP_TO_STEP,
    AbsentStep,
    EventStep,
    KOfNStep,
    MomentSpec,
    SkipStrategy,
    Step,
    WindowSpec,
)

__all__ = ["Moment", "load_moments", "parse_moments", "spec_from_mapping"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MOMENT_KEYS = {
    "name", "version", "description", "pattern", "within", "window", "skip",
    "max_partial_matches", "timezone", "owner", "priority", "holdout", "cooldown",
    "quiet_hours", "channels", PLAYBOOK_KEY, "mode", "compare_to", *LOOP_KEYS,
}  # fmt: skip
FILE_VERSION = 1
"""The moments file format this version reads (``version:`` at the top of the file)."""
KNOWN_CHANNELS = frozenset({
    "email", "sms", "mms", "phone", "push", "in_app", "web", "web_push", "mail", "whatsapp", "chat",
    "messenger", "telegram", "line", "wechat", "rcs", "voice", "social", "ads", "direct_mail", "sales",
    "account_manager", "support", "slack", "webhook",
})  # fmt: skip
"""Channel names a moment may list without declaring them; a file names others in ``channels:``."""
_STEP_KEYS = {"name", "where", "contiguity", "times", "one_or_more", "optional", "consecutive", "within", "until",
              "greedy", "combinations", "after"}  # fmt: skip
_WINDOW_KEYS = {"opens_after", "closes_after", "anchor", "cancel_if", "used_if"}


def load_moments(path: str | Path) -> list[CompiledMoment]:
    """Load and compile every moment of a YAML file; errors name the file.

    Examples
    --------
    >>> import importlib.resources
    >>> moments = load_moments(importlib.resources.files("momentstream") / "data" / "moments.yaml")
    >>> [m.name for m in moments][:2]
    ['post_purchase_window', 'silent_churn']
    """
    path = Path(str(path))
    try:
        text = path.read_text()
    except OSError as err:
        raise PatternError(f"cannot read moments file: {err.strerror}", source=str(path)) from None
    return parse_moments(text, source=str(path))


def parse_moments(text: str, source: str = "<string>") -> list[CompiledMoment]:
    """Compile the moments of a YAML document (see ``examples/moments.yaml``)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PatternError(f"not valid YAML: {err}", source=source) from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("moments"), list):
        raise PatternError("expected a mapping with a 'moments:' list", source=source)
    unknown = set(doc) - {"version", "timezone", "defaults", "moments", "policy", "channels"}
    if unknown:
        raise PatternError(f"unknown top-level key(s) {sorted(unknown)} (expected some of channels, defaults, "
                           "moments, policy, timezone, version)", source=source)  # fmt: skip
    if doc.get("version", FILE_VERSION) != FILE_VERSION:
        raise PatternError(f"this momentstream reads moments files of version {FILE_VERSION}, not "
                           f"{doc['version']!r}", source=source, field="version")  # fmt: skip
    declared = doc.get("channels") or []
    if not isinstance(declared, list) or not all(isinstance(c, str) and c for c in declared):
        raise PatternError("expected a list of your own channel names, e.g. [kakao, field_visit]", source=source,
                           field="channels")  # fmt: skip
    channels = KNOWN_CHANNELS | set(declared)
    defaults = dict(doc.get("defaults") or {})
    if "timezone" in doc:
        defaults.setdefault("timezone", doc["timezone"])
    try:
        cap, quiet = _policy(doc.get("policy"))
    except PatternError as err:
        raise err.located(source=source, moment="(policy)") from None
    compiled: list[CompiledMoment] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["moments"]):
        name = raw.get("name", f"#{i}") if isinstance(raw, Mapping) else f"#{i}"
        try:
            if not isinstance(raw, Mapping):
                raise PatternError("expected a mapping")
            merged = {**defaults, **raw}
            spec = spec_from_mapping(merged, source=source)
            _check_channels(spec.channels, channels)
            _check_channels(tuple(a.channel for a in spec.loop.actions if a.channel), channels, "actions")
            if spec.playbook is not None and spec.playbook.channel is not None:
                _check_channels((spec.playbook.channel,), channels, "playbook.channel")
            if "quiet_hours" not in merged:
                spec = replace(spec, quiet_hours=quiet)
            if spec.name in seen:
                raise PatternError("a moment of this name is already defined", field="name")
            seen.add(spec.name)
            compiled.append(compile_moment(replace(spec, contact_cap=cap)))
        except PatternError as err:
            raise err.located(source=source, moment=str(name)) from None
    if not compiled:
        raise PatternError("the file defines no moments", source=source)
    live = {m.name for m in compiled if m.spec.mode == "live"}
    for m in compiled:
        target = m.spec.compare_to
        if target is not None and target not in live:
            near = difflib.get_close_matches(target, sorted(live), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (live moments: {', '.join(sorted(live))})"
            raise PatternError(f"compare_to names no live moment of this file{hint}", source=source, moment=m.name,
                               field="compare_to")  # fmt: skip
    return compiled


def spec_from_mapping(raw: Mapping[str, Any], source: str = "") -> MomentSpec:
    """Turn one ``moments:`` entry into a spec, checking keys and units."""
    if "objective" in raw:
        raise PatternError("a moment is bound to an objective in the objectives file: "
                           f"moments: {{{raw.get('name', '<moment>')}: {{objective: {raw['objective']}}}}}",
                           field="objective")  # fmt: skip
    unknown = set(raw) - _MOMENT_KEYS
    if unknown:
        raise PatternError(f"unknown key(s) {sorted(unknown)} (expected some of {sorted(_MOMENT_KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PatternError("a moment needs a lower_snake_case name", field="name")
    pattern = raw.get("pattern")
    if not isinstance(pattern, list) or not pattern:
        raise PatternError("expected a non-empty list of steps", field="pattern")
    steps = tuple(_step(s, i) for i, s in enumerate(pattern))
    version = raw.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PatternError("expected a positive integer", field="version")
    skip, skip_step = _skip(raw.get("skip", "skip_past_last_event"))
    cap = raw.get("max_partial_matches", 64)
    if isinstance(cap, bool) or not isinstance(cap, int):
        raise PatternError("expected an integer", field="max_partial_matches")
    owner = raw.get("owner")
    if owner is not None and not (isinstance(owner, str) and owner.strip()):
        raise PatternError("expected the name of the team that acts, e.g. customer_success", field="owner")
    priority = raw.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise PatternError("expected an integer (higher wins)", field="priority")
    share, salt = _holdout(raw.get("holdout"))
    loop = parse_loop(raw)
    if loop.outcome is not None:
        try:
            compile_predicate(loop.outcome, str(raw.get("timezone", "UTC")))
        except PatternError as err:
            raise PatternError(err.message, field="outcome.where" + (f".{err.field}" if err.field else "")) from None
    return MomentSpec(
        name=name,
        steps=steps,
        version=version,
        description=str(raw.get("description", "")).strip(),
        within_ms=_duration(raw, "within", "within"),
        window=_window(raw["window"]) if raw.get("window") is not None else None,
        skip=skip,
        skip_step=skip_step,
        max_partial_matches=cap,
        timezone=str(raw.get("timezone", "UTC")),
        source=source,
        owner=owner,
        holdout_share=share,
        holdout_salt=salt,
        cooldown_ms=_duration(raw, "cooldown", "cooldown"),
        quiet_hours=_quiet_hours(raw.get("quiet_hours"), "quiet_hours"),
        priority=priority,
        channels=_channels(raw.get("channels")),
        loop=loop,
        playbook=parse_playbook(raw.get(PLAYBOOK_KEY), [s.name for s in steps]),
        **_mode(raw),
    )


def _mode(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``mode: shadow`` (optionally ``compare_to: <live moment>``): run without acting."""
    mode = raw.get("mode", "live")
    if mode not in ("live", "shadow"):
        raise PatternError(f"expected live or shadow, not {mode!r}", field="mode")
    compare_to = raw.get("compare_to")
    if compare_to is not None and (mode != "shadow" or not isinstance(compare_to, str) or not _NAME.match(compare_to)):
        raise PatternError("compare_to names the live moment a shadow moment may replace (mode: shadow)",
                           field="compare_to")  # fmt: skip
    return {"mode": mode, "compare_to": compare_to}


def _policy(raw: Any) -> tuple[tuple[int, int] | None, QuietHours | None]:
    """``policy: {max_triggers: 2, per: 7d, quiet_hours: {...}}``: the file-wide contact policy.

    The cap counts one customer's triggers across all moments; quiet hours apply to every
    moment that does not set its own ``quiet_hours``.
    """
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping) or set(raw) - {"max_triggers", "per", "quiet_hours"}:
        raise PatternError("expected {max_triggers: <n>, per: <duration>, quiet_hours: {...}}", field="policy")
    cap = None
    if "max_triggers" in raw or "per" in raw:
        if not {"max_triggers", "per"} <= set(raw):
            raise PatternError("a frequency cap needs both max_triggers and per", field="policy")
        limit = raw["max_triggers"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise PatternError("expected a positive integer", field="policy.max_triggers")
        per = _duration(raw, "per", "policy.per")
        assert per is not None
        cap = (limit, per)
    return cap, _quiet_hours(raw.get("quiet_hours"), "policy.quiet_hours")


def _quiet_hours(raw: Any, field: str) -> QuietHours | None:
    """``{from: "21:00", to: "08:00", timezone: customer}``, or ``off`` (no quiet hours for this moment)."""
    if raw is None or raw is False or raw == "off":
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"from", "to", "timezone"} or not {"from", "to"} <= set(raw):
        raise PatternError('expected {from: "21:00", to: "08:00", timezone: customer} or off', field=field)
    try:
        start, end = parse_clock_time(raw["from"]), parse_clock_time(raw["to"])
    except ValueError as err:
        raise PatternError(f'{err} (quote it in YAML: "08:00")', field=field) from None
    zone = raw.get("timezone", CUSTOMER_TIMEZONE)
    if zone != CUSTOMER_TIMEZONE:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            message = f"unknown timezone {zone!r} (an IANA name or customer)"
            raise PatternError(message, field=f"{field}.timezone") from None
    try:
        return QuietHours(start, end, None if zone == CUSTOMER_TIMEZONE else str(zone))
    except ValueError as err:
        raise PatternError(str(err), field=field) from None


def _channels(raw: Any) -> tuple[str, ...]:
    """``channels: [email, sms]``: where this moment's intervention may reach the customer."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, str) and c for c in raw) or len(set(raw)) != len(raw):
        raise PatternError("expected a list of distinct channel names, e.g. [email, sms]", field="channels")
    if ALL_CHANNELS in raw:
        raise PatternError(f"{ALL_CHANNELS!r} is not a channel; list the channels", field="channels")
    return tuple(raw)


def _check_channels(listed: tuple[str, ...], known: frozenset[str] | set[str], field: str = "channels") -> None:
    """A typo in a channel name would silently send nothing to the CRM's real channel: refuse it."""
    for channel in listed:
        if channel not in known:
            near = difflib.get_close_matches(channel, sorted(known), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise PatternError(f"unknown channel {channel!r} ({hint}declare your own at the top of the file: "
                               f"channels: [{channel}])", field=field)  # fmt: skip


def _holdout(raw: Any) -> tuple[float, str]:
    """``holdout: 0.1`` or ``holdout: {share: 0.1, salt: "2026q4"}``."""
    if raw is None:
        return 0.0, ""
    mapping = raw if isinstance(raw, Mapping) else {"share": raw}
    unknown = set(mapping) - {"share", "salt"}
    if unknown:
        raise PatternError(f"unknown key(s) {sorted(unknown)} (expected share, salt)", field="holdout")
    share = mapping.get("share")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        raise PatternError("expected a share of customers, 0 <= share < 1 (e.g. 0.1)", field="holdout")
    return float(share), str(mapping.get("salt", ""))


def _duration(raw: Mapping[str, Any], key: str, field: str) -> int | None:
    if raw.get(key) is None:
        return None
    try:
        return parse_duration(raw[key])
    except ValueError as err:
        raise PatternError(str(err), field=field) from None


def _step(raw: Any, i: int) -> Step:
    where = f"pattern[{i}]"
    if not isinstance(raw, Mapping):
        raise PatternError("expected a mapping", field=where)
    try:
        if "absent" in raw or "not_next" in raw:
            return _absent_step(raw, i)
        if "at_least" in raw:
            return _kofn_step(raw, i)
        return _event_step(raw, i)
    except PatternError as err:
        raise err.located(field_prefix=where) from None


def _event_step(raw: Mapping[str, Any], i: int) -> EventStep:
    unknown = set(raw) - _STEP_KEYS
    if unknown:
        raise PatternError(f"unknown key(s) {sorted(unknown)} (expected some of {sorted(_STEP_KEYS)})")
    contiguity = raw.get("contiguity", "followed_by")
    if contiguity not in CONTIGUITIES:
        raise PatternError(f"unknown contiguity {contiguity!r} (expected one of {list(CONTIGUITIES)})",
                           field="contiguity")  # fmt: skip
    min_times: int = 1
    max_times: int | None = 1
    if "times" in raw:
        if raw.get("one_or_more"):
            raise PatternError("times and one_or_more together are ambiguous: write times: [2, null] for "
                               "'2 or more', or one_or_more alone for '1 or more'", field="times")  # fmt: skip
        times = raw["times"]
        if isinstance(times, int) and not isinstance(times, bool):
            min_times = max_times = times
        elif (isinstance(times, list) and len(times) == 2 and all(_count(t) for t in times[:1])
              and (times[1] is None or _count(times[1]))):  # fmt: skip
            min_times, max_times = times
        else:
            raise PatternError("expected a count, [min, max] or [min, null] (no upper bound)", field="times")
    if raw.get("one_or_more"):
        max_times = None
    optional = _flag(raw, "optional")
    if optional and min_times <= 1:  # none or one (or more): the range simply starts at 0
        min_times, optional = 0, False
    return EventStep(
        name=str(raw.get("name", f"step_{i}")),
        where=raw.get("where"),
        contiguity=contiguity,
        min_times=min_times,
        max_times=max_times,
        consecutive=_flag(raw, "consecutive"),
        within_ms=_duration(raw, "within", "within"),
        after_ms=_duration(raw, "after", "after"),
        until=raw.get("until"),
        greedy=_flag(raw, "greedy"),
        combinations=_flag(raw, "combinations"),
        optional=optional,
    )


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise PatternError("expected true or false", field=key)
    return value


def _skip(raw: Any) -> tuple[SkipStrategy, str | None]:
    """``skip: skip_past_last_event`` and the others by name; ``skip: {skip_to_first: step}`` names a step."""
    if isinstance(raw, Mapping) and len(raw) == 1:
        [(strategy, step)] = raw.items()
        if strategy in SKIP_TO_STEP and isinstance(step, str):
            return strategy, step
    if raw in SKIP_TO_STEP:
        raise PatternError(f"{raw} skips to a step: write skip: {{{raw}: <step name>}}", field="skip")
    if not isinstance(raw, str) or raw not in SKIP_STRATEGIES:
        named = [s for s in SKIP_STRATEGIES if s not in SKIP_TO_STEP]
        raise PatternError(f"unknown strategy {raw!r} (expected one of {named}, or {{skip_to_first: step}} or "
                           "{skip_to_last: step})", field="skip")  # fmt: skip
    return raw, None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _absent_step(raw: Mapping[str, Any], i: int) -> AbsentStep:
    if "not_next" in raw:
        unknown = set(raw) - {"name", "not_next"}
        if unknown:
            raise PatternError(f"unknown key(s) {sorted(unknown)} (not_next takes name, not_next)")
        return AbsentStep(name=str(raw.get("name", f"not_next_{i}")), where=raw["not_next"], immediately=True)
    unknown = set(raw) - {"name", "absent", "for"}
    if unknown:
        raise PatternError(f"unknown key(s) {sorted(unknown)} (an absence takes name, absent, for)")
    return AbsentStep(name=str(raw.get("name", f"absent_{i}")), where=raw["absent"],
                      for_ms=_duration(raw, "for", "for"))  # fmt: skip


def _kofn_step(raw: Mapping[str, Any], i: int) -> KOfNStep:
    unknown = set(raw) - {"name", "at_least", "of", "within"}
    if unknown:
        raise PatternError(f"unknown key(s) {sorted(unknown)} (k-of-n takes name, at_least, of, within)")
    indicators = raw.get("of")
    if not isinstance(indicators, Mapping) or not indicators:
        raise PatternError("expected a mapping of indicator name to its where-clause", field="of")
    within = _duration(raw, "within", "within")
    if within is None:
        raise PatternError("k-of-n needs a time limit", field="within")
    k = raw["at_least"]
    if isinstance(k, bool) or not isinstance(k, int):
        raise PatternError("expected an integer", field="at_least")
    return KOfNStep(name=str(raw.get("name", f"indicators_{i}")), k=k,
                    indicators=tuple((str(n), w) for n, w in indicators.items()), within_ms=within)  # fmt: skip


def _window(raw: Any) -> WindowSpec:
    if not isinstance(raw, Mapping):
        raise PatternError("expected a mapping", field="window")
    unknown = set(raw) - _WINDOW_KEYS
    if unknown:
        raise PatternError(f"unknown key(s) {sorted(unknown)} (expected some of {sorted(_WINDOW_KEYS)})",
                           field="window")  # fmt: skip
    opens = _duration(raw, "opens_after", "window.opens_after")
    closes = _duration(raw, "closes_after", "window.closes_after")
    if closes is None:
        raise PatternError("a window needs closes_after", field="window.closes_after")
    anchor = raw.get("anchor")
    return WindowSpec(opens_after_ms=opens or 0, closes_after_ms=closes,
                      anchor=None if anchor is None else str(anchor),
                      cancel_if=raw.get("cancel_if"), used_if=raw.get("used_if"))  # fmt: skip
