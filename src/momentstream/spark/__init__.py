"""Discovery and backfills on Apache Spark, for histories larger than one machine (``--engine spark``).

Spark reads the history where it lives (Parquet or JSON lines on any path Spark reads), groups it by
customer on its executors, and runs the same per-customer code the local engine runs: the engine's own
matcher for discovery's counts and the replay runner for backfills. Only small results come back to the
driver (counts, delay curves, the search's sample), so the statistics are the local engine's, computed
once. pyspark is an optional extra: ``pip install 'momentstream[spark]'``.
"""
