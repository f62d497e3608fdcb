"""The embedded replay runner: a file or an iterator of events in, outputs out. The reference semantics
the Kafka workers are compared against (a test runs both on the same input)."""

from momentstream.runtime.replay.runner import DRAIN, EventRefusedError, ReplayRunner, ReplaySummary, replay_file

__all__ = ["DRAIN", "EventRefusedError", "ReplayRunner", "ReplaySummary", "replay_file"]
