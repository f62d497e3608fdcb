"""Turning matches and windows into the records a CRM receives."""

from momentstream.triggers.emit import cancelled_record, match_trigger, window_trigger

__all__ = ["cancelled_record", "match_trigger", "window_trigger"]
