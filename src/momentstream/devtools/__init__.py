"""Development only: a local Apache Kafka broker (KRaft, from Maven-resolved jars), a secured one for
tests, and a cluster of workers for benchmarks. Product code never imports this package (a test checks).
"""
