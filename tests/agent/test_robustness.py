"""The error policy: the observer never breaks the graph, stays consistent and bounded."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from span_helpers import by_name, parent_of
from graphs import ScriptedChatModel, build_tool_agent, tool_agent_script, user
from opentelemetry.trace import StatusCode

from agent_obs import AgentObserver


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_exception_inside_the_observer_never_reaches_the_graph(observer, registry, span_exporter):
    def explode(*args, **kwargs):
        raise RuntimeError("sink bug")

    observer._metrics.ended = explode  # noqa: SLF001 - simulate a bug in one sink
    observer._spans.add_event = explode  # noqa: SLF001
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    result = graph.invoke(user("hi"), config={"callbacks": [observer]})
    assert result["messages"][-1].content.startswith("It is sunny")
    assert registry.get_sample_value("agent_obs_handler_errors_total", {"callback": "on_chain_end"}) >= 3
    assert registry.get_sample_value("agent_obs_handler_errors_total", {"callback": "on_llm_end"}) == 2
    assert observer.open_runs == 0  # the run table stays consistent
    # spans are still ended: the span sink runs before the broken metrics sink
    assert len(by_name(list(span_exporter.get_finished_spans()), "node agent")) == 2


def test_every_callback_counts_its_own_exceptions(observer, registry):
    """Each callback catches inline (no wrapper): one missing ``try`` would reach the graph."""

    class BrokenRunTable:
        def __getattr__(self, name):
            raise RuntimeError("run table bug")

    observer._runs = BrokenRunTable()  # noqa: SLF001 - every callback touches the run table first
    callbacks = sorted(name for name in vars(AgentObserver) if name.startswith("on_"))
    assert len(callbacks) >= 14
    for name in callbacks:
        method = getattr(observer, name)
        positional = [p for p in inspect.signature(method).parameters.values()
                      if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        method(*[None] * len(positional), run_id=uuid.uuid4(), parent_run_id=uuid.uuid4())
        assert registry.get_sample_value("agent_obs_handler_errors_total", {"callback": name}) == 1, name


def test_exceptions_are_logged_rate_limited_through_stdlib_logging(tracer_provider, registry, caplog):
    class StartRecordFails:
        """A logger (the public ``logger=``) that fails on the run's start record."""

        def info(self, *args, **kwargs):
            raise RuntimeError("sink bug")

        def log(self, *args, **kwargs):
            pass

    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry, logger=StartRecordFails())
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    with caplog.at_level("WARNING", logger="agent_obs"):
        for _ in range(5):
            graph.invoke(user("hi"), config={"callbacks": [observer]})
    lines = [r for r in caplog.records if r.name == "agent_obs" and "on_chain_start" in r.getMessage()]
    assert len(lines) == 1


def test_end_and_error_events_for_unknown_runs_are_noops(observer, registry):
    unknown = uuid.uuid4()
    observer.on_chain_end({}, run_id=unknown)
    observer.on_chain_error(ValueError("x"), run_id=unknown)
    observer.on_llm_end(None, run_id=unknown)
    observer.on_llm_error(ValueError("x"), run_id=unknown)
    observer.on_tool_end("x", run_id=unknown)
    observer.on_tool_error(ValueError("x"), run_id=unknown)
    observer.on_retriever_end([], run_id=unknown)
    observer.on_llm_new_token("t", run_id=unknown)
    assert observer.open_runs == 0
    assert registry.get_sample_value("agent_obs_handler_errors_total", {"callback": "on_chain_end"}) == 0.0


def test_bad_callback_arguments_never_raise(observer, registry):
    def odd_calls() -> None:
        root = uuid.uuid4()
        observer.on_chain_start(None, None, run_id=root, metadata={"langgraph_node": 3})
        observer.on_chat_model_start({"kwargs": "not a dict"}, [[object()]], run_id=uuid.uuid4(),
                                     parent_run_id=root, invocation_params={"model": 42})
        observer.on_tool_start(None, None, run_id=uuid.uuid4(), parent_run_id=root)
        observer.on_chain_end(None, run_id=root)

    contextvars.copy_context().run(odd_calls)  # never-ended runs stay out of the test's context
    assert observer.open_runs == 0


def test_runs_past_the_ttl_are_force_ended_and_counted(tracer_provider, registry, span_exporter):
    clock = FakeClock()
    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry, clock=clock,
                             run_ttl_seconds=60)
    abandoned = uuid.uuid4()

    def abandon_then_run_more() -> None:
        observer.on_chain_start({}, {}, run_id=abandoned, name="forgotten")
        observer.on_chain_start({}, {}, run_id=uuid.uuid4(), parent_run_id=abandoned, name="n",
                                metadata={"langgraph_node": "n", "langgraph_checkpoint_ns": "n:1"})
        assert registry.get_sample_value("agent_obs_active_runs", {"agent": "forgotten"}) == 1.0
        clock.now += 61
        for _ in range(300):  # sweeps run every few hundred root starts
            run_id = uuid.uuid4()
            observer.on_chain_start({}, {}, run_id=run_id, name="fresh")
            observer.on_chain_end({}, run_id=run_id)

    contextvars.copy_context().run(abandon_then_run_more)
    assert registry.get_sample_value("agent_obs_abandoned_runs_total", {"kind": "ttl"}) == 1.0
    assert registry.get_sample_value("agent_obs_active_runs", {"agent": "forgotten"}) == 0.0
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "forgotten", "status": "cancelled"}) == 1.0
    spans = list(span_exporter.get_finished_spans())
    forgotten = by_name(spans, "invoke_agent forgotten")[0]
    assert forgotten.attributes["agent_obs.outcome"] == "cancelled"
    assert parent_of(spans, by_name(spans, "node n")[0]) is forgotten
    assert observer.open_runs == 0


