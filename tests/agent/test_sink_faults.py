"""A sink that raises leaves the others whole (agent_obs/dispatch.py).

For each sink (spans, metrics, logs), a fault is injected once, at the end of one kind of run
(or at the root's start), in four ways a run can go: a plain invoke, a stream broken off
early, a cancelled task, and a root that ends while its children are still open. Afterwards
every span that started has ended, no run is left open, ``agent_obs_active_runs`` is 0, the
other sinks' output is exactly what a run without the fault gives, and the fault is counted
once in ``agent_obs_handler_errors_total``.

The span sink's fault comes through a public parameter (a tracer provider whose span
processor raises), the log sink's through one too (a logger that raises); the metrics sink's
is a family of the observer's registry made to raise (prometheus_client has no public hook).
"""

from __future__ import annotations

import asyncio
import operator
from collections import Counter
from typing import Annotated, Any, Callable, TypedDict
from uuid import uuid4

import pytest
from graphs import ScriptedChatModel, build_tool_agent, tool_agent_script, user
from langgraph.graph import START, StateGraph
from langgraph.types import Command
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from agent_obs import AgentObserver


class Fault(RuntimeError):
    pass


class State(TypedDict):
    log: Annotated[list[str], operator.add]


class Recorder(SpanProcessor):
    """Counts span starts and ends (first in the chain, so it sees every end)."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started += 1

    def on_end(self, span: Any) -> None:
        self.ended += 1


class RaiseOnce:
    """Raises ``Fault`` the first time ``hit(name)`` is asked about a name starting with ``target``."""

    def __init__(self, target: str | None) -> None:
        self.target = target
        self.raised = 0

    def hit(self, name: str) -> None:
        if self.target is not None and not self.raised and name.startswith(self.target):
            self.raised += 1
            raise Fault(f"injected at {name}")


class FaultyProcessor(SpanProcessor):
    def __init__(self, fault: RaiseOnce) -> None:
        self.fault = fault

    def on_end(self, span: Any) -> None:
        self.fault.hit(span.name)


class FaultyLogger:
    """A logger (the observer's ``logger=``) that keeps records and raises once for one event."""

    def __init__(self, fault: RaiseOnce) -> None:
        self.fault = fault
        self.events: list[str] = []

    def _emit(self, **fields: Any) -> None:
        self.fault.hit(fields["event"])
        self.events.append(fields["event"])

    def info(self, message: str, **fields: Any) -> None:
        self._emit(**fields)

    def log(self, level: str, message: str, **fields: Any) -> None:
        self._emit(**fields)


class FaultyFamily:
    """Stands in for one of the metrics sink's label-child caches; raises once."""

    def __init__(self, real: Any, fault: RaiseOnce, name: str) -> None:
        self.real, self.fault, self.name = real, fault, name

    def __call__(self, *labels: str) -> Any:
        self.fault.hit(self.name)
        return self.real(*labels)


class Rig:
    def __init__(self, sink: str | None, target: str | None) -> None:
        self.fault = RaiseOnce(target)
        self.recorder = Recorder()
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.recorder)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        if sink == "spans":
            self.provider.add_span_processor(FaultyProcessor(self.fault))
        self.registry = CollectorRegistry()
        self.logger = FaultyLogger(RaiseOnce(None) if sink != "logs" else self.fault)
        self.observer = AgentObserver(tracer_provider=self.provider, registry=self.registry, logger=self.logger,
                                      label_limit=499 if sink == "metrics" else 500)  # its own AgentMetrics
        if sink == "metrics":
            m = self.observer._metrics.m  # noqa: SLF001 - no public hook makes a family raise
            for family in ("operation_duration", "tool_duration", "node_duration", "agent_duration", "active_runs",
                           "handoffs"):
                setattr(m, family, FaultyFamily(getattr(m, family), self.fault, family))

    def handler_errors(self) -> float:
        return sum(s.value for f in self.registry.collect() if f.name == "agent_obs_handler_errors"
                   for s in f.samples if s.name.endswith("_total"))

    def runs(self) -> dict[tuple[str, str], float]:
        return {(s.labels["agent"], s.labels["status"]): s.value for f in self.registry.collect()
                if f.name == "agent_obs_runs" for s in f.samples if s.name.endswith("_total")}

    def active(self) -> float:
        return sum(s.value for f in self.registry.collect() if f.name == "agent_obs_active_runs" for s in f.samples)

    def span_names(self) -> Counter[str]:
        return Counter(s.name for s in self.exporter.get_finished_spans())


# --- the four ways a run goes ---------------------------------------------------------------
def invoke(observer: AgentObserver) -> None:
    build_tool_agent(ScriptedChatModel(responses=tool_agent_script())).invoke(
        user("weather?"), config={"callbacks": [observer]})


