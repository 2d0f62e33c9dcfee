"""Metrics and log records from the same callbacks as the spans: exact values and fields."""

from __future__ import annotations

import operator
import re
from typing import Annotated, TypedDict

import pytest
from span_helpers import by_name, one
from graphs import ScriptedChatModel, broken_tool, build_tool_agent, tool_agent_script, tool_call, user
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, RetryPolicy, interrupt
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.utils import floatToGoString

from agent_obs import AgentObserver
from agent_obs import semconv as sc

LLM = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o-mini"}


def run_agent(observer, **config):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    return graph.invoke(user("hi"), config={"callbacks": [observer], **config})


def test_every_contract_metric_is_registered_with_its_labels(observer, registry):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    list(graph.stream(user("hi"), config={"callbacks": [observer]}, stream_mode="messages"))
    families = {m.name: m for m in registry.collect()}
    for name, (kind, labels, _) in sc.METRICS.items():
        family_name = name[: -len("_total")] if kind == "counter" else name
        assert family_name in families, name
        assert families[family_name].type == kind, name
    for name, buckets in sc.METRIC_BUCKETS.items():
        bounds = {s.labels["le"] for s in families[name].samples if s.name == name + "_bucket"}
        assert bounds == {floatToGoString(b) for b in buckets} | {"+Inf"}, name
    assert sc.BUCKETS_OPERATION_DURATION[0] == 0.01 and sc.BUCKETS_OPERATION_DURATION[-1] == 81.92
    assert sc.BUCKETS_TOKEN_USAGE[0] == 1 and sc.BUCKETS_TOKEN_USAGE[-1] == 67108864
    assert sc.BUCKETS_AGENT_DURATION[0] == 0.1 and sc.BUCKETS_AGENT_DURATION[-1] == 409.6


def test_metric_values_for_one_tool_agent_run(observer, registry, span_exporter):
    run_agent(observer)
    get = registry.get_sample_value
    assert get("agent_obs_runs_total", {"agent": "weather_agent", "status": "ok"}) == 1
    assert get("agent_obs_active_runs", {"agent": "weather_agent"}) == 0
    assert get("agent_obs_run_steps_sum", {"agent": "weather_agent"}) == 3
    assert get("gen_ai_invoke_agent_duration_seconds_count", {"gen_ai_agent_name": "weather_agent",
                                                              "error_type": ""}) == 1
    assert get("gen_ai_client_operation_duration_seconds_count", {**LLM, "error_type": ""}) == 2
    assert get("gen_ai_client_token_usage_sum", {**LLM, "gen_ai_token_type": "input"}) == 40
    assert get("gen_ai_client_token_usage_sum", {**LLM, "gen_ai_token_type": "output"}) == 20
    assert get("gen_ai_client_operation_time_to_first_chunk_seconds_count", LLM) is None  # not streamed
    for tool in ("get_weather", "lookup_price"):
        assert get("gen_ai_execute_tool_duration_seconds_count",
                   {"gen_ai_agent_name": "weather_agent", "gen_ai_tool_name": tool, "error_type": ""}) == 1
    assert get("agent_obs_node_duration_seconds_count", {"agent": "weather_agent", "node": "agent",
                                                         "status": "ok"}) == 2
    cost = get("agent_obs_llm_cost_usd_total", {"agent": "weather_agent", "gen_ai_request_model": "gpt-4o-mini"})
    assert cost == pytest.approx(2 * (20 * 0.15 + 10 * 0.60) / 1e6)
    # durations are the runs' own: the agent histogram sum equals the root span's duration
    root = one(list(span_exporter.get_finished_spans()), "invoke_agent weather_agent")
    span_seconds = (root.end_time - root.start_time) / 1e9
    metric_seconds = get("gen_ai_invoke_agent_duration_seconds_sum",
                         {"gen_ai_agent_name": "weather_agent", "error_type": ""})
    assert metric_seconds == pytest.approx(span_seconds, abs=0.005)


def test_streamed_calls_observe_time_to_first_chunk(observer, registry):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    list(graph.stream(user("hi"), config={"callbacks": [observer]}, stream_mode="messages"))
    assert registry.get_sample_value("gen_ai_client_operation_time_to_first_chunk_seconds_count", LLM) == 2


def test_tool_errors_and_llm_errors_are_labelled(observer, registry):
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[tool_call("broken_tool", {"x": "a"}, "c1")]),
        AIMessage(content="done"),
    ])
    build_tool_agent(model, tools=[broken_tool]).invoke(user("go"), config={"callbacks": [observer]})
    assert registry.get_sample_value("gen_ai_execute_tool_duration_seconds_count", {
        "gen_ai_agent_name": "weather_agent", "gen_ai_tool_name": "broken_tool", "error_type": "ValueError"}) == 1


def test_several_observers_one_registry_no_duplicate_registration():
    registry = CollectorRegistry()
    observers = [AgentObserver(registry=registry) for _ in range(3)]
    for observer in observers:
        run_agent(observer)
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "weather_agent", "status": "ok"}) == 3


