"""Run records -> prometheus_client metrics, one family set per registry.

The dispatcher (dispatch.py) hands ``MetricsSink`` each started and ended ``Run`` with its
span's ids (``dispatch.Ids``, for exemplars); ``MetricsSink`` is the one place that maps run
facts to metric families, labels and observations. service_obs feeds its HTTP and database
families through ``family()`` here too.

Families are created once per ``CollectorRegistry`` and shared by every observer (and by
``service_obs``) on that registry, so several observers never collide. Label values come
only from bounded sets and pass through a per-label cap; label children are cached so the
hot path is a dict lookup. Histogram observations made inside a sampled span carry a
``trace_id``/``span_id`` exemplar (written only in OpenMetrics exposition).
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from agent_obs import semconv as sc
from agent_obs.dispatch import Ids
from agent_obs.errors import error_type
from agent_obs.runs import Run, RunKind
from agent_obs.shortcuts import exemplar_observer, registered_collector

_CLASSES = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}
_create_lock = threading.Lock()
# registry -> exposition name -> the collector get_or_create made or found there
_made: "weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Any]]" = weakref.WeakKeyDictionary()


def get_or_create(registry: CollectorRegistry, name: str, kind: str, documentation: str,
                  labelnames: tuple[str, ...] | list[str], buckets: tuple[float, ...] | None = None,
                  multiprocess_mode: str | None = None) -> Any:
    """Return the collector called ``name`` in ``registry``, creating it if it is missing.

    Any component that shares a registry (observers, service_obs, the example service) uses
    this for shared families, so registration order never matters. ``multiprocess_mode``
    (gauges only) says how prometheus_client's multiprocess mode merges the workers' values
    (``livesum``, ``mostrecent``, ...); single-process services ignore it.
    """
    with _create_lock:
        made = _made.setdefault(registry, {})
        existing = made.get(name)
        if existing is None:
            existing = registered_collector(registry, name)  # made by someone else
        if existing is not None:
            made[name] = existing
            return existing
        cls = _CLASSES[kind]
        family_name = name[: -len("_total")] if kind == "counter" and name.endswith("_total") else name
        kwargs: dict[str, Any] = {"registry": registry}
        if buckets is not None:
            kwargs["buckets"] = buckets
        if kind == "gauge" and multiprocess_mode is not None:
            kwargs["multiprocess_mode"] = multiprocess_mode
        made[name] = cls(family_name, documentation, list(labelnames), **kwargs)
        return made[name]


def family(registry: CollectorRegistry, name: str) -> Any:
    """A family defined in ``semconv.METRICS`` or ``semconv.SERVICE_METRICS``, from ``registry``."""
    kind, labels, documentation = sc.METRICS[name] if name in sc.METRICS else sc.SERVICE_METRICS[name]
    buckets = sc.METRIC_BUCKETS.get(name) or sc.SERVICE_METRIC_BUCKETS.get(name)
    return get_or_create(registry, name, kind, documentation, labels, buckets,
                         sc.METRIC_MULTIPROCESS_MODES.get(name))


class LabelCap:
    """Past ``limit`` distinct values of one label, new values become ``_other``."""

    __slots__ = ("limit", "_seen", "_lock")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if value is None:
            return ""
        if value in self._seen:
            return value
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self.limit:
                return sc.OTHER_LABEL_VALUE
            self._seen.add(value)
            return value


class Children:
    """Label children of one family, cached by label tuple.

    ``family.labels(...)`` validates and locks on every call; hot paths ask for the same few
    children over and over (each label from a capped set), so a dict lookup answers instead.
    A racing thread stores the same child: harmless.
    """

    __slots__ = ("_family", "_cache")

    def __init__(self, fam: Any) -> None:
        self._family = fam
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *labels: str) -> Any:
        child = self._cache.get(labels)
        if child is None:
            child = self._family.labels(*labels)
            self._cache[labels] = child
        return child


class AgentMetrics:
    """All of agent_obs's families on one registry, with capped labels and cached children."""

    def __init__(self, registry: CollectorRegistry, label_limit: int = 500) -> None:
        self.registry = registry
        self.label_limit = label_limit
        self.observe = exemplar_observer()  # child.observe(amount, exemplar), decided once
        f = lambda name: Children(family(registry, name))  # noqa: E731
        self.operation_duration = f(sc.METRIC_OPERATION_DURATION)
        self.token_usage = f(sc.METRIC_TOKEN_USAGE)
        self.time_to_first_chunk = f(sc.METRIC_TIME_TO_FIRST_CHUNK)
        self.tool_duration = f(sc.METRIC_TOOL_DURATION)
        self.agent_duration = f(sc.METRIC_AGENT_DURATION)
        self.runs = f(sc.METRIC_RUNS)
        self.node_duration = f(sc.METRIC_NODE_DURATION)
        self.node_retries = f(sc.METRIC_NODE_RETRIES)
        self.interrupts = f(sc.METRIC_INTERRUPTS)
        self.run_steps = f(sc.METRIC_RUN_STEPS)
        self.active_runs = f(sc.METRIC_ACTIVE_RUNS)
        self.llm_cost = f(sc.METRIC_LLM_COST)
        self.handler_errors = f(sc.METRIC_HANDLER_ERRORS)
        self.abandoned_runs = f(sc.METRIC_ABANDONED_RUNS)
        self.dropped = f(sc.METRIC_DROPPED)
        self.handoffs = f(sc.METRIC_HANDOFFS)
        self.llm_tokens = f(sc.METRIC_LLM_TOKENS)
        # One cap per kind of value, shared by every family that uses it.
        self.agent = LabelCap(label_limit)
        self.node = LabelCap(label_limit)
        self.model = LabelCap(label_limit)
        self.provider = LabelCap(label_limit)
        self.tool = LabelCap(label_limit)
        self.error_type = LabelCap(label_limit)


