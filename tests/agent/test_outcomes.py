"""Statuses and outcomes: errors, tool errors, interrupts and resume links, cancellation."""

from __future__ import annotations

import asyncio
import operator
import threading
from typing import Annotated, TypedDict

import pytest
from span_helpers import by_name, one, parent_of
from graphs import ScriptedChatModel, broken_tool, build_tool_agent, get_weather, tool_call, user
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from opentelemetry.trace import StatusCode


class State(TypedDict):
    log: Annotated[list, operator.add]


class BoomError(RuntimeError):
    pass


def test_node_error_is_recorded_on_node_and_root_and_propagates_unchanged(observer, span_exporter, registry):
    raised = BoomError("database is on fire")

    def explode(state: State) -> dict:
        raise raised

    graph = StateGraph(State)
    graph.add_node("explode", explode)
    graph.add_edge(START, "explode")
    app = graph.compile(name="fragile")
    with pytest.raises(BoomError) as caught:
        app.invoke({"log": []}, config={"callbacks": [observer]})
    assert caught.value is raised

    spans = list(span_exporter.get_finished_spans())
    node = one(spans, "node explode")
    root = one(spans, "invoke_agent fragile")
    expected_type = f"{__name__}.BoomError"
    for span in (node, root):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == expected_type
        exception_events = [e for e in span.events if e.name == "exception"]
        assert len(exception_events) == 1
        assert exception_events[0].attributes["exception.message"] == "database is on fire"
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "fragile", "status": "error"}) == 1.0
    assert registry.get_sample_value("agent_obs_active_runs", {"agent": "fragile"}) == 0.0
    assert observer.open_runs == 0


def test_toolnode_error_marks_tool_span_but_not_node(observer, span_exporter):
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[tool_call("broken_tool", {"x": "a"}, "c1"),
                                          tool_call("get_weather", {"city": "Oslo"}, "c2")]),
        AIMessage(content="done"),
    ])
    graph = build_tool_agent(model, tools=[broken_tool, get_weather], name="tooly")
    result = graph.invoke(user("go"), config={"callbacks": [observer]})
    assert "broken for a" in result["messages"][2].content  # ToolNode turned it into a message

    spans = list(span_exporter.get_finished_spans())
    broken = one(spans, "execute_tool broken_tool")
    assert broken.status.status_code is StatusCode.ERROR
    assert broken.attributes["error.type"] == "ValueError"
    weather = one(spans, "execute_tool get_weather")
    assert weather.status.status_code is StatusCode.UNSET
    tools_node = parent_of(spans, broken)
    assert tools_node.name == "node tools"
    assert tools_node.status.status_code is StatusCode.UNSET
    assert one(spans, "invoke_agent tooly").status.status_code is StatusCode.UNSET


def _approval_graph(checkpointer):
    def draft(state: State) -> dict:
        return {"log": ["draft"]}

    def approve(state: State) -> dict:
        decision = interrupt({"question": "apply the risky change?"})
        return {"log": [f"decision:{decision}"]}

    graph = StateGraph(State)
    graph.add_node("draft", draft)
    graph.add_node("approve", approve)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "approve")
    graph.add_edge("approve", END)
    return graph.compile(name="approver", checkpointer=checkpointer)


def test_interrupt_is_not_an_error_and_resume_links_back(observer, span_exporter, registry):
    app = _approval_graph(InMemorySaver())
    config = {"callbacks": [observer], "configurable": {"thread_id": "thread-7"}}
    first = app.invoke({"log": []}, config=config)
    assert "__interrupt__" in first

    spans = list(span_exporter.get_finished_spans())
    root = one(spans, "invoke_agent approver")
    node = one(spans, "node approve")
    for span in (root, node):
        assert span.status.status_code is StatusCode.UNSET
        assert span.attributes["langgraph.interrupted"] is True
        assert "error.type" not in span.attributes
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "approver", "status": "interrupted"}) == 1.0
    assert registry.get_sample_value("agent_obs_interrupts_total", {"agent": "approver", "node": "approve"}) == 1.0
    span_exporter.clear()

    second = app.invoke(Command(resume="yes"), config=config)
    assert second["log"] == ["draft", "decision:yes"]
    spans = list(span_exporter.get_finished_spans())
    resumed = one(spans, "invoke_agent approver")
    assert resumed.context.trace_id != root.context.trace_id
    assert [link.context.span_id for link in resumed.links] == [root.context.span_id]
    assert resumed.attributes["langgraph.resumed"] is True
    assert resumed.attributes["gen_ai.conversation.id"] == "thread-7"
    assert "langgraph.interrupted" not in resumed.attributes
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "approver", "status": "ok"}) == 1.0