def test_shared_families_can_be_created_by_other_components_first(registry):
    from agent_obs.metrics import get_or_create

    dropped = get_or_create(registry, sc.METRIC_DROPPED, "counter", "made elsewhere", ("signal", "reason"))
    dropped.labels("logs", "queue_full").inc()
    observer = AgentObserver(registry=registry)
    run_agent(observer)
    assert registry.get_sample_value("agent_obs_dropped_total", {"signal": "logs", "reason": "queue_full"}) == 1


def test_exemplars_carry_the_span_ids_in_openmetrics(observer, registry, span_exporter):
    run_agent(observer)
    text = generate_openmetrics(registry).decode()
    root = one(list(span_exporter.get_finished_spans()), "invoke_agent weather_agent")
    trace_id = format(root.context.trace_id, "032x")
    span_id = format(root.context.span_id, "016x")
    agent_lines = [line for line in text.splitlines()
                   if line.startswith("gen_ai_invoke_agent_duration_seconds_bucket") and "#" in line]
    assert len(agent_lines) == 1
    assert f'trace_id="{trace_id}"' in agent_lines[0] and f'span_id="{span_id}"' in agent_lines[0]
    chats = by_name(list(span_exporter.get_finished_spans()), "chat gpt-4o-mini")
    chat_span_ids = {format(c.context.span_id, "016x") for c in chats}
    exemplar_span_ids = set(re.findall(r'gen_ai_client_operation_duration_seconds_bucket\{[^}]*\} \d+\.\d+ # \{'
                                       r'span_id="([0-9a-f]{16})"', text))
    assert exemplar_span_ids and exemplar_span_ids <= chat_span_ids
    assert "# {" not in generate_latest(registry).decode()  # the text format has no exemplars


def test_unsampled_runs_have_no_exemplars_but_metrics_are_complete(registry):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    observer = AgentObserver(tracer_provider=TracerProvider(sampler=ALWAYS_OFF), registry=registry)
    run_agent(observer)
    assert "trace_id" not in generate_openmetrics(registry).decode()
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "weather_agent", "status": "ok"}) == 1


def test_label_cardinality_cap(tracer_provider, registry):
    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry, label_limit=3)
    for i in range(6):
        model = ScriptedChatModel(responses=[AIMessage(content="ok")], model=f"model-{i}")
        build_tool_agent(model, name=f"agent-{i}").invoke(user("hi"), config={"callbacks": [observer]})
    agents = {s.labels["agent"] for m in registry.collect() if m.name == "agent_obs_runs"
              for s in m.samples if s.name == "agent_obs_runs_total"}
    assert agents == {"agent-0", "agent-1", "agent-2", "_other"}
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "_other", "status": "ok"}) == 3
    models = {s.labels["gen_ai_request_model"] for m in registry.collect()
              if m.name == "gen_ai_client_operation_duration_seconds" for s in m.samples}
    assert models == {"model-0", "model-1", "model-2", "_other"}


class State(TypedDict):
    log: Annotated[list, operator.add]


def test_retries_interrupts_and_steps_are_counted(observer, registry):
    attempts = {"n": 0}

    def flaky(state: State) -> dict:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise TimeoutError("slow upstream")
        return {"log": ["fetched"]}

    def approve(state: State) -> dict:
        return {"log": [interrupt("ok?")]}

    graph = StateGraph(State)
    graph.add_node("fetch", flaky, retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.001,
                                                            jitter=False, retry_on=TimeoutError))
    graph.add_node("approve", approve)
    graph.add_edge(START, "fetch")
    graph.add_edge("fetch", "approve")
    app = graph.compile(name="flow", checkpointer=InMemorySaver())
    config = {"callbacks": [observer], "configurable": {"thread_id": "1"}}
    app.invoke({"log": []}, config=config)
    get = registry.get_sample_value
    assert get("agent_obs_node_retries_total", {"agent": "flow", "node": "fetch"}) == 1
    assert get("agent_obs_interrupts_total", {"agent": "flow", "node": "approve"}) == 1
    assert get("agent_obs_node_duration_seconds_count", {"agent": "flow", "node": "fetch", "status": "error"}) == 1
    assert get("agent_obs_node_duration_seconds_count", {"agent": "flow", "node": "approve",
                                                         "status": "interrupted"}) == 1
    assert get("agent_obs_runs_total", {"agent": "flow", "status": "interrupted"}) == 1
    assert get("agent_obs_run_steps_sum", {"agent": "flow"}) == 2
    assert get("agent_obs_active_runs", {"agent": "flow"}) == 0
    app.invoke(Command(resume="yes"), config=config)
    assert get("agent_obs_runs_total", {"agent": "flow", "status": "ok"}) == 1
    assert get("agent_obs_active_runs", {"agent": "flow"}) == 0


# --- logs ------------------------------------------------------------------------------


