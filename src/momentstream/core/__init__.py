"""The pure core: ``(state, event or tick) -> (new state, outputs)``, deterministic and serializable.

Two floors. Below the moments language, the models and the trigger rules sit the values they all share:
the wire schemas (:mod:`~momentstream.core.events`, :mod:`~momentstream.core.trigger_record`,
:mod:`~momentstream.core.audit`, gathered in :mod:`~momentstream.core.schema`), event time
(:mod:`~momentstream.core.clock`) and a customer's compact state (:mod:`~momentstream.core.state`).
Above those three packages sits what orders their work per event: the :mod:`~momentstream.core.engine`,
its :mod:`~momentstream.core.step` result, :mod:`~momentstream.core.identity` stitching and the
:mod:`~momentstream.core.customer_view`. Nothing here does I/O; both runtimes drive the same engine.
"""
