"""Thin runtimes over the pure engine: the embedded replay runner (and, later, Faust on Kafka)."""
