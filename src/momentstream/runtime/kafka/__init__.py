"""The Kafka runtime: workers that run the engine per partition, and what they share.

The batched worker (:mod:`~momentstream.runtime.kafka.batch_worker`, confluent-kafka, the default) and the
Faust worker (:mod:`~momentstream.runtime.kafka.faust_worker`, the design card's runtime) both hand each
record to :class:`~momentstream.runtime.kafka.processor.StreamProcessor` (load -> engine -> outputs -> save)
and route its outputs with :mod:`~momentstream.runtime.kafka.routing`. Beside them: topic administration
(``admin``), client access checks (``access``), raw producing and consuming (``io``), the moment registry
topic, the stored-state header, the wall-clock ticker, the web surface and the runner that picks a worker.
"""
