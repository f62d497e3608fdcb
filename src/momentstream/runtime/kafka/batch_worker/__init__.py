"""The default Kafka worker: confluent-kafka, a batch per poll, one flush and one commit per batch.

:mod:`~momentstream.runtime.kafka.batch_worker.worker` is the loop; ``batching`` groups a batch's records
per customer; ``client_config``, ``local_store``, ``changelog_table`` and ``segment_roll`` are its clients,
its state table (memory or RocksDB) backed by a compacted changelog, and the roll of quiet segments.
"""
