"""What ``replay`` prints when it is done, on either engine: the same counts in the same words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from momentstream.core.clock import format_duration
from momentstream.ops.textable import format_table

if TYPE_CHECKING:
    from momentstream.runtime.replay.runner import ReplaySummary

__all__ = ["replay_report"]


def replay_report(summary: ReplaySummary, lateness_ms: int, *, first: str, rejected: str,
                  holdout_where: str = "") -> str:  # fmt: skip
    """The summary after a replay: ``first`` (what ran, how fast) and ``rejected`` (where the rejects went) are the
    engine's own lines; the counts, outcome windows and the table of triggers by moment are shared."""
    rows = [[moment, kind, n] for (moment, kind), n in sorted(summary.triggers.items())]
    rows += [[moment, f"{kind} (shadow: audit only)", n] for (moment, kind), n in sorted(summary.shadow.items())]
    report = [
        first,
        rejected,
        f"late {summary.late:,}, duplicates {summary.duplicates:,}, windows cancelled {summary.cancelled:,}, "
        f"lateness {format_duration(lateness_ms)}"
        + (f", {summary.merged:,} alias ids merged into their customers" if summary.merged else ""),
        *([f"{summary.held:,} events more than --max-skew ahead of the clock were held: processed for their "
           "customer, without moving anybody else's time"] if summary.held else []),
        f"{summary.trigger_total:,} triggers"
        + (f", of which {summary.holdout:,} for holdout customers{holdout_where}" if summary.holdout else ""),
        *([f"{summary.outcomes['treated']:,} treated and {summary.outcomes['control']:,} control outcome windows "
           f"closed, {summary.outcomes['converted']:,} converted (trigger_outcome records in the audit output; "
           "momentstream report uplift)"] if summary.outcomes["treated"] or summary.outcomes["control"] else []),
        *([f"{summary.outcomes['unmatched']:,} feedback reports matched no open trigger (feedback_unmatched "
           "records in the audit output)"] if summary.outcomes["unmatched"] else []),
    ]  # fmt: skip
    if rows:
        report.append(format_table(["moment", "kind", "triggers"], rows))
    return "\n".join(report)
