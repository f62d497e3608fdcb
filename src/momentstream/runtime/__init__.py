"""Thin runtimes over the pure engine: :mod:`~momentstream.runtime.replay` (files and iterators) and
:mod:`~momentstream.runtime.kafka` (the batched and the Faust worker).

What both share sits here: :mod:`~momentstream.runtime.sources` reads and checks events (the same
refusals for a JSON line and a Kafka record), :mod:`~momentstream.runtime.guard` keeps one bad record
from harming the rest, :mod:`~momentstream.runtime.progress` reports long runs.
"""