def test_log_records_fields_levels_and_trace_correlation(observer, log_records, span_exporter):
    run_agent(observer, configurable={"thread_id": "conv-1"})
    events = [r for r in log_records if r["extra"].get("event", "").startswith("agent.")]
    names = [r["extra"]["event"] for r in events]
    assert names.count("agent.run.start") == 1 and names.count("agent.run.end") == 1
    assert names.count("agent.node.end") == 3
    assert names.count("agent.llm.end") == 2
    assert names.count("agent.tool.end") == 2

    spans = {format(s.context.span_id, "016x"): s for s in span_exporter.get_finished_spans()}
    for record in events:
        extra = record["extra"]
        assert re.fullmatch(r"[0-9a-f]{32}", extra["trace_id"])
        span = spans[extra["span_id"]]  # every record names a real span of the same trace
        assert format(span.context.trace_id, "032x") == extra["trace_id"]
        assert extra["agent"] == "weather_agent"
        assert extra["run_id"]
        assert extra["thread_id"] == "conv-1"

    start = next(r for r in events if r["extra"]["event"] == "agent.run.start")
    end = next(r for r in events if r["extra"]["event"] == "agent.run.end")
    assert start["level"] == end["level"] == "INFO"
    assert end["extra"]["status"] == "ok" and end["extra"]["duration_ms"] > 0
    llm = next(r for r in events if r["extra"]["event"] == "agent.llm.end")
    assert llm["level"] == "DEBUG"
    assert llm["extra"]["model"] == "gpt-4o-mini"
    assert llm["extra"]["input_tokens"] == 20 and llm["extra"]["output_tokens"] == 10
    assert llm["extra"]["node"] == "agent" and llm["extra"]["step"] == 1
    tool = next(r for r in events if r["extra"]["event"] == "agent.tool.end")
    assert tool["extra"]["tool"] in {"get_weather", "lookup_price"}
    assert tool["extra"]["node"] == "tools"
    node = next(r for r in events if r["extra"]["event"] == "agent.node.end")
    assert node["extra"]["node"] == "agent" and node["extra"]["step"] == 1
    # no content in logs when capture is off
    assert not any("weather" in str(v) for r in events for k, v in r["extra"].items() if k == "prompt")


def test_error_and_interrupt_levels(observer, log_records):
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[tool_call("broken_tool", {"x": "secret prompt"}, "c1")]),
        AIMessage(content="done"),
    ])
    build_tool_agent(model, tools=[broken_tool]).invoke(user("go"), config={"callbacks": [observer]})
    tool = next(r for r in log_records if r["extra"].get("event") == "agent.tool.end")
    assert tool["level"] == "ERROR"
    assert tool["extra"]["status"] == "error"
    assert tool["extra"]["error_type"] == "ValueError"
    assert tool["extra"]["error_message"] == "broken for secret prompt"

    def approve(state: State) -> dict:
        return {"log": [interrupt("ok?")]}

    graph = StateGraph(State)
    graph.add_node("approve", approve)
    graph.add_edge(START, "approve")
    graph.compile(name="ask", checkpointer=InMemorySaver()).invoke(
        {"log": []}, config={"callbacks": [observer], "configurable": {"thread_id": "x"}})
    end = [r for r in log_records if r["extra"].get("event") == "agent.run.end"][-1]
    assert end["level"] == "WARNING" and end["extra"]["status"] == "interrupted"


def test_records_go_only_to_the_given_logger(tracer_provider, registry):
    from loguru import logger

    seen: list[dict] = []
    handler = logger.add(lambda m: seen.append(dict(m.record["extra"])), level="DEBUG",
                         filter=lambda r: r["extra"].get("sink") == "mine")
    try:
        observer = AgentObserver(tracer_provider=tracer_provider, registry=registry, logger=logger.bind(sink="mine"))
        run_agent(observer)
    finally:
        logger.remove(handler)
    assert {r["event"] for r in seen} == set(sc.LOG_EVENTS)


def test_long_error_messages_are_truncated_in_logs(observer, log_records):
    def explode(state: State) -> dict:
        raise RuntimeError("x" * 10_000)

    graph = StateGraph(State)
    graph.add_node("explode", explode)
    graph.add_edge(START, "explode")
    with pytest.raises(RuntimeError):
        graph.compile(name="boom").invoke({"log": []}, config={"callbacks": [observer]})
    node = next(r for r in log_records if r["extra"].get("event") == "agent.node.end")
    assert node["level"] == "ERROR"
    assert len(node["extra"]["error_message"]) <= 501


def test_metrics_and_logs_can_be_switched_off(tracer_provider, registry, span_exporter, log_records):
    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry, metrics=False, logs=False)
    run_agent(observer)
    assert list(registry.collect()) == []  # no family registered
    assert not [r for r in log_records if r["extra"].get("event", "").startswith("agent.")]
    assert len(span_exporter.get_finished_spans()) == 8
    assert observer.open_runs == 0
