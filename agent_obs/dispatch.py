"""The one fan-out from the observer to its sinks, each sink guarded on its own.

The observer normalises each callback into a ``Run`` (runs.py) and hands it here::

    dispatcher = Dispatcher(span_sink, [metrics_sink, log_sink])
    dispatcher.started(run)            # after the span sink started the run's span
    dispatcher.ended(run, clean_up)    # span first, then every other sink, then clean_up

The span sink goes first, because every other sink needs the trace and span ids: the
dispatcher reads them once from the span and passes them on as ``Ids``, so no sink looks at
span state. A disabled signal is simply not in the list. Each sink runs in its own ``try``:
one that raises neither stops the others nor leaves the span open, and ``clean_up`` (what
frees the run) runs in a ``finally``. The first exception is raised again once everything
has run, so the callback that got here counts it, once, in ``agent_obs_handler_errors_total``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from agent_obs.runs import Run
from agent_obs.spans import span_identity


class Ids(NamedTuple):
    """The run's span as the other sinks see it: hex ids ("" without a span) and sampling."""

    trace_id: str
    span_id: str
    sampled: bool


NO_IDS = Ids("", "", False)


class Sink(Protocol):
    """What a sink other than the span sink implements (metrics.py, logs.py)."""

    def started(self, run: Run, ids: Ids) -> None:
        """A run that may matter to this sink has started (its span, if any, is open).
        ``ids`` are given for a top-level run only (``NO_IDS`` for the others): what starts
        inside a run is recorded with its ids when it ends."""

    def ended(self, run: Run, ids: Ids) -> None:
        """A run has ended: ``run.outcome`` and ``run.end_mono`` are set, its span has ended."""


class Dispatcher:
    """Hands started and ended runs to the span sink, then to each other sink, guarded."""

    __slots__ = ("_spans", "_sinks")

    def __init__(self, spans: Any, sinks: Sequence[Sink]) -> None:
        self._spans = spans
        self._sinks = tuple(sinks)

    def started(self, run: Run) -> None:
        sinks = self._sinks
        if not sinks:
            return
        error: Exception | None = None
        ids = _ids(run) if run.parent is None else NO_IDS  # see Sink.started
        for sink in sinks:
            try:
                sink.started(run, ids)
            except Exception as exc:  # noqa: BLE001 - the other sinks still run
                error = error or exc
        if error is not None:
            raise error

    def ended(self, run: Run, clean_up: Callable[[Run], None]) -> None:
        error: Exception | None = None
        try:
            try:
                self._spans.end(run)
            except Exception as exc:  # noqa: BLE001
                error = exc
            sink_error = self._each_ended(run, _ids(run))
            error = error or sink_error
        finally:
            clean_up(run)
        if error is not None:
            raise error

    def inside(self, run: Run, host: Run | None) -> None:
        """A run with no span of its own ended (a named sub-agent's graph run): every sink
        other than the span sink gets it, with the ids of the span that hosts it."""
        error = self._each_ended(run, _ids(host) if host is not None else NO_IDS)
        if error is not None:
            raise error

    def _each_ended(self, run: Run, ids: Ids) -> Exception | None:
        """``ended`` on every sink other than the span sink; the first error, returned."""
        error: Exception | None = None
        for sink in self._sinks:
            try:
                sink.ended(run, ids)
            except Exception as exc:  # noqa: BLE001 - the other sinks still run
                error = error or exc
        return error

    def end_all(self, runs: Sequence[Run], end: Callable[[Run], None]) -> None:
        """``end(run)`` for each of ``runs``, every one attempted; the first error raised after."""
        error: Exception | None = None
        for run in runs:
            try:
                end(run)
            except Exception as exc:  # noqa: BLE001 - the next run still ends
                error = error or exc
        if error is not None:
            raise error


def _ids(run: Run) -> Ids:
    try:
        trace_id, span_id, sampled = span_identity(run)
    except Exception:  # noqa: BLE001 - a span that cannot say who it is: the sinks get no ids
        return NO_IDS
    return Ids(trace_id, span_id, sampled)
