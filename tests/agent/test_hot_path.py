"""The hot path's shortcuts change nothing a user can see.

Attributes written straight into SDK spans must export exactly as ``set_attributes`` would
store them, samplers that read attributes must still see them at start, and finished runs
must be freed by reference counting (no cycles left for the cyclic GC).
"""

from __future__ import annotations

import gc
from typing import Any

from graphs import ScriptedChatModel, build_tool_agent, tool_agent_script, user
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from prometheus_client import CollectorRegistry

from agent_obs import AgentObserver
from agent_obs.runs import Run
from agent_obs.spans import RunContext, SpanSink


class DropToolByAttribute(Sampler):
    """Reads a start attribute: drops the spans of one tool, records everything else."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.seen: list[dict[str, Any]] = []

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                      trace_state=None) -> SamplingResult:
        self.seen.append(dict(attributes or {}))
        if (attributes or {}).get("gen_ai.tool.name") == self.tool:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "DropToolByAttribute"


def run_agent(provider: TracerProvider) -> list[Any]:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = AgentObserver(tracer_provider=provider, registry=CollectorRegistry())
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    graph.invoke(user("weather?"), config={"callbacks": [observer], "metadata": {"thread_id": "t-1"}})
    return exporter.get_finished_spans()


def attributes_by_span(spans: list[Any]) -> list[str]:
    """Each span's name and attributes (with their Python types), in a stable order."""
    volatile = {"langgraph.checkpoint_ns"}  # holds LangGraph's per-run task ids
    return sorted(repr((s.name, sorted((k, type(v).__name__, v) for k, v in s.attributes.items()
                                       if k not in volatile))) for s in spans)


def test_direct_attribute_writes_export_exactly_like_set_attributes():
    fast = TracerProvider()
    # A value-length limit makes every write go through the SDK's own validation.
    slow = TracerProvider(span_limits=SpanLimits(max_attribute_length=100_000))
    assert SpanSink(fast)._attributes_after_start  # noqa: SLF001
    fast_spans, slow_spans = run_agent(fast), run_agent(slow)
    assert attributes_by_span(fast_spans) == attributes_by_span(slow_spans)
    node = next(s for s in fast_spans if s.name == "node agent")
    assert isinstance(node.attributes["langgraph.triggers"], tuple)  # stored as the SDK would
    chat = next(s for s in fast_spans if s.name.startswith("chat "))
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)


def test_a_sampler_that_reads_attributes_still_sees_them_at_start():
    sampler = DropToolByAttribute("lookup_price")
    provider = TracerProvider(sampler=sampler)
    assert not SpanSink(provider)._attributes_after_start  # noqa: SLF001
    names = {s.name for s in run_agent(provider)}
    assert "execute_tool get_weather" in names
    assert "execute_tool lookup_price" not in names
    assert any(a.get("gen_ai.tool.name") == "get_weather" for a in sampler.seen)


def live(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_finished_runs_are_freed_without_the_cyclic_gc():
    provider = TracerProvider()
    observer = AgentObserver(tracer_provider=provider, registry=CollectorRegistry())
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    graph.invoke(user("warm up"), config={"callbacks": [observer]})
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            graph.invoke(user("hi"), config={"callbacks": [observer]})
        runs, contexts = live(Run), live(RunContext)
    finally:
        gc.enable()
    # Each invoke makes ~10 runs; a reference cycle would keep every one of them.
    assert runs == 0, f"{runs} finished runs are waiting for the cyclic GC"
    assert contexts == 0, f"{contexts} run contexts are waiting for the cyclic GC"


def _histogram_samples(registry: CollectorRegistry) -> list[tuple[str, dict, float, Any]]:
    samples = []
    for metric in registry.collect():
        for s in metric.samples:
            if s.name.endswith("_created"):
                continue
            exemplar = (s.exemplar.labels, s.exemplar.value) if s.exemplar else None
            samples.append((s.name, s.labels, s.value, exemplar))
    return samples


def test_exemplar_shortcut_stores_exactly_what_histogram_observe_stores():
    from prometheus_client import Histogram

    from agent_obs.shortcuts import _observe_direct as observe

    values = [0.0, 0.005, 0.0051, 0.3, 1.0, 2.5, 7, 10_000, float("inf"), float("nan"), 12]
    exemplars = [{"trace_id": f"{i:032x}", "span_id": f"{i:016x}"} for i in range(len(values))]
    exemplars[3] = None  # not inside a sampled span
    exemplars[6] = {"trace_id": "a" * 32, "span_id": "b" * 16, "extra": "x"}  # any other shape
    public, shortcut = CollectorRegistry(), CollectorRegistry()
    for registry, record in ((public, lambda c, v, e: c.observe(v, e)), (shortcut, observe)):
        child = Histogram("h_seconds", "doc", ["op"], registry=registry,
                          buckets=(0.005, 0.1, 1.0, 2.5, 10.0)).labels("chat")
        for value, exemplar in zip(values, exemplars):
            record(child, value, exemplar)
    expected = _histogram_samples(public)
    assert repr(_histogram_samples(shortcut)) == repr(expected)  # repr: the NaN sum equals itself
    assert sum(1 for *_, exemplar in expected if exemplar) >= 4  # the test compares exemplars