def test_memory_stays_flat_over_100k_abandoned_runs(registry):
    import sys

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    # Unsampled spans keep the test fast; the run table and metrics work the same.
    observer = AgentObserver(tracer_provider=TracerProvider(sampler=ALWAYS_OFF), registry=registry,
                             max_open_runs=1000)

    def abandon(count: int) -> None:
        for _ in range(count):
            root = uuid.uuid4()
            observer.on_chain_start({}, {}, run_id=root, name="leaky")
            observer.on_tool_start({"name": "t"}, "x", run_id=uuid.uuid4(), parent_run_id=root)

    # Callbacks set the current context of whoever calls them, as LangChain would; a copy
    # keeps these never-ended runs out of the test's own context.
    context = contextvars.copy_context()
    context.run(abandon, 50_000)
    gc.collect()
    blocks_at_half = sys.getallocatedblocks()
    context.run(abandon, 50_000)
    gc.collect()
    growth = sys.getallocatedblocks() - blocks_at_half
    assert growth < 20_000, f"{growth} allocator blocks retained by 50,000 more abandoned runs"
    assert observer.open_runs <= 1000 + 2 * 256
    abandoned = registry.get_sample_value("agent_obs_abandoned_runs_total", {"kind": "cap"})
    assert abandoned >= 100_000 - 1000 - 256
    assert registry.get_sample_value("agent_obs_active_runs", {"agent": "leaky"}) <= 1000 + 256


def test_completed_runs_leave_nothing_behind(registry):
    from opentelemetry.sdk.trace import TracerProvider

    observer = AgentObserver(tracer_provider=TracerProvider(), registry=registry)  # no exporter
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    graph.invoke(user("warm up"), config={"callbacks": [observer]})
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(200):
        graph.invoke(user("hi"), config={"callbacks": [observer]})
    gc.collect()
    growth = len(gc.get_objects()) - before
    assert observer.open_runs == 0
    assert observer._runs.all_roots() == []  # noqa: SLF001
    assert growth < 2000, f"{growth} objects retained after 200 runs"


def test_huge_and_strange_inputs_never_crash_or_bloat_spans(content_observer, span_exporter):
    from langchain_core.tools import tool

    @tool
    def echo(payload: str) -> bytes:
        """Echo as bytes."""
        return payload.encode()[:10] + b"\x00\xff"

    from graphs import tool_call
    from langchain_core.messages import AIMessage

    huge = "x" * 5_000_000
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[tool_call("echo", {"payload": huge}, "c1")]),
        AIMessage(content="done"),
    ])
    graph = build_tool_agent(model, tools=[echo], name="huge")
    graph.invoke({"messages": [("user", huge)], "extra": object()}, config={"callbacks": [content_observer]})
    spans = list(span_exporter.get_finished_spans())
    for span in spans:
        for key, value in span.attributes.items():
            if isinstance(value, str):
                assert len(value) <= 20_000, (span.name, key, len(value))
    tool_span = by_name(spans, "execute_tool echo")[0]
    assert tool_span.attributes["gen_ai.tool.call.arguments.original_length"] > 5_000_000
    assert tool_span.status.status_code is StatusCode.UNSET


def test_concurrent_threads_do_not_cross_talk(observer, span_exporter, registry):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))

    def run(i: int) -> None:
        graph.invoke(user(f"user {i}"), config={"callbacks": [observer],
                                                  "configurable": {"thread_id": f"t{i}"}})

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(run, range(20)))
    _assert_twenty_clean_traces(span_exporter)
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "weather_agent", "status": "ok"}) == 20
    assert registry.get_sample_value("agent_obs_active_runs", {"agent": "weather_agent"}) == 0
    assert observer.open_runs == 0


async def test_concurrent_asyncio_tasks_do_not_cross_talk(observer, span_exporter, registry):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    await asyncio.gather(*(
        graph.ainvoke(user(f"user {i}"), config={"callbacks": [observer], "configurable": {"thread_id": f"t{i}"}})
        for i in range(20)
    ))
    _assert_twenty_clean_traces(span_exporter)
    assert registry.get_sample_value("agent_obs_active_runs", {"agent": "weather_agent"}) == 0
    assert observer.open_runs == 0


