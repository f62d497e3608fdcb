"""Thin runtimes over the pure engine: the embedded replay runner and the Faust worker on Kafka."""
