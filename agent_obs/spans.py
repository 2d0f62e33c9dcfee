"""Run records -> OpenTelemetry spans, and the bridge that makes them current.

The dispatcher (dispatch.py) and the observer hand ``SpanSink`` the run; what a span is
called and says comes from genai_spans.py, this module only starts, writes and ends spans.
A span starts when its run starts, with the attributes samplers look at, and becomes the
current OpenTelemetry context so that spans made inside a node or tool body (HTTP clients,
SQLAlchemy, a manual ``start_as_current_span``) nest under it.

Why no ``context.detach``: under ``ainvoke`` LangChain calls a start callback and its end
callback in different ``contextvars.Context`` copies (the start in the caller's task, the end
in a task LangGraph created), and resetting a token across contexts fails ("Failed to detach
context"). Instead the start callback *sets* the current context, which LangChain copies into
the node/tool body it is about to run, and the value it sets is a ``RunContext``: while the
run is open it holds the run's span; once the run has ended it answers exactly as the context
that was current before the run started. So a context copy that the end callback never sees
(the caller's, after ``ainvoke`` returns) can hold no stale span, and nothing is ever reset
across contexts. Where the end callback does run in the start's context, it also puts the
previous value back.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Status, StatusCode

from agent_obs import genai_spans
from agent_obs import semconv as sc
from agent_obs.runs import Run
from agent_obs.shortcuts import SpanShortcuts

_log = logging.getLogger("agent_obs")
_warned_no_provider: list[bool] = []  # one warning per process
_warn_lock = threading.Lock()


def warn_if_no_provider(tracer_provider: Any) -> None:
    """Warn once per process (stdlib ``logging``) when spans would go nowhere.

    With no provider given and no global one set, OpenTelemetry hands out a proxy: spans are
    dropped until a provider is set, and then appear (the proxy is kept, so that still works).
    """
    if tracer_provider is not None or _warned_no_provider:
        return
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    with _warn_lock:
        if _warned_no_provider:
            return
        _warned_no_provider.append(True)
    _log.warning(
        "agent_obs: AgentObserver has no tracer provider and no global one is set, so no spans are "
        "recorded until one is. Use service_obs.setup_observability(...).observer(), pass "
        "AgentObserver(tracer_provider=...), or call opentelemetry.trace.set_tracer_provider(...).")


class RunContext(Context):
    """An OpenTelemetry ``Context`` that is the run's while it is open, its caller's after."""

    def __init__(self, values: Context, run: Run, span: Any) -> None:
        super().__init__()
        # dict.update with an items view: filling from a RunContext directly would go
        # through its Python-level keys() and __getitem__ for every entry.
        dict.update(self, dict.items(values))
        dict.__setitem__(self, _span_key(), span)  # Context itself forbids item assignment
        self._run = run

    def _after(self) -> Context | None:
        run = self._run
        return resolve(run.previous_context) if run.outcome else None

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        # The SDK reads the parent span through here several times per span start: no calls
        # beyond the dict lookup while the run is open.
        run = self._run
        if run.outcome:
            return resolve(run.previous_context).get(key, default)
        return dict.get(self, key, default)

    def copy(self) -> dict[str, object]:  # type: ignore[override]
        after = self._after()
        if after is not None:
            return after.copy()
        # Not dict.copy(self): on this subclass it would call the keys() and __getitem__ above
        # for every entry. context.set_value copies the current context for every span that
        # a node or tool body makes current (HTTP, SQL, manual spans).
        return dict(dict.items(self))

    def __getitem__(self, key: str) -> object:
        after = self._after()
        return after[key] if after is not None else dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        after = self._after()
        return key in after if after is not None else dict.__contains__(self, key)

    def __iter__(self):  # type: ignore[override]
        after = self._after()
        return iter(after) if after is not None else dict.__iter__(self)

    def __len__(self) -> int:
        after = self._after()
        return len(after) if after is not None else dict.__len__(self)

    def keys(self):  # type: ignore[override]
        after = self._after()
        return after.keys() if after is not None else dict.keys(self)

    def items(self):  # type: ignore[override]
        after = self._after()
        return after.items() if after is not None else dict.items(self)

    def values(self):  # type: ignore[override]
        after = self._after()
        return after.values() if after is not None else dict.values(self)


def resolve(ctx: Any) -> Any:
    """The context a (possibly ended) ``RunContext`` stands for; plain contexts as they are.

    Chains of ended runs are compressed as they are walked, so a long-lived context that saw
    many runs neither slows lookups down nor keeps old runs alive.
    """
    if not (isinstance(ctx, RunContext) and ctx._run.outcome):  # noqa: SLF001
        return ctx
    passed = []
    while isinstance(ctx, RunContext) and ctx._run.outcome:  # noqa: SLF001
        passed.append(ctx._run)  # noqa: SLF001
        ctx = ctx._run.previous_context  # noqa: SLF001
    for run in passed:
        run.previous_context = ctx
    return ctx


class SpanSink:
    """Starts and ends one span per non-plumbing run."""

    def __init__(self, tracer_provider: Any = None) -> None:
        warn_if_no_provider(tracer_provider)
        self._tracer = trace.get_tracer(sc.SCOPE_NAME, tracer_provider=tracer_provider)
        provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        shortcuts = SpanShortcuts(provider)
        self._children_follow_parent = shortcuts.children_follow_parent
        # Samplers that never read attributes let a span start bare and take its attributes
        # straight after, through the fast writer.
        self._attributes_after_start = shortcuts.attributes_after_start
        self._write = shortcuts.write_attributes

    # --- lifecycle ---------------------------------------------------------------------
    def start(self, run: Run, links: Sequence[Link] = ()) -> None:
        """Start ``run``'s span (name, kind and attributes from genai_spans) and make it current."""
        current = resolve(otel_context.get_current())
        parent = run.parent
        if parent is not None and parent.context is not None:
            parent_ctx = parent.context
            if self._children_follow_parent and not parent.span.get_span_context().trace_flags.sampled:
                # The sampler would drop this span too: reuse the parent's non-recording span
                # and context instead of asking the SDK for another one. Bodies still see a
                # context of this (unsampled) trace, so nothing they start joins another.
                run.span = parent.span
                run.context = parent_ctx
                run.previous_context = current
                otel_context.attach(parent_ctx)
                return
        else:
            parent_ctx = current
        name, kind, attributes = genai_spans.start(run)
        after_start = self._attributes_after_start
        span = self._tracer.start_span(
            name, context=parent_ctx, kind=kind, attributes=None if after_start else attributes,
            links=links, start_time=run.start_ns, record_exception=False, set_status_on_exception=False,
        )
        if after_start and attributes:
            self._write(span, attributes)
        run.span = span
        ctx = RunContext(resolve(parent_ctx), run, span)
        run.context = ctx
        run.previous_context = current
        otel_context.attach(ctx)

    def end(self, run: Run) -> None:
        """End ``run``'s span with what genai_spans makes of its facts, at the run's end time."""
        span = run.span
        if span is None:
            return
        if run.parent is not None and span is run.parent.span:
            try:
                self._restore_context(run)
            finally:
                run.context = None
            return  # the parent's non-recording span: the parent ends it
        try:
            self._restore_context(run)
            if span.is_recording():
                attributes = genai_spans.end(run)
                if attributes:
                    self._write(span, attributes)
                if run.outcome == sc.OUTCOME_ERROR:
                    failed = genai_spans.failure(run)
                    if failed is not None:
                        error, event_attributes, description = failed
                        span.record_exception(error, event_attributes, escaped=True)
                        span.set_status(Status(StatusCode.ERROR, description))
        finally:
            # Whatever failed above. The end time is the run's (taken when its end callback
            # arrived), not now: the observer's own work since then is not the model's or the
            # tool's latency. The ended run no longer needs its context (the copies LangChain
            # keeps still need the run: this breaks the cycle, so reference counting frees both).
            run.context = None
            took = run.end_mono - run.start_mono  # Run.duration, inline
            span.end(end_time=run.start_ns + (int(took * 1e9) if took > 0.0 else 0))

    @staticmethod
    def _restore_context(run: Run) -> None:
        run.previous_context = resolve(run.previous_context)
        if otel_context.get_current() is run.context:
            otel_context.attach(run.previous_context)

    # --- while the run is open -------------------------------------------------------------
    @staticmethod
    def recording(run: Run) -> bool:
        """Whether ``run``'s span records (facts only it shows are worth gathering)."""
        span = run.span
        return span is not None and span.is_recording()

    def write_input(self, run: Run) -> None:
        """Write the run's captured input (``run.input_content``/``input_messages``)."""
        if self.recording(run):
            self._write(run.span, genai_spans.input_content(run))

    def route(self, node: Run, router: str, destinations: list[str]) -> None:
        """A router inside ``node`` chose ``destinations``: an event on the node's span."""
        span = node.span
        if span is not None and span.is_recording():
            span.add_event(*genai_spans.route(router, destinations))

    def handoff(self, run: Run) -> None:
        """``run`` handed control elsewhere (``run.handoff``): attributes and an event."""
        span = run.span
        if span is not None and span.is_recording():
            attributes, event, event_attributes = genai_spans.handoff(run)
            self._write(span, attributes)
            span.add_event(event, event_attributes)

    def sub_agent(self, host: Run, name: str) -> None:
        """``host`` (a node or tool) runs the named sub-agent ``name``: its span names it."""
        if host.span is not None:
            self._write(host.span, genai_spans.sub_agent(host, name))


_SPAN_KEY: list[str] = []


def _span_key() -> str:
    """OpenTelemetry's context key for the current span (read once from the API)."""
    if not _SPAN_KEY:
        probe = trace.set_span_in_context(trace.INVALID_SPAN, Context())
        _SPAN_KEY.append(next(iter(dict.keys(probe))))
    return _SPAN_KEY[0]


def span_context(run: Run) -> Any:
    """The OpenTelemetry span context of ``run``'s span (for a link to it), or None."""
    span = run.span
    return span.get_span_context() if span is not None else None


def span_identity(run: Run) -> tuple[str, str, bool]:
    """(trace_id, span_id, sampled) from one look at the span context, the ids in the hex form
    Tempo, Loki and Prometheus exemplars use."""
    span = run.span
    if span is None:
        return "", "", False
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return "", "", False
    # hex_ids' spelling, inline: this runs for every ended run
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"), bool(ctx.trace_flags.sampled)


def hex_ids(ctx: Any) -> tuple[str, str]:
    """The trace id (32 hex digits) and span id (16) of a span context, as Tempo, Loki and
    Prometheus exemplars spell them."""
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


