"""Turning matches and windows into the records a CRM receives, and deciding whether to send them.

The package imports nothing eagerly: :mod:`~momentstream.patterns.quiet_hours` is plain time maths
that the pattern spec uses, while :mod:`~momentstream.triggers.emit` builds on compiled patterns.
"""
