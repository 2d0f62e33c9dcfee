"""Handoffs and interrupts in plain LangGraph: ``Command(graph=Command.PARENT)`` is control flow
(an ok run with a visible handoff), only ``interrupt()`` is an interrupt, counted once.

The multi-agent libraries that hand off this way are exercised in ``test_multi_agent.py``.
"""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import StatusCode
from span_helpers import one

from agent_obs.otlp_json import OtlpJsonFileExporter
from agent_obs.replay import load_file, tree_text


class State(TypedDict):
    log: Annotated[list, operator.add]


def _handoff_graph(checkpointer=None, goto="b"):
    inner = StateGraph(State)
    inner.add_node("a", lambda s: Command(goto=goto, graph=Command.PARENT, update={"log": ["a"]}))
    inner.add_edge(START, "a")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_node("b", lambda s: {"log": ["b"]})
    outer.add_node("c", lambda s: {"log": ["c"]})
    outer.add_edge(START, "sub")
    outer.add_edge("b", END)
    outer.add_edge("c", END)
    return outer.compile(name="team", checkpointer=checkpointer)


def test_parent_command_is_a_handoff_not_an_interrupt(observer, span_exporter, registry, log_records):
    app = _handoff_graph(InMemorySaver())
    config = {"callbacks": [observer], "configurable": {"thread_id": "h-1"}}
    assert app.invoke({"log": []}, config=config) == {"log": ["a", "b"]}

    spans = list(span_exporter.get_finished_spans())
    for span in spans:
        assert "langgraph.interrupted" not in span.attributes, span.name
        assert span.status.status_code is StatusCode.UNSET, span.name
        assert "error.type" not in span.attributes, span.name
    node_a = one(spans, "node a")
    assert node_a.attributes["langgraph.handoff.destination"] == "b"
    [event] = [e for e in node_a.events if e.name == "langgraph.handoff"]
    assert list(event.attributes["langgraph.handoff.destinations"]) == ["b"]
    # the levels the command bubbles through are not handoffs themselves
    for name in ("node sub", "invoke_agent team", "node b"):
        assert "langgraph.handoff.destination" not in one(spans, name).attributes, name

    sample = registry.get_sample_value
    assert sample("agent_obs_runs_total", {"agent": "team", "status": "ok"}) == 1.0
    assert sample("agent_obs_runs_total", {"agent": "team", "status": "interrupted"}) is None
    assert sample("agent_obs_interrupts_total", {"agent": "team", "node": "a"}) is None
    assert sample("agent_obs_interrupts_total", {"agent": "team", "node": "sub"}) is None
    assert sample("agent_obs_handoffs_total", {"agent": "team", "node": "a", "destination": "b"}) == 1.0
    assert sample("agent_obs_node_duration_seconds_count", {"agent": "team", "node": "sub", "status": "ok"}) == 1.0

    assert not [r for r in log_records if r["level"] == "WARNING"]
    [node_end] = [r for r in log_records if r["extra"].get("event") == "agent.node.end"
                  and r["extra"].get("node") == "a"]
    assert node_end["extra"]["status"] == "ok" and node_end["extra"]["handoff_to"] == "b"
    [run_end] = [r for r in log_records if r["extra"].get("event") == "agent.run.end"]
    assert run_end["extra"]["status"] == "ok" and run_end["level"] == "INFO"

    # The thread is not remembered as interrupted: the next run on it links to nothing.
    span_exporter.clear()
    app.invoke(Command(resume="x"), config=config)
    again = one(list(span_exporter.get_finished_spans()), "invoke_agent team")
    assert not again.links


def test_parallel_handoff_with_send_names_each_destination(observer, span_exporter, registry):
    app = _handoff_graph(goto=[Send("b", {"log": []}), Send("c", {"log": []})])
    assert sorted(app.invoke({"log": []}, config={"callbacks": [observer]})["log"]) == ["a", "b", "c"]
    node_a = one(list(span_exporter.get_finished_spans()), "node a")
    assert node_a.attributes["langgraph.handoff.destination"] == "b,c"
    for destination in ("b", "c"):
        assert registry.get_sample_value(
            "agent_obs_handoffs_total", {"agent": "team", "node": "a", "destination": destination}) == 1.0


async def test_async_handoff_is_ok(observer, span_exporter, registry):
    app = _handoff_graph()
    assert await app.ainvoke({"log": []}, config={"callbacks": [observer]}) == {"log": ["a", "b"]}
    spans = list(span_exporter.get_finished_spans())
    assert one(spans, "node a").attributes["langgraph.handoff.destination"] == "b"
    assert not [s for s in spans if "langgraph.interrupted" in s.attributes]
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "team", "status": "ok"}) == 1.0


def test_replay_shows_the_handoff(tracer_provider, registry, tmp_path):
    from agent_obs import AgentObserver

    path = tmp_path / "traces.jsonl"
    tracer_provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(path)))
    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry)
    _handoff_graph().invoke({"log": []}, config={"callbacks": [observer]})
    [trace] = list(load_file(path))
    assert trace.outcome == "ok"
    text = tree_text(trace)
    assert "handoff → b" in text
    assert "waiting for input" not in text


def test_one_interrupt_is_counted_once_at_the_node_that_called_it(observer, span_exporter, registry):
    ask = StateGraph(State)
    ask.add_node("ask", lambda s: {"log": [interrupt("ok?")]})
    ask.add_edge(START, "ask")
    sub = StateGraph(State)
    sub.add_node("sub", ask.compile())
    sub.add_edge(START, "sub")
    mid = StateGraph(State)
    mid.add_node("mid", sub.compile())
    mid.add_edge(START, "mid")
    app = mid.compile(name="nested", checkpointer=InMemorySaver())
    app.invoke({"log": []}, config={"callbacks": [observer], "configurable": {"thread_id": "n"}})

    spans = list(span_exporter.get_finished_spans())
    for name in ("node ask", "node sub", "node mid", "invoke_agent nested"):
        assert one(spans, name).attributes["langgraph.interrupted"] is True, name
    sample = registry.get_sample_value
    assert sample("agent_obs_interrupts_total", {"agent": "nested", "node": "ask"}) == 1.0
    for node in ("sub", "mid"):
        assert sample("agent_obs_interrupts_total", {"agent": "nested", "node": node}) is None, node
    assert sample("agent_obs_runs_total", {"agent": "nested", "status": "interrupted"}) == 1.0


def test_two_parallel_interrupts_in_a_subgraph_count_two(observer, registry):
    inner = StateGraph(State)
    inner.add_node("left", lambda s: {"log": [interrupt("left?")]})
    inner.add_node("right", lambda s: {"log": [interrupt("right?")]})
    inner.add_edge(START, "left")
    inner.add_edge(START, "right")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    app = outer.compile(name="pair", checkpointer=InMemorySaver())
    app.invoke({"log": []}, config={"callbacks": [observer], "configurable": {"thread_id": "p"}})
    sample = registry.get_sample_value
    assert sample("agent_obs_interrupts_total", {"agent": "pair", "node": "left"}) == 1.0
    assert sample("agent_obs_interrupts_total", {"agent": "pair", "node": "right"}) == 1.0
    assert sample("agent_obs_interrupts_total", {"agent": "pair", "node": "sub"}) is None
