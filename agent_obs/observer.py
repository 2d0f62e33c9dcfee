"""The callback handler: LangChain/LangGraph callbacks in, run records out to the sinks.

Usage::

    observer = AgentObserver(tracer_provider=provider, registry=registry)
    graph.invoke(inputs, config={"callbacks": [observer]})

Each callback normalises its arguments into a ``Run`` in the run table once;
``dispatch.Dispatcher`` hands the record to the span sink, then to the metric and log sinks,
each guarded on its own. Every entry point is guarded: an exception inside the observer is
counted in ``agent_obs_handler_errors_total`` and logged (rate-limited) through stdlib
``logging``; it never reaches the graph.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry.trace import Link

from agent_obs import extract
from agent_obs import semconv as sc
from agent_obs.env import capture_content_from_env
from agent_obs.graph_runs import (
    has_seq_step_tag,
    is_node_run,
    is_resume,
    route_destinations,
    serialized_name,
    sub_agent,
)
from agent_obs.dispatch import Dispatcher
from agent_obs.guard import RateLimitedLog
from agent_obs.genai_spans import resumed_from
from agent_obs.llm_results import apply_result
from agent_obs.logs import LogSink
from agent_obs.metrics import MetricsSink, SelfHealthCounters, metrics_for
from agent_obs.runs import Run, RunKind, RunTable
from agent_obs.spans import SpanSink, span_context

_log = logging.getLogger("agent_obs")
_MAX_REMEMBERED_INTERRUPTS = 1024


class AgentObserver(BaseCallbackHandler):
    """One handler for any number of graphs and concurrent runs: spans, metrics and logs.

    Arguments are documented in ``docs/reference.md`` (AgentObserver); the keyword-only ones tune limits:
    ``prices`` (a ``PriceTable``, a mapping of overrides or a JSON file), ``max_content_length``
    and ``redact`` for captured content, ``label_limit`` (distinct values per metric label
    before ``_other``), ``max_open_runs`` and ``run_ttl_seconds`` for the run table, and
    ``clock`` (monotonic seconds) for durations and the TTL, and ``metrics=False`` /
    ``logs=False`` to produce spans only (no registry touched, no log records).
    """

    raise_error = False
    run_inline = True  # the start callback must run in the context the body is copied from

    def __init__(
        self,
        tracer_provider: Any = None,
        registry: Any = None,
        logger: Any = None,
        capture_content: bool | None = None,
        agent_name: str | None = None,
        *,
        prices: Any = None,
        max_content_length: int = 16384,
        redact: bool = True,
        label_limit: int = 500,
        max_open_runs: int = 10_000,
        run_ttl_seconds: float = 3600.0,
        clock: Callable[[], float] = time.perf_counter,
        metrics: bool = True,
        logs: bool = True,
    ) -> None:
        super().__init__()
        from agent_obs.arguments import check_observer_arguments

        check_observer_arguments(tracer_provider, registry, logger, capture_content, agent_name, {
            "max_content_length": max_content_length, "label_limit": label_limit, "max_open_runs": max_open_runs,
            "run_ttl_seconds": run_ttl_seconds, "redact": redact, "metrics": metrics, "logs": logs, "clock": clock})
        if logger is None:
            from loguru import logger as loguru_logger

            logger = loguru_logger
        if capture_content is None:
            capture_content = capture_content_from_env()
        if max_content_length < 16:
            raise ValueError("max_content_length must be at least 16 characters")
        if label_limit < 1:
            raise ValueError("label_limit must be at least 1")
        from agent_obs.cost import PriceTable

        self.agent_name = agent_name
        self.capture_content = bool(capture_content)
        self._prices = PriceTable.resolve(prices)
        self._content = None
        if self.capture_content:
            from agent_obs.content import ContentPolicy

            self._content = ContentPolicy(max_length=max_content_length, redact=redact)
        self._clock = clock
        self._runs = RunTable(max_runs=max_open_runs, ttl_seconds=run_ttl_seconds, clock=clock)
        self._spans = SpanSink(tracer_provider)
        families = metrics_for(registry, label_limit) if metrics else None
        self._metrics = MetricsSink(families) if families is not None else None
        self._health = SelfHealthCounters(families) if families is not None else None
        sinks = ([self._metrics] if self._metrics is not None else []) + ([LogSink(logger)] if logs else [])
        self._dispatch = Dispatcher(self._spans, sinks)  # a disabled signal is not in the list
        if self._health is not None:
            self._health.start_at_zero(CALLBACKS)
        self._lock = threading.Lock()
        self._interrupted_threads: OrderedDict[str, Any] = OrderedDict()
        self._log_error = RateLimitedLog()
        self._first_token_seen: Any = None  # run_id of the latest run whose first token was timed

    # --- self-health ---------------------------------------------------------------------
    def _handler_error(self, callback: str, error: BaseException) -> None:
        try:
            if self._health is not None:
                self._health.handler_error(callback)
            self._log_error(callback, error)
        except Exception:  # noqa: BLE001
            pass

    @property
    def open_runs(self) -> int:
        """Runs started and not yet ended (for tests and health checks)."""
        return len(self._runs)

    # --- starting runs -------------------------------------------------------------------
    def _parent(self, parent_run_id: UUID | None) -> Run | None:
        parent = self._runs.get(parent_run_id)
        if parent is not None and parent.kind is RunKind.CHAIN:
            return parent.parent
        return parent

    def _begin(self, run: Run, links: Sequence[Link] = ()) -> None:
        self._runs.add(run)
        self._spans.start(run, links)

    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            name = kwargs.get("name") or serialized_name(serialized) or "chain"
            raw_parent = self._runs.get(parent_run_id)
            if raw_parent is None:
                self._start_root(run_id, name, inputs, metadata)
                return
            parent = raw_parent.parent if raw_parent.kind is RunKind.CHAIN else raw_parent
            node = metadata.get("langgraph_node") if metadata else None
            if node is not None and node == name and is_node_run(metadata, parent, tags):
                self._start_node(run_id, name, parent, metadata)
                if raw_parent is not parent:
                    self._enter_graph(self._runs.get(run_id), raw_parent, metadata, tags)
                return
            run = Run(run_id, RunKind.CHAIN, name, parent, self._clock())
            if tags and parent is not None and parent.kind is RunKind.NODE and has_seq_step_tag(tags):
                run.router = True
            self._runs.add(run)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_chain_start", exc)

    def _start_root(self, run_id: UUID, name: str, inputs: Any, metadata: dict[str, Any] | None) -> None:
        if self._runs.due_for_sweep():
            self._evict_abandoned()
        agent = self.agent_name or name
        run = Run(run_id, RunKind.AGENT, agent, None, self._clock())
        thread_id = metadata.get("thread_id") if metadata else None
        links: list[Link] = []
        if thread_id is not None:
            run.thread_id = str(thread_id)
            if is_resume(inputs):
                interrupted = self._interrupted_threads.get(run.thread_id)
                if interrupted is not None:
                    links.append(resumed_from(interrupted))
                    run.resumed = True
        self._begin(run, links)
        content = self._content
        if content is not None and self._spans.recording(run):
            run.input_content = content.value(inputs)
            messages = inputs.get("messages") if isinstance(inputs, Mapping) else None
            if isinstance(messages, (list, tuple)) and messages:
                run.input_messages = content.messages(list(messages))
            self._spans.write_input(run)
        self._dispatch.started(run)

    def _start_node(self, run_id: UUID, name: str, parent: Run | None, metadata: dict[str, Any]) -> None:
        run = Run(run_id, RunKind.NODE, name, parent, self._clock())
        run.node = name
        step = metadata.get("langgraph_step")
        run.step = step if isinstance(step, int) else None
        run.checkpoint_ns = metadata.get("langgraph_checkpoint_ns")
        root = run.root
        # A task's attempts run one after another, so its namespace is never counted twice
        # at once; parallel tasks have different namespaces.
        if run.checkpoint_ns and root.attempts is not None:
            attempt = root.attempts.get(run.checkpoint_ns, 0) + 1
            root.attempts[run.checkpoint_ns] = attempt
            run.attempt = attempt
        if run.attempt == 1:
            with self._lock:
                root.steps += 1
        run.triggers = metadata.get("langgraph_triggers")
        self._begin(run)
        self._dispatch.started(run)

    def _enter_graph(self, node: Run | None, graph_run: Run, metadata: dict[str, Any],
                     tags: list[str] | None) -> None:
        """A node of a graph nested in a node or tool: if the graph is a named sub-agent, the
        node and everything under it belong to that agent, and the span of the node (or tool)
        running the graph names it (no span of its own: that would be a duplicate level)."""
        if node is None:
            return
        if not graph_run.is_agent:
            name = sub_agent(graph_run, graph_run.parent, metadata, tags)
            if name is None:
                return
            graph_run.is_agent = True
            graph_run.agent = name
            host = graph_run.parent
            if host is not None and not host.is_agent:
                host.is_agent = True  # the first sub-agent a node runs names its span
                self._spans.sub_agent(host, name)
        node.agent = graph_run.agent

    def _sub_agent_ended(self, run: Run, error: BaseException | None) -> None:
        """A named sub-agent's graph run (plumbing, no span of its own) ended: the sinks
        record it with the ids of the node span that hosts it."""
        if not run.end_mono:
            run.end_mono = self._clock()
        run.outcome = sc.OUTCOME_ERROR if error is not None else sc.OUTCOME_OK
        run.error = error
        self._dispatch.inside(run, run.parent)

    def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: list[list[Any]], *,
                            run_id: UUID, parent_run_id: UUID | None = None,
                            tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                            **kwargs: Any) -> None:
        try:
            self._start_llm(sc.OP_CHAT, serialized, messages, run_id, parent_run_id, metadata, kwargs)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_chat_model_start", exc)

    def on_llm_start(self, serialized: dict[str, Any] | None, prompts: list[str], *, run_id: UUID,
                     parent_run_id: UUID | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            self._start_llm(sc.OP_TEXT_COMPLETION, serialized, prompts, run_id, parent_run_id, metadata, kwargs)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_llm_start", exc)

    def _start_llm(self, operation: str, serialized: dict[str, Any] | None, prompt: Any, run_id: UUID,
                   parent_run_id: UUID | None, metadata: dict[str, Any] | None,
                   kwargs: dict[str, Any]) -> None:
        params = kwargs.get("invocation_params")
        model = extract.request_model(params, metadata, serialized)
        name = kwargs.get("name") or serialized_name(serialized) or operation
        run = Run(run_id, RunKind.LLM, name, self._parent(parent_run_id), self._clock())
        run.operation = operation
        run.model = model
        run.provider = extract.provider(metadata, params)
        run.prompt = prompt
        run.temperature = extract.request_temperature(params, metadata)
        run.max_tokens = extract.request_max_tokens(params, metadata)
        self._begin(run)
        if self._content is not None and self._spans.recording(run):
            run.input_messages = self._content.messages(prompt)
            self._spans.write_input(run)

    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, tags: list[str] | None = None,
                      metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        try:
            name = kwargs.get("name") or serialized_name(serialized) or "tool"
            run = Run(run_id, RunKind.TOOL, name, self._parent(parent_run_id), self._clock())
            run.tool_call_id = kwargs.get("tool_call_id")
            run.description = serialized.get("description") if serialized else None
            self._begin(run)
            if self._content is not None and self._spans.recording(run):
                run.input_content = self._content.value(inputs if inputs is not None else input_str)
                self._spans.write_input(run)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_tool_start", exc)

    def on_retriever_start(self, serialized: dict[str, Any] | None, query: str, *, run_id: UUID,
                           parent_run_id: UUID | None = None, tags: list[str] | None = None,
                           metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            name = kwargs.get("name") or serialized_name(serialized) or "retriever"
            run = Run(run_id, RunKind.RETRIEVAL, name, self._parent(parent_run_id), self._clock())
            self._begin(run)
            if self._content is not None and self._spans.recording(run):
                run.input_content = self._content.value(query)
                self._spans.write_input(run)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_retriever_start", exc)

    # --- while running ---------------------------------------------------------------------
    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        # Called per streamed token, and only the first one matters: LangChain passes the
        # same run_id object for every token of a run, so later tokens stop at one identity
        # check, before the try.
        if run_id is self._first_token_seen:
            return
        try:
            run = self._runs.get(run_id)
            if run is not None and not run.first_chunk_mono:
                run.first_chunk_mono = self._clock()
                self._first_token_seen = run_id
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_llm_new_token", exc)

    # --- ending runs -------------------------------------------------------------------------
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            end = self._clock()  # before any work of ours: it is not the run's time
            run = self._runs.pop(run_id)
            if run is None:
                return
            run.end_mono = end
            if run.kind is RunKind.CHAIN:
                if run.is_agent:
                    self._sub_agent_ended(run, None)
                if run.router and run.parent is not None:
                    destinations = route_destinations(outputs)
                    if destinations:
                        self._spans.route(run.parent, run.name, destinations)
                return
            if self._content is not None and run.is_root and self._spans.recording(run):
                run.output_content = self._content.value(outputs)
            if run.kind is RunKind.AGENT and run.interrupted:
                self._finish(run, sc.OUTCOME_INTERRUPTED)
            else:
                self._finish(run, sc.OUTCOME_OK)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_chain_end", exc)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._fail(run_id, error)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_chain_error", exc)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            end = self._clock()  # before counting tokens or pricing: not the model's latency
            run = self._runs.pop(run_id)
            if run is None:
                return
            run.end_mono = end
            recording = self._spans.recording(run)
            apply_result(run, response, self._prices, recording)
            if recording and self._content is not None:
                run.output_content = self._content.output_messages(getattr(response, "generations", []))
            self._finish(run, sc.OUTCOME_OK)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_llm_end", exc)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._fail(run_id, error)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_llm_error", exc)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            end = self._clock()
            run = self._runs.pop(run_id)
            if run is None:
                return
            run.end_mono = end
            if self._content is not None and self._spans.recording(run):
                run.output_content = self._content.value(getattr(output, "content", output))
            if getattr(output, "status", None) == "error":
                # A tool that handles its own ToolException reports it as an error message.
                from langchain_core.tools import ToolException

                run.error = ToolException(str(getattr(output, "content", ""))[:500])
                self._finish(run, sc.OUTCOME_ERROR)
                return
            self._finish(run, sc.OUTCOME_OK)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_tool_end", exc)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._fail(run_id, error)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_tool_error", exc)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        try:
            end = self._clock()
            run = self._runs.pop(run_id)
            if run is None:
                return
            run.end_mono = end
            if self._content is not None and self._spans.recording(run):
                run.output_content = self._content.value([getattr(d, "page_content", d) for d in documents])
            self._finish(run, sc.OUTCOME_OK)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_retriever_end", exc)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._fail(run_id, error)
        except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
            self._handler_error("on_retriever_error", exc)

    # --- shared end path -----------------------------------------------------------------------
    def _fail(self, run_id: UUID, error: BaseException) -> None:
        end = self._clock()
        run = self._runs.pop(run_id)
        if run is None:
            return
        run.end_mono = end
        destinations = extract.handoff(error)
        if destinations is not None:
            # A handoff (Command.PARENT) is control flow: every run it passes through ends ok.
            if run.kind is RunKind.CHAIN:
                if run.is_agent:
                    self._sub_agent_ended(run, None)
            else:
                if destinations:
                    self._record_handoff(run, destinations)
                self._finish(run, sc.OUTCOME_OK)
            return
        if extract.is_bubble_up(error):
            outcome = sc.OUTCOME_INTERRUPTED
        elif extract.is_cancellation(error):
            outcome = sc.OUTCOME_CANCELLED
        else:
            outcome = sc.OUTCOME_ERROR
        if run.kind is RunKind.CHAIN:
            # Plumbing is not a span; its error reaches the spans around it through their
            # own error callbacks. An interrupt passing through still marks the run.
            if outcome == sc.OUTCOME_INTERRUPTED:
                run.root.interrupted = True
            if run.is_agent:
                self._sub_agent_ended(run, error if outcome != sc.OUTCOME_INTERRUPTED else None)
            return
        run.error = error
        if outcome == sc.OUTCOME_INTERRUPTED:
            run.root.interrupted = True
            if run.kind is RunKind.NODE:
                # Counted here, at the innermost node; the nodes it bubbles through are
                # marked on their spans but not counted again.
                ancestor = run.parent
                while ancestor is not None and not ancestor.interrupted:
                    ancestor.interrupted = True
                    ancestor = ancestor.parent
        self._finish(run, outcome)

    def _record_handoff(self, run: Run, destinations: list[str]) -> None:
        run.handoff = tuple(destinations)
        self._spans.handoff(run)  # the other sinks read run.handoff when the run ends

    def _finish(self, run: Run, outcome: str) -> None:
        """End ``run``'s span and record it. Its end time was taken when its end callback
        arrived (``end_mono``), before any of the observer's own work; runs ended for other
        reasons (abandoned, cancelled with their root) take the time now."""
        run.outcome = outcome
        if not run.end_mono:
            run.end_mono = self._clock()
        if run.parent is not None:
            self._dispatch.ended(run, _release)
            return
        try:
            self._end_open_descendants(run)  # each child alone; a failure still ends the root
            if outcome == sc.OUTCOME_INTERRUPTED and run.thread_id is not None:
                self._remember_interrupt(run)
        finally:
            self._dispatch.ended(run, _release)

    def _end_open_descendants(self, root: Run) -> None:
        children = [child for child in self._runs.open_descendants(root)
                    if self._runs.pop(child.run_id) is not None and child.kind is not RunKind.CHAIN]
        for child in children:
            child.end_mono = root.end_mono
        self._dispatch.end_all(children, lambda child: self._finish(child, sc.OUTCOME_CANCELLED))

    def _remember_interrupt(self, run: Run) -> None:
        interrupted = span_context(run)
        if interrupted is None:
            return
        with self._lock:
            threads = self._interrupted_threads
            threads[run.thread_id] = interrupted
            threads.move_to_end(run.thread_id)
            while len(threads) > _MAX_REMEMBERED_INTERRUPTS:
                threads.popitem(last=False)

    def _evict_abandoned(self) -> None:
        def evict(victim: tuple[Run, str]) -> None:
            root, why = victim
            if self._runs.pop(root.run_id) is None:
                return
            try:
                if self._health is not None:
                    self._health.abandoned(why)
            finally:
                self._finish(root, sc.OUTCOME_CANCELLED)

        self._dispatch.end_all(list(self._runs.evictable()), evict)  # type: ignore[arg-type]


def _release(run: Run) -> None:
    """Free an ended run at once (the dispatcher's clean-up, run in a ``finally``).

    The traceback's frames must not outlive the run, and the run's reference cycles are
    broken so reference counting frees it instead of the cyclic GC later (each surviving run
    would push the GC to run more often): the context copies LangChain keeps need the run,
    the run no longer needs its context, and an ended root need not be its own root.
    """
    run.error = None  # the span sink let go of the run's context when it ended the span
    if run.parent is None:
        run.root = None  # type: ignore[assignment]


#: Every callback AgentObserver implements: the ``callback`` label values of
#: ``agent_obs_handler_errors_total``, exported at 0 from construction.
CALLBACKS: tuple[str, ...] = tuple(sorted(name for name in vars(AgentObserver) if name.startswith("on_")))
