"""A journey simulator: realistic touchpoints for the demo, the tests and the benchmarks."""

from momentstream.sim.journeys import ARCHETYPES, Simulation, Truth, simulate

__all__ = ["ARCHETYPES", "Simulation", "Truth", "simulate"]
