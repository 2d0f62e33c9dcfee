"""Round trip: a real agent run -> trace file -> model, and deterministic re-runs of it."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from agent_obs import semconv as sc
from agent_obs.replay import ReplayError, load_file, rerun
from agent_obs.replay.model import KIND_AGENT, KIND_NODE
from agent_obs.replay.rerunner import NEEDS_CONTENT, Divergence, ReplayChatModel, compare

import replay_graphs

PATH = ["agent", "tools", "agent", "tools", "agent"]


def _attrs(mapping) -> dict:
    return {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in dict(mapping or {}).items()}


def test_model_from_file_equals_what_the_sdk_saw(recorder, span_exporter):
    recorder.run()
    sdk_spans = span_exporter.get_finished_spans()
    traces = load_file(recorder.path)
    assert traces.errors == []
    assert len(traces) == 1
    trace = traces.latest()
    assert trace.trace_id == f"{sdk_spans[0].context.trace_id:032x}"
    assert len(trace.spans) == len(sdk_spans) == 11
    for sdk in sdk_spans:
        node = trace.span(f"{sdk.context.span_id:016x}")
        assert node.name == sdk.name
        assert (node.parent.span_id if node.parent else None) == (
            f"{sdk.parent.span_id:016x}" if sdk.parent else None
        )
        assert node.attributes == _attrs(sdk.attributes)
        assert (node.start_ns, node.end_ns) == (sdk.start_time, sdk.end_time)
        assert [(e.name, e.attributes) for e in node.events] == [(e.name, _attrs(e.attributes)) for e in sdk.events]
        assert node.span.status_code == sdk.status.status_code.value

    assert trace.agent_name == "sql_tuner" and trace.outcome == "ok"
    assert trace.root.kind == KIND_AGENT and trace.roots == [trace.root]
    assert trace.node_path == PATH
    assert [s.kind for s in trace.root.children] == [KIND_NODE] * 5
    assert trace.root.children[0].routes == [("tools",)]
    assert trace.root.children[-1].routes == [("__end__",)]
    calls = trace.llm_calls()
    assert [(c.node, c.model, c.input_tokens, c.output_tokens, c.finish_reasons) for c in calls] == [
        ("agent", "gpt-4o-mini", 120, 18, ("tool_calls",)),
        ("agent", "gpt-4o-mini", 180, 22, ("tool_calls",)),
        ("agent", "gpt-4o-mini", 240, 30, ("stop",)),
    ]
    assert calls[0].output_messages[0]["parts"][0]["name"] == "table_stats"
    assert calls[0].input_messages[-1]["parts"][0]["content"] == replay_graphs.QUESTION
    assert trace.input_tokens == 540 and trace.output_tokens == 70
    assert trace.cost_usd == pytest.approx(sum(c.cost_usd for c in calls)) and trace.cost_usd > 0
    tools = trace.tool_calls()
    assert [(t.node, t.name, t.call_id, t.parsed_arguments) for t in tools] == [
        ("tools", "table_stats", "call_1", {"table": "orders"}),
        ("tools", "explain", "call_2", {"sql": "SELECT * FROM orders"}),
    ]
    assert tools[0].result == "orders: 1200000 rows, not partitioned"
    assert trace.content_captured


def test_rerun_reproduces_the_recorded_path_with_zero_divergences(recorder):
    recorder.run()
    trace = load_file(recorder.path).latest()
    report = rerun(trace, replay_graphs.build_graph)
    assert report.error is None
    assert report.divergences == []
    assert report.ok
    assert report.node_path == PATH
    assert report.output["messages"][-1].content == replay_graphs.script()[-1].content
    assert "no divergence" in str(report)


def test_changed_tool_produces_exactly_the_expected_divergence(recorder):
    recorder.run()
    trace = load_file(recorder.path).latest()

    @tool("table_stats")
    def table_stats_v2(table: str) -> str:
        """Row count and partitioning of a table."""
        return f"{table}: 1200000 rows, partitioned by day"

    report = rerun(trace, lambda model: replay_graphs.build_graph(model, [table_stats_v2, replay_graphs.explain]))
    assert report.error is None
    assert report.divergences == [
        Divergence(
            "tool_result",
            "table_stats#1",
            "orders: 1200000 rows, not partitioned",
            "orders: 1200000 rows, partitioned by day",
        )
    ]
    assert not report.ok and "tool_result at table_stats#1" in str(report)


def test_changed_routing_reports_node_path_and_missing_calls(recorder):
    """A graph that stops after the first agent step: path, tools and LLM calls diverge."""
    recorder.run()
    trace = load_file(recorder.path).latest()

    def build_without_tools(model):
        from langgraph.graph import END, START, MessagesState, StateGraph

        bound = model.bind_tools(replay_graphs.TOOLS)
        builder = StateGraph(MessagesState)
        builder.add_node("agent", lambda state: {"messages": [bound.invoke(state["messages"])]})
        builder.add_edge(START, "agent")
        builder.add_edge("agent", END)
        return builder.compile(name="sql_tuner")

    report = rerun(trace, build_without_tools)
    kinds = [d.kind for d in report.divergences]
    assert kinds == ["node_path", "tool_call_missing", "tool_call_missing", "llm_calls"]
    assert report.divergences[0] == Divergence("node_path", "node run 2", PATH[1:], [])
    assert report.divergences[-1] == Divergence("llm_calls", "run", 3, 1)


def test_rerun_asking_for_more_llm_calls_than_recorded_reports_it(recorder):
    recorder.run()
    trace = load_file(recorder.path).latest()

    def build_twice(model):
        graph = replay_graphs.build_graph(model)

        class Twice:
            def invoke(self, inputs, config):
                graph.invoke(inputs, config=config)
                return graph.invoke(inputs, config=config)

        return Twice()

    report = rerun(trace, build_twice)
    assert type(report.error).__name__ == "ReplayExhausted"
    assert "the recording has 3" in str(report.error)


def test_changed_tool_arguments_are_reported():
    """Arguments are compared as JSON, so key order and spacing do not count."""
    from agent_obs.otlp_json import FlatSpan
    from agent_obs.replay.model import Trace

    def span(span_id, parent, name, attrs):
        return FlatSpan("ab" * 16, span_id, parent, name, 1, int(span_id, 16), int(span_id, 16) + 1, attrs,
                        (), (), 0, "", {}, "", "")

    def run(args):
        return Trace.from_spans([
            span("0000000000000001", None, "invoke_agent a", {sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT}),
            span("0000000000000002", "0000000000000001", "node tools", {sc.LANGGRAPH_NODE: "tools"}),
            span("0000000000000003", "0000000000000002", "execute_tool t", {
                sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: "t",
                sc.GEN_AI_TOOL_CALL_ID: "c1", sc.GEN_AI_TOOL_CALL_ARGUMENTS: args,
                sc.GEN_AI_TOOL_CALL_RESULT: "r"}),
        ])

    same = compare(run('{"a": 1, "b": 2}').root, run('{"b":2,"a":1}').root)
    assert same == []
    changed = compare(run('{"a": 1}').root, run('{"a": 2}').root)
    assert changed == [Divergence("tool_arguments", "t#1", '{"a": 1}', '{"a": 2}')]


def test_rerun_without_captured_content_says_it_is_needed(recorder):
    recorder.run(capture_content=False)
    trace = load_file(recorder.path).latest()
    assert not trace.content_captured
    assert trace.llm_calls()[0].output_messages is None
    with pytest.raises(ReplayError) as info:
        rerun(trace, replay_graphs.build_graph)
    assert str(info.value) == NEEDS_CONTENT


def test_replay_model_serves_recorded_tool_calls_in_order(recorder):
    recorder.run()
    model = ReplayChatModel.from_trace(load_file(recorder.path).latest())
    first = model.invoke("anything")
    assert isinstance(first, AIMessage)
    assert first.tool_calls[0]["name"] == "table_stats" and first.tool_calls[0]["args"] == {"table": "orders"}
    assert first.usage_metadata["input_tokens"] == 120
    assert model.invoke("x").tool_calls[0]["id"] == "call_2"
    assert model.invoke("x").content.startswith("Job 42")
    assert model.used == 3
    with pytest.raises(Exception, match="recording has 3"):
        model.invoke("one too many")


def test_error_run_is_recorded_with_its_outcome(recorder):
    @tool("table_stats")
    def broken(table: str) -> str:
        """Row count and partitioning of a table."""
        raise RuntimeError(f"catalog unavailable for {table}")

    result = recorder.run(tools=[broken, replay_graphs.explain])
    assert isinstance(result, RuntimeError)
    trace = load_file(recorder.path).latest()
    assert trace.outcome == "error"
    tool_call = trace.tool_calls()[0]
    assert tool_call.error == ("RuntimeError", "catalog unavailable for orders")
    assert json.loads(tool_call.arguments) == {"table": "orders"}


def test_rerun_of_a_graph_with_a_checkpointer_uses_a_fresh_thread(recorder):
    from langgraph.checkpoint.memory import InMemorySaver

    recorder.run()
    trace = load_file(recorder.path).latest()
    saver = InMemorySaver()

    def build_with_checkpointer(model):
        graph = replay_graphs.build_graph(model)
        return graph.builder.compile(checkpointer=saver, name="sql_tuner")

    report = rerun(trace, build_with_checkpointer)
    assert report.ok, str(report)
    [thread] = set(saver.storage)
    assert thread.startswith("replay-")
    assert report.replayed.root.conversation_id == thread
