"""Behavioural patterns: the YAML/builder language, its compiler and the matcher."""

from momentstream.patterns.dsl import Moment, load_moments, parse_moments
from momentstream.patterns.errors import PatternError
from momentstream.patterns.nfa import CompiledMoment, compile_moment

__all__ = ["CompiledMoment", "Moment", "PatternError", "compile_moment", "load_moments", "parse_moments"]