_per_registry: "weakref.WeakKeyDictionary[CollectorRegistry, dict[int, AgentMetrics]]" = (
    weakref.WeakKeyDictionary()
)


def metrics_for(registry: CollectorRegistry | None, label_limit: int = 500) -> AgentMetrics:
    """The shared ``AgentMetrics`` of a registry (prometheus_client.REGISTRY when None)."""
    registry = REGISTRY if registry is None else registry
    with _create_lock:
        by_limit = _per_registry.get(registry)
        if by_limit is None:
            by_limit = {}
            _per_registry[registry] = by_limit
        found = by_limit.get(label_limit)
    if found is not None:
        return found
    created = AgentMetrics(registry, label_limit)
    with _create_lock:
        return by_limit.setdefault(label_limit, created)




class MetricsSink:
    """Turns ended runs into observations on one ``AgentMetrics``."""

    def __init__(self, metrics: AgentMetrics) -> None:
        self.m = metrics
        self._active: set[Any] = set()  # roots counted in active_runs, so a failed inc is never undone

    def started(self, run: Run, ids: Ids) -> None:
        m = self.m
        if run.parent is None:  # a top-level run
            m.active_runs(m.agent(run.name)).inc()
            self._active.add(run.key)
        elif run.kind is RunKind.NODE and run.attempt > 1:
            m.node_retries(m.agent(run.agent), m.node(run.name)).inc()

    def ended(self, run: Run, ids: Ids) -> None:
        m = self.m
        observe = m.observe
        ex = {"trace_id": ids.trace_id, "span_id": ids.span_id} if ids.sampled and ids.trace_id else None
        kind = run.kind
        outcome = run.outcome
        err = _error_label(run, m)
        if kind is RunKind.LLM:
            op = run.operation or sc.OP_CHAT
            provider = m.provider(run.provider or "")
            model = m.model(run.model or "")
            observe(m.operation_duration(op, provider, model, err), run.duration, ex)
            agent = m.agent(run.agent)
            if run.input_tokens is not None:
                observe(m.token_usage(op, provider, model, sc.TOKEN_TYPE_INPUT), run.input_tokens, ex)
                m.llm_tokens(agent, model, sc.TOKEN_TYPE_INPUT).inc(run.input_tokens)
            if run.output_tokens is not None:
                observe(m.token_usage(op, provider, model, sc.TOKEN_TYPE_OUTPUT), run.output_tokens, ex)
                m.llm_tokens(agent, model, sc.TOKEN_TYPE_OUTPUT).inc(run.output_tokens)
            if run.first_chunk_mono:
                observe(m.time_to_first_chunk(op, provider, model), run.first_chunk_mono - run.start_mono, ex)
            if run.cost_usd:
                m.llm_cost(agent, model).inc(run.cost_usd)
        elif kind is RunKind.NODE:
            agent = m.agent(run.agent)
            node = m.node(run.name)
            observe(m.node_duration(agent, node, outcome), run.duration, ex)
            if outcome == sc.OUTCOME_INTERRUPTED and not run.interrupted:
                m.interrupts(agent, node).inc()  # at the node that called interrupt() only
        elif kind is RunKind.TOOL:
            observe(m.tool_duration(m.agent(run.agent), m.tool(run.name), err), run.duration, ex)
        elif kind is RunKind.CHAIN:  # a named sub-agent's graph run (Dispatcher.inside)
            observe(m.agent_duration(m.agent(run.agent), err), run.duration, ex)
        elif kind is RunKind.AGENT and run.parent is None:
            agent = m.agent(run.name)
            try:
                observe(m.agent_duration(agent, err), run.duration, ex)
                m.runs(agent, outcome).inc()
                observe(m.run_steps(agent), run.steps, ex)
            finally:
                if run.key in self._active:  # whatever failed above, the run is no longer active
                    self._active.discard(run.key)
                    m.active_runs(agent).dec()
        if run.handoff:  # this run handed control on (Command.PARENT)
            self._count_handoffs(run)

    def _count_handoffs(self, run: Run) -> None:
        m = self.m
        agent = m.agent(run.agent)
        node = m.node(run.node)
        for destination in run.handoff:
            m.handoffs(agent, node, m.node(destination)).inc()


class SelfHealthCounters:
    """The observer's own health (``agent_obs_handler_errors_total``,
    ``agent_obs_abandoned_runs_total``): counted by the observer itself, not from runs, so
    they are not a sink; absent with ``AgentObserver(metrics=False)``."""

    def __init__(self, metrics: AgentMetrics) -> None:
        self.m = metrics

    def start_at_zero(self, callbacks: Sequence[str]) -> None:
        """Export the counters whose labels are known at 0, so that ``increase()`` (and the
        alerts built on it) sees their first increment."""
        for callback in callbacks:
            self.m.handler_errors(callback)
        for kind in sc.ABANDONED_KINDS:
            self.m.abandoned_runs(kind)

    def handler_error(self, callback: str) -> None:
        self.m.handler_errors(callback).inc()

    def abandoned(self, kind: str) -> None:
        self.m.abandoned_runs(kind).inc()


def _error_label(run: Run, m: AgentMetrics) -> str:
    if run.outcome in (sc.OUTCOME_ERROR, sc.OUTCOME_CANCELLED) and run.error is not None:
        return m.error_type(error_type(run.error))
    if run.outcome == sc.OUTCOME_CANCELLED:
        return m.error_type(sc.OUTCOME_CANCELLED)
    return ""
