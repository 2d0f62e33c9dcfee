"""``instrument_engine(engine, obs)``: query spans, query durations and connection errors.

Query spans come from opentelemetry-instrumentation-sqlalchemy's ``EngineTracer``, attached to
this one engine (no process-wide patching of ``create_engine``), using ``obs.tracer_provider``.
Alongside it, event listeners feed two Prometheus families on ``obs.registry``:

- ``db_query_duration_seconds{db_system,operation,status}``: every cursor execution
  (``operation`` is the statement's first keyword, capped; ``status`` is ``ok``/``error``);
- ``db_connection_errors_total{db_system}``: failures to open a DBAPI connection and
  disconnects, which the DatabaseConnectionFailures alert watches.

The returned ``EngineInstrumentation.uninstrument()`` removes exactly these listeners; it is
also registered on ``obs`` so ``obs.shutdown()`` undoes it. SQLAlchemy 2.0.x is required (the
instrumentation refuses 2.1).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agent_obs import semconv as sc
from agent_obs.metrics import Children, LabelCap, family
from agent_obs.shortcuts import EngineListeners

_log = logging.getLogger(__name__)

_START_KEY = "_agent_obs_query_start"


class EngineInstrumentation:
    """Listeners added to one engine; ``uninstrument()`` removes them (idempotent)."""

    def __init__(self, engine: Any, listeners: list[tuple[str, Any]], tracer_listeners: list[Any],
                 registry: EngineListeners | None = None) -> None:
        self.engine = engine
        self._listeners = listeners
        self._tracer_listeners = tracer_listeners
        self._registry = registry

    def uninstrument(self) -> None:
        from sqlalchemy import event

        while self._listeners:
            identifier, func = self._listeners.pop()
            try:
                event.remove(self.engine, identifier, func)
            except Exception:  # noqa: BLE001 - best effort on shutdown
                _log.debug("could not remove listener %s", identifier, exc_info=True)
        if self._registry is not None:
            for target, identifier, func in self._registry.forget(self._tracer_listeners):
                if target is not self.engine:
                    continue
                try:
                    event.remove(self.engine, identifier, func)
                except Exception:  # noqa: BLE001
                    _log.debug("could not remove tracer listener %s", identifier, exc_info=True)
        self._tracer_listeners.clear()


def instrument_engine(engine: Any, obs: Any, *, operation_limit: int = 50) -> EngineInstrumentation:
    """Instrument ``engine`` (a sync ``Engine``; pass ``async_engine.sync_engine`` for async)."""
    from sqlalchemy import event
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import get_tracer

    engine = getattr(engine, "sync_engine", engine)
    registry = obs.registry
    duration = Children(family(registry, sc.METRIC_DB_QUERY_DURATION))
    conn_errors = family(registry, sc.METRIC_DB_CONNECTION_ERRORS)
    db_system = engine.dialect.name
    conn_errors.labels(db_system)  # exported at 0 from the start, so increase() sees the first error
    cap = LabelCap(operation_limit)

    def observe(context: Any, status: str) -> None:
        start = getattr(context, _START_KEY, None) if context is not None else None
        if start is None:
            return
        setattr(context, _START_KEY, None)
        statement = getattr(context, "statement", None) or ""
        operation = cap(statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "")
        duration(db_system, operation, status).observe(time.perf_counter() - start)

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        try:
            if context is not None:
                setattr(context, _START_KEY, time.perf_counter())
        except Exception:  # noqa: BLE001 - never break a query
            pass

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        try:
            observe(context, "ok")
        except Exception:  # noqa: BLE001
            _log.debug("could not record a query duration", exc_info=True)

    def on_error(exception_context: Any) -> None:
        try:
            observe(exception_context.execution_context, "error")
            if exception_context.connection is None or exception_context.is_disconnect:
                conn_errors.labels(db_system).inc()
        except Exception:  # noqa: BLE001
            _log.debug("could not record a database error", exc_info=True)

    listeners = [("before_cursor_execute", before), ("after_cursor_execute", after), ("handle_error", on_error)]
    for identifier, func in listeners:
        event.listen(engine, identifier, func)

    # The tracer's listeners can be told apart per engine only through the class's private list
    # (agent_obs.shortcuts.ENGINE_LISTENERS); without it they stay until the process ends.
    tracer_listeners = EngineListeners(EngineTracer)
    before = tracer_listeners.snapshot()
    tracer = get_tracer("opentelemetry.instrumentation.sqlalchemy", tracer_provider=obs.tracer_provider)
    connections = NoOpMeterProvider().get_meter("service_obs.sqlalchemy").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine, connections)
    added = tracer_listeners.added_since(before)
    instrumentation = EngineInstrumentation(engine, list(listeners), added,
                                            tracer_listeners if tracer_listeners.usable else None)
    obs.register_undo(instrumentation.uninstrument)
    return instrumentation