def test_interrupt_inside_subgraph_marks_every_level(observer, span_exporter):
    inner = StateGraph(State)
    inner.add_node("ask", lambda s: {"log": [interrupt("ok?")]})
    inner.add_edge(START, "ask")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    app = outer.compile(name="nested", checkpointer=InMemorySaver())
    app.invoke({"log": []}, config={"callbacks": [observer], "configurable": {"thread_id": "n"}})
    spans = list(span_exporter.get_finished_spans())
    for name in ("node ask", "node sub", "invoke_agent nested"):
        span = one(spans, name)
        assert span.attributes["langgraph.interrupted"] is True, name
        assert span.status.status_code is StatusCode.UNSET, name


async def test_cancelled_task_ends_every_open_span_as_cancelled(observer, span_exporter, registry):
    started = asyncio.Event()

    async def slow(state: State) -> dict:
        started.set()
        await asyncio.Event().wait()  # never set: only cancellation ends this
        return {"log": ["never"]}

    graph = StateGraph(State)
    graph.add_node("slow", slow)
    graph.add_edge(START, "slow")
    app = graph.compile(name="slowpoke")
    task = asyncio.create_task(app.ainvoke({"log": []}, config={"callbacks": [observer]}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    spans = list(span_exporter.get_finished_spans())
    for name in ("node slow", "invoke_agent slowpoke"):
        span = one(spans, name)
        assert span.attributes["agent_obs.outcome"] == "cancelled"
        assert span.status.status_code is StatusCode.UNSET
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "slowpoke", "status": "cancelled"}) == 1.0
    assert registry.get_sample_value("agent_obs_active_runs", {"agent": "slowpoke"}) == 0.0
    assert observer.open_runs == 0


def test_stream_closed_early_ends_the_run_as_cancelled(observer, span_exporter, registry):
    def one_step(state: State) -> dict:
        return {"log": ["one"]}

    def two_step(state: State) -> dict:
        return {"log": ["two"]}

    graph = StateGraph(State)
    graph.add_node("one", one_step)
    graph.add_node("two", two_step)
    graph.add_edge(START, "one")
    graph.add_edge("one", "two")
    app = graph.compile(name="streamer")
    stream = app.stream({"log": []}, config={"callbacks": [observer]}, stream_mode="updates")
    assert next(stream) == {"one": {"log": ["one"]}}
    stream.close()

    root = one(list(span_exporter.get_finished_spans()), "invoke_agent streamer")
    assert root.attributes["agent_obs.outcome"] == "cancelled"
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "streamer", "status": "cancelled"}) == 1.0
    assert registry.get_sample_value("agent_obs_active_runs", {"agent": "streamer"}) == 0.0
    assert observer.open_runs == 0


async def test_async_stream_closed_early_ends_the_run_as_cancelled(observer, span_exporter, registry):
    def step(state: State) -> dict:
        return {"log": ["x"]}

    graph = StateGraph(State)
    graph.add_node("a", step)
    graph.add_node("b", step)
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    app = graph.compile(name="astreamer")
    stream = app.astream({"log": []}, config={"callbacks": [observer]}, stream_mode="updates")
    assert await stream.__anext__() == {"a": {"log": ["x"]}}
    await stream.aclose()
    root = one(list(span_exporter.get_finished_spans()), "invoke_agent astreamer")
    assert root.attributes["agent_obs.outcome"] == "cancelled"
    assert observer.open_runs == 0


def test_tool_that_handles_its_own_error_is_an_error_span(observer, span_exporter):
    from langchain_core.tools import StructuredTool, ToolException

    def flaky(x: str) -> str:
        raise ToolException("upstream said no")

    handled = StructuredTool.from_function(flaky, name="flaky", description="Fails politely.",
                                           handle_tool_error=True)
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[tool_call("flaky", {"x": "1"}, "c1")]),
        AIMessage(content="ok"),
    ])
    build_tool_agent(model, tools=[handled]).invoke(user("go"), config={"callbacks": [observer]})
    span = one(list(span_exporter.get_finished_spans()), "execute_tool flaky")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"].endswith("ToolException")


def test_interrupt_through_parallel_branch_keeps_other_branch_ok(observer, span_exporter):
    barrier = threading.Barrier(2, timeout=5)

    def left(state: State) -> dict:
        barrier.wait()
        return {"log": ["left"]}

    def right(state: State) -> dict:
        barrier.wait()
        return {"log": [interrupt("approve right?")]}

    graph = StateGraph(State)
    graph.add_node("left", left)
    graph.add_node("right", right)
    graph.add_edge(START, "left")
    graph.add_edge(START, "right")
    app = graph.compile(name="branches", checkpointer=InMemorySaver())
    app.invoke({"log": []}, config={"callbacks": [observer], "configurable": {"thread_id": "b"}})
    spans = list(span_exporter.get_finished_spans())
    assert "langgraph.interrupted" not in one(spans, "node left").attributes
    assert one(spans, "node right").attributes["langgraph.interrupted"] is True
    assert len(by_name(spans, "invoke_agent branches")) == 1