def _assert_twenty_clean_traces(span_exporter) -> None:
    spans = list(span_exporter.get_finished_spans())
    roots = by_name(spans, "invoke_agent weather_agent")
    assert len(roots) == 20
    assert len({r.context.trace_id for r in roots}) == 20
    for root in roots:
        members = [s for s in spans if s.context.trace_id == root.context.trace_id]
        names = sorted(s.name for s in members)
        assert names == sorted(["invoke_agent weather_agent", "node agent", "node agent", "node tools",
                                "chat gpt-4o-mini", "chat gpt-4o-mini", "execute_tool get_weather",
                                "execute_tool lookup_price"])
        conversation = root.attributes["gen_ai.conversation.id"]
        for span in members:
            if span is not root:
                assert parent_of(members, span) is not None, span.name
        assert conversation.startswith("t")


def test_observer_is_not_raise_error_and_runs_inline():
    assert AgentObserver.raise_error is False
    assert AgentObserver.run_inline is True


def test_invalid_constructor_arguments_raise_clear_errors(registry):
    with pytest.raises(ValueError, match="max_content_length"):
        AgentObserver(registry=registry, max_content_length=0)
    with pytest.raises(ValueError, match="label_limit"):
        AgentObserver(registry=registry, label_limit=0)
    with pytest.raises(ValueError, match="max_runs"):
        AgentObserver(registry=registry, max_open_runs=0)


def test_bad_capture_env_value_warns_once_and_stays_off(monkeypatch, registry, recwarn):
    # One channel for every bad environment value, agent_obs's and service_obs's alike
    # (agent_obs.env.warn_once): a RuntimeWarning, once per variable and value.
    monkeypatch.setenv("AGENT_OBS_CAPTURE_CONTENT", "perhaps-not-a-bool")
    observers = [AgentObserver(registry=registry) for _ in range(3)]
    assert all(o.capture_content is False for o in observers)
    warned = [w for w in recwarn if "AGENT_OBS_CAPTURE_CONTENT" in str(w.message)]
    assert len(warned) == 1 and warned[0].category is RuntimeWarning


def test_capture_env_on(monkeypatch, registry):
    monkeypatch.setenv("AGENT_OBS_CAPTURE_CONTENT", "true")
    assert AgentObserver(registry=registry).capture_content is True
    assert AgentObserver(registry=registry, capture_content=False).capture_content is False


def test_several_observers_share_one_registry(tracer_provider, registry):
    first = AgentObserver(tracer_provider=tracer_provider, registry=registry)
    second = AgentObserver(tracer_provider=tracer_provider, registry=registry)
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    graph.invoke(user("a"), config={"callbacks": [first]})
    graph.invoke(user("b"), config={"callbacks": [second]})
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "weather_agent", "status": "ok"}) == 2


def test_many_threads_first_use_of_one_registry(registry):
    errors: list[BaseException] = []

    def make() -> None:
        try:
            AgentObserver(registry=registry)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_eviction_while_other_threads_start_and_end_runs(registry):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    observer = AgentObserver(tracer_provider=TracerProvider(sampler=ALWAYS_OFF), registry=registry,
                             max_open_runs=50)

    def churn(abandon: bool) -> None:
        for _ in range(3000):
            root = uuid.uuid4()
            observer.on_chain_start({}, {}, run_id=root, name="churn")
            if not abandon:
                observer.on_chain_end({}, run_id=root)

    threads = [threading.Thread(target=lambda a=i % 2 == 0: contextvars.copy_context().run(churn, a))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = sum(s.value for m in registry.collect() if m.name == "agent_obs_handler_errors" for s in m.samples
                 if s.name.endswith("_total"))
    assert errors == 0
    assert observer.open_runs <= 50 + 256 * 8


def test_unsampled_runs_skip_span_work_but_keep_metrics_logs_and_isolation(registry, log_records):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = AgentObserver(tracer_provider=provider, registry=registry)
    tracer = provider.get_tracer("inside")
    seen_inside: list = []

    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Weather."""
        with tracer.start_as_current_span("http GET weather") as span:
            seen_inside.append(span.get_span_context())
        return "sunny"

    from graphs import lookup_price

    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()), tools=[get_weather, lookup_price])
    graph.invoke(user("hi"), config={"callbacks": [observer]})
    assert exporter.get_finished_spans() == ()
    assert not trace.get_current_span().get_span_context().is_valid
    start = next(r for r in log_records if r["extra"].get("event") == "agent.run.start")
    # the body's span belongs to the run's (unsampled) trace, not to some other one
    assert format(seen_inside[0].trace_id, "032x") == start["extra"]["trace_id"]
    assert not seen_inside[0].trace_flags.sampled
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "weather_agent", "status": "ok"}) == 1
    assert registry.get_sample_value("gen_ai_execute_tool_duration_seconds_count", {
        "gen_ai_agent_name": "weather_agent", "gen_ai_tool_name": "get_weather", "error_type": ""}) == 1
    ends = [r for r in log_records if r["extra"].get("event") == "agent.tool.end"]
    assert {r["extra"]["trace_id"] for r in ends} == {start["extra"]["trace_id"]}
    assert observer.open_runs == 0