def _two_steps(name: str) -> Any:
    graph = StateGraph(State)
    graph.add_node("one", lambda state: {"log": ["one"]})
    graph.add_node("two", lambda state: {"log": ["two"]})
    graph.add_edge(START, "one")
    graph.add_edge("one", "two")
    return graph.compile(name=name)


def stream_broken_off(observer: AgentObserver) -> None:
    stream = _two_steps("streamer").stream({"log": []}, config={"callbacks": [observer]}, stream_mode="updates")
    next(stream)
    stream.close()


def cancelled(observer: AgentObserver) -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def slow(state: State) -> dict:
            started.set()
            await asyncio.Event().wait()
            return {"log": ["never"]}

        graph = StateGraph(State)
        graph.add_node("slow", slow)
        graph.add_edge(START, "slow")
        task = asyncio.create_task(graph.compile(name="slowpoke").ainvoke(
            {"log": []}, config={"callbacks": [observer]}))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def root_ends_first(observer: AgentObserver) -> None:
    """The callbacks of a root that ends while a node, a chat and a tool under it are open."""
    root, node, chat, tool = uuid4(), uuid4(), uuid4(), uuid4()
    meta = {"langgraph_node": "work", "langgraph_step": 1, "langgraph_checkpoint_ns": "work:1"}
    observer.on_chain_start({}, {"log": []}, run_id=root, name="orphaner")
    observer.on_chain_start({}, {}, run_id=node, parent_run_id=root, name="work", metadata=meta,
                            tags=["graph:step:1"])
    observer.on_chat_model_start({}, [[]], run_id=chat, parent_run_id=node, name="FakeChat",
                                 invocation_params={"model": "m-1"})
    observer.on_tool_start({}, "x", run_id=tool, parent_run_id=node, name="probe")
    observer.on_chain_end({"log": []}, run_id=root)


def handoff_from_sub_agent(observer: AgentObserver) -> None:
    """A named sub-agent whose node hands control back to its parent (Command.PARENT): the
    sub-agent's end and the handoff reach the sinks through the dispatcher too."""
    worker = StateGraph(State)
    worker.add_node("decide", lambda state: Command(graph=Command.PARENT, goto="finish", update={"log": ["handoff"]}))
    worker.add_edge(START, "decide")
    parent = StateGraph(State)
    parent.add_node("worker", worker.compile(name="worker_agent"))
    parent.add_node("finish", lambda state: {"log": ["done"]})
    parent.add_edge(START, "worker")
    parent.compile(name="supervisor").invoke({"log": []}, config={"callbacks": [observer]})


SCENARIOS: dict[str, Callable[[AgentObserver], None]] = {
    "invoke": invoke, "stream broken off": stream_broken_off, "cancelled": cancelled,
    "root ends first": root_ends_first, "handoff from a sub-agent": handoff_from_sub_agent,
}
# where each sink's fault is injected: the end of a tool, an LLM call, a node, the root; the root's start
TARGETS = {
    "spans": ["execute_tool", "chat", "node", "invoke_agent"],
    "logs": ["agent.tool.end", "agent.llm.end", "agent.node.end", "agent.run.end", "agent.run.start"],
    "metrics": ["tool_duration", "operation_duration", "node_duration", "agent_duration", "active_runs",
                "handoffs"],
}
CASES = [(sink, target, scenario) for sink, targets in TARGETS.items() for target in targets for scenario in SCENARIOS]


@pytest.mark.parametrize(("sink", "target", "scenario"), CASES)
def test_a_faulty_sink_leaves_every_span_ended_and_the_other_sinks_whole(sink: str, target: str,
                                                                         scenario: str) -> None:
    clean = Rig(None, None)
    SCENARIOS[scenario](clean.observer)
    faulty = Rig(sink, target)
    SCENARIOS[scenario](faulty.observer)

    assert faulty.recorder.started == faulty.recorder.ended > 0, "a span was left open"
    assert faulty.observer.open_runs == 0
    assert faulty.active() == 0
    assert faulty.handler_errors() == faulty.fault.raised, "the fault is counted exactly once"
    assert clean.handler_errors() == 0
    if sink != "spans":
        assert faulty.span_names() == clean.span_names()
    if sink != "logs":
        assert Counter(faulty.logger.events) == Counter(clean.logger.events)
    if sink != "metrics":
        assert faulty.runs() == clean.runs()


def test_every_target_is_reached_somewhere() -> None:
    """Each injected fault fires in at least one scenario (else its cases prove nothing)."""
    for sink, targets in TARGETS.items():
        for target in targets:
            fired = []
            for run in SCENARIOS.values():
                rig = Rig(sink, target)
                run(rig.observer)
                fired.append(rig.fault.raised)
            assert any(fired), (sink, target)
