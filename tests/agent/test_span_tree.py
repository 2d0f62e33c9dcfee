"""The span tree AgentObserver builds for real LangGraph graphs: names, kinds, parents, attributes."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest
from span_helpers import by_name, one, parent_of, render_tree
from graphs import ScriptedChatModel, build_tool_agent, tool_agent_script, user
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy, Send
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

EXPECTED_TOOL_AGENT_TREE = """\
invoke_agent weather_agent
  node agent
    chat gpt-4o-mini
  node tools
    execute_tool get_weather
    execute_tool lookup_price
  node agent
    chat gpt-4o-mini"""


def run_tool_agent(observer, **config: Any):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    return graph.invoke(user("weather and tea?"), config={"callbacks": [observer], **config})


def test_tool_agent_tree_names_kinds_and_attributes(observer, span_exporter):
    result = run_tool_agent(observer, configurable={"thread_id": "t-1"})
    assert result["messages"][-1].content == "It is sunny in Paris and tea costs 3 USD"
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans, siblings_by_name=True) == EXPECTED_TOOL_AGENT_TREE

    root = one(spans, "invoke_agent weather_agent")
    assert root.kind is SpanKind.INTERNAL
    assert root.parent is None
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "weather_agent"
    assert root.status.status_code is StatusCode.UNSET
    assert len({s.context.trace_id for s in spans}) == 1

    first_agent, second_agent = sorted(by_name(spans, "node agent"), key=lambda s: s.start_time)
    assert first_agent.attributes["langgraph.node"] == "agent"
    assert first_agent.attributes["langgraph.step"] == 1
    assert second_agent.attributes["langgraph.step"] == 3
    assert first_agent.attributes["langgraph.attempt"] == 1
    assert first_agent.attributes["langgraph.triggers"] == ("branch:to:agent",)
    assert first_agent.attributes["langgraph.checkpoint_ns"].startswith("agent:")

    chat = sorted(by_name(spans, "chat gpt-4o-mini"), key=lambda s: s.start_time)[0]
    assert chat.kind is SpanKind.CLIENT
    assert parent_of(spans, chat) is first_agent
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "openai"
    assert chat.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert chat.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 20
    assert chat.attributes["gen_ai.usage.output_tokens"] == 10
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert "agent_obs.usage.estimated" not in chat.attributes  # only set when estimated
    assert "gen_ai.response.time_to_first_chunk" not in chat.attributes  # not streamed
    assert "gen_ai.input.messages" not in chat.attributes  # content capture is off

    weather = one(spans, "execute_tool get_weather")
    assert weather.attributes["gen_ai.operation.name"] == "execute_tool"
    assert weather.attributes["gen_ai.tool.name"] == "get_weather"
    assert weather.attributes["gen_ai.tool.call.id"] == "call_1"
    assert weather.attributes["gen_ai.tool.type"] == "function"
    assert parent_of(spans, weather).name == "node tools"


def test_conversation_id_is_the_thread_id(observer, span_exporter):
    from langgraph.checkpoint.memory import InMemorySaver

    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()), checkpointer=InMemorySaver())
    graph.invoke(user("hi"), config={"callbacks": [observer], "configurable": {"thread_id": "conv-42"}})
    root = one(list(span_exporter.get_finished_spans()), "invoke_agent weather_agent")
    assert root.attributes["gen_ai.conversation.id"] == "conv-42"


def test_sampler_attributes_are_set_at_span_start(registry):
    seen: list[tuple[str, dict]] = []

    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler

    class Recording(Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                          trace_state=None):
            seen.append((name, dict(attributes or {})))
            return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

        def get_description(self) -> str:
            return "recording"

    from opentelemetry.sdk.trace import TracerProvider

    from agent_obs import AgentObserver

    provider = TracerProvider(sampler=Recording())
    run_tool_agent(AgentObserver(tracer_provider=provider, registry=registry))
    at_start = dict(seen)
    assert at_start["invoke_agent weather_agent"]["gen_ai.agent.name"] == "weather_agent"
    assert at_start["chat gpt-4o-mini"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert at_start["chat gpt-4o-mini"]["gen_ai.provider.name"] == "openai"
    assert at_start["chat gpt-4o-mini"]["gen_ai.operation.name"] == "chat"
    assert at_start["execute_tool get_weather"]["gen_ai.tool.name"] == "get_weather"


class CountState(TypedDict):
    count: int
    log: Annotated[list, operator.add]


def test_conditional_loop_records_router_choice_as_event(observer, span_exporter):
    def step(state: CountState) -> dict:
        return {"count": state["count"] + 1, "log": ["step"]}

    def should_continue(state: CountState) -> str:
        return "step" if state["count"] < 3 else END

    graph = StateGraph(CountState)
    graph.add_node("step", step)
    graph.add_edge(START, "step")
    graph.add_conditional_edges("step", should_continue, ["step", END])
    app = graph.compile(name="looper")
    app.invoke({"count": 0, "log": []}, config={"callbacks": [observer]})

    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == "invoke_agent looper\n" + "\n".join(["  node step"] * 3)
    assert not any("should_continue" in s.name for s in spans), "routers are not spans"
    nodes = sorted(by_name(spans, "node step"), key=lambda s: s.start_time)
    choices = [dict(n.events[0].attributes) for n in nodes]
    assert [c["langgraph.route.destinations"] for c in choices] == [("step",), ("step",), (END,)]
    assert all(c["langgraph.route.name"] == "should_continue" for c in choices)
    assert [n.attributes["langgraph.step"] for n in nodes] == [1, 2, 3]


class FanState(TypedDict):
    items: list[int]
    results: Annotated[list, operator.add]


class BranchState(TypedDict):
    n: int
    results: Annotated[list, operator.add]


def test_send_fan_out_branches_are_sibling_node_spans(observer, span_exporter):
    def plan(state: FanState) -> dict:
        return {}

    def fan_out(state: FanState) -> list[Send]:
        return [Send("work", {"items": [i], "results": []}) for i in state["items"]]

    tracer = trace.get_tracer("test")

    def work(state: FanState) -> dict:
        with tracer.start_as_current_span("inside work"):
            pass
        return {"results": [state["items"][0] * 10]}

    graph = StateGraph(FanState)
    graph.add_node("plan", plan)
    graph.add_node("work", work)
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", fan_out, ["work"])
    graph.add_edge("work", END)
    app = graph.compile(name="fan")
    out = app.invoke({"items": [1, 2, 3, 4], "results": []}, config={"callbacks": [observer]})
    assert sorted(out["results"]) == [10, 20, 30, 40]

    spans = list(span_exporter.get_finished_spans())
    root = one(spans, "invoke_agent fan")
    work_spans = by_name(spans, "node work")
    assert len(work_spans) == 4
    assert all(parent_of(spans, w) is root for w in work_spans)
    assert len({w.attributes["langgraph.checkpoint_ns"] for w in work_spans}) == 4
    plan_span = one(spans, "node plan")
    assert plan_span.events[0].attributes["langgraph.route.destinations"] == ("work",) * 4


def test_send_fan_out_with_other_instrumentation_nests_inside_branch(tracer_provider, registry,
                                                                      span_exporter):
    from agent_obs import AgentObserver

    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry)
    tracer = tracer_provider.get_tracer("other-instrumentation")

    def work(state: BranchState) -> dict:
        with tracer.start_as_current_span(f"db query {state['n']}"):
            pass
        return {"results": [state["n"]]}

    graph = StateGraph(BranchState)
    graph.add_node("work", work)
    graph.add_conditional_edges(START, lambda s: [Send("work", {"n": i, "results": []}) for i in range(5)],
                                ["work"])
    graph.add_edge("work", END)
    graph.compile(name="fan").invoke({"n": 0, "results": []}, config={"callbacks": [observer]})
    spans = list(span_exporter.get_finished_spans())
    for i in range(5):
        query = one(spans, f"db query {i}")
        assert parent_of(spans, query).name == "node work"


def _inner_graph():
    inner = StateGraph(CountState)
    inner.add_node("inner_a", lambda s: {"log": ["a"]})
    inner.add_node("inner_b", lambda s: {"log": ["b"]})
    inner.add_edge(START, "inner_a")
    inner.add_edge("inner_a", "inner_b")
    return inner.compile(name="inner_graph")


def test_subgraph_as_node_nests_without_extra_level(observer, span_exporter):
    outer = StateGraph(CountState)
    outer.add_node("prepare", lambda s: {"log": ["p"]})
    outer.add_node("sub", _inner_graph())
    outer.add_edge(START, "prepare")
    outer.add_edge("prepare", "sub")
    outer.compile(name="outer").invoke({"count": 0, "log": []}, config={"callbacks": [observer]})
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == (
        "invoke_agent outer\n  node prepare\n  node sub\n    node inner_a\n    node inner_b"
    )
    inner_a = one(spans, "node inner_a")
    assert "|" in inner_a.attributes["langgraph.checkpoint_ns"]


def test_subgraph_invoked_inside_a_node_nests_under_that_node(observer, span_exporter):
    inner = _inner_graph()

    def delegate(state: CountState) -> dict:
        return inner.invoke(state)

    outer = StateGraph(CountState)
    outer.add_node("delegate", delegate)
    outer.add_edge(START, "delegate")
    outer.compile(name="outer").invoke({"count": 0, "log": []}, config={"callbacks": [observer]})
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == (
        "invoke_agent outer\n  node delegate\n    node inner_a\n    node inner_b"
    )


def test_retries_are_sibling_attempt_spans(observer, span_exporter, registry):
    calls = {"n": 0}

    def flaky(state: CountState) -> dict:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError(f"transient {calls['n']}")
        return {"log": ["ok"]}

    graph = StateGraph(CountState)
    graph.add_node("flaky", flaky, retry_policy=RetryPolicy(max_attempts=5, initial_interval=0.001,
                                                            jitter=False, retry_on=ConnectionError))
    graph.add_edge(START, "flaky")
    graph.compile(name="retrier").invoke({"count": 0, "log": []}, config={"callbacks": [observer]})

    spans = list(span_exporter.get_finished_spans())
    attempts = sorted(by_name(spans, "node flaky"), key=lambda s: s.start_time)
    root = one(spans, "invoke_agent retrier")
    assert [a.attributes["langgraph.attempt"] for a in attempts] == [1, 2, 3]
    assert all(parent_of(spans, a) is root for a in attempts)
    assert [a.status.status_code for a in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert attempts[0].attributes["error.type"] == "ConnectionError"
    assert attempts[0].events[0].name == "exception"
    assert root.status.status_code is StatusCode.UNSET
    assert registry.get_sample_value(
        "agent_obs_node_retries_total", {"agent": "retrier", "node": "flaky"}) == 2.0
    assert registry.get_sample_value("agent_obs_run_steps_sum", {"agent": "retrier"}) == 1.0


def test_functional_api_entrypoint_and_tasks_are_nodes(observer, span_exporter):
    from langgraph.func import entrypoint, task

    @task
    def double(x: int) -> int:
        return x * 2

    @entrypoint()
    def pipeline(numbers: list[int]) -> list[int]:
        futures = [double(n) for n in numbers]
        return [f.result() for f in futures]

    assert pipeline.invoke([1, 2, 3], config={"callbacks": [observer]}) == [2, 4, 6]
    spans = list(span_exporter.get_finished_spans())
    root = one(spans, "invoke_agent LangGraph")  # an entrypoint's graph keeps the default name
    entry = one(spans, "node pipeline")
    assert parent_of(spans, entry) is root
    doubles = by_name(spans, "node double")
    assert len(doubles) == 3
    assert all(parent_of(spans, d) is entry for d in doubles)


@pytest.mark.parametrize("how", ["invoke", "batch", "stream-values", "stream-updates", "stream-messages",
                                 "stream-debug", "stream-custom", "stream-multi"])
def test_root_nests_under_the_callers_span_sync(how, observer, tracer_provider, span_exporter):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    tracer = tracer_provider.get_tracer("caller")
    config = {"callbacks": [observer]}
    with tracer.start_as_current_span("request") as request:
        if how == "invoke":
            graph.invoke(user("hi"), config=config)
        elif how == "batch":
            graph.batch([user("a"), user("b")], config=config)
        else:
            mode = how.split("-", 1)[1]
            stream_mode = ["values", "updates", "messages", "custom"] if mode == "multi" else mode
            chunks = list(graph.stream(user("hi"), config=config, stream_mode=stream_mode))
            if mode != "custom":
                assert chunks
        assert trace.get_current_span() is request, "the caller's context must be unchanged"
    spans = list(span_exporter.get_finished_spans())
    request_span = one(spans, "request")
    roots = by_name(spans, "invoke_agent weather_agent")
    assert len(roots) == (2 if how == "batch" else 1)
    for root in roots:
        assert parent_of(spans, root) is request_span
    assert len(by_name(spans, "execute_tool get_weather")) == len(roots)


@pytest.mark.parametrize("how", ["ainvoke", "abatch", "astream-values", "astream-updates",
                                 "astream-messages", "astream-debug", "astream-multi", "astream_events"])
async def test_root_nests_under_the_callers_span_async(how, observer, tracer_provider, span_exporter):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    tracer = tracer_provider.get_tracer("caller")
    config = {"callbacks": [observer]}
    with tracer.start_as_current_span("request") as request:
        if how == "ainvoke":
            await graph.ainvoke(user("hi"), config=config)
        elif how == "abatch":
            await graph.abatch([user("a"), user("b")], config=config)
        elif how == "astream_events":
            events = [e async for e in graph.astream_events(user("hi"), config=config, version="v2")]
            assert events
        else:
            mode = how.split("-", 1)[1]
            stream_mode = ["values", "updates", "messages"] if mode == "multi" else mode
            chunks = [c async for c in graph.astream(user("hi"), config=config, stream_mode=stream_mode)]
            assert chunks
        assert trace.get_current_span() is request, "the caller's context must be unchanged"
    spans = list(span_exporter.get_finished_spans())
    request_span = one(spans, "request")
    roots = by_name(spans, "invoke_agent weather_agent")
    assert len(roots) == (2 if how == "abatch" else 1)
    for root in roots:
        assert parent_of(spans, root) is request_span
    assert len(by_name(spans, "chat gpt-4o-mini")) == 2 * len(roots)


def test_caller_context_is_clean_after_run_without_parent(observer):
    run_tool_agent(observer)
    assert not trace.get_current_span().get_span_context().is_valid


async def test_caller_context_is_clean_after_async_run_without_parent(observer):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    await graph.ainvoke(user("hi"), config={"callbacks": [observer]})
    assert not trace.get_current_span().get_span_context().is_valid


def test_independent_invocations_are_separate_traces(observer, span_exporter):
    run_tool_agent(observer)
    run_tool_agent(observer)
    roots = by_name(list(span_exporter.get_finished_spans()), "invoke_agent weather_agent")
    assert len({r.context.trace_id for r in roots}) == 2
    assert all(r.parent is None for r in roots)


def test_agent_name_override(tracer_provider, registry, span_exporter):
    from agent_obs import AgentObserver

    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry, agent_name="support-bot")
    run_tool_agent(observer)
    root = one(list(span_exporter.get_finished_spans()), "invoke_agent support-bot")
    assert root.attributes["gen_ai.agent.name"] == "support-bot"


def test_default_graph_name_is_langgraph(observer, span_exporter):
    graph = StateGraph(CountState)
    graph.add_node("only", lambda s: {"log": ["x"]})
    graph.add_edge(START, "only")
    graph.compile().invoke({"count": 0, "log": []}, config={"callbacks": [observer]})
    assert one(list(span_exporter.get_finished_spans()), "invoke_agent LangGraph")


def test_retriever_span(observer, span_exporter):
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    class Docs(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager=None) -> list[Document]:
            return [Document(page_content=f"about {query}")]

    retriever = Docs()

    def search(state: CountState) -> dict:
        retriever.invoke("tea")
        return {"log": ["searched"]}

    graph = StateGraph(CountState)
    graph.add_node("search", search)
    graph.add_edge(START, "search")
    graph.compile(name="rag").invoke({"count": 0, "log": []}, config={"callbacks": [observer]})
    spans = list(span_exporter.get_finished_spans())
    retrieval = one(spans, "retrieval Docs")
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    assert parent_of(spans, retrieval).name == "node search"


def test_async_nodes_and_tools_with_manual_spans(observer, tracer_provider, span_exporter):
    """Spans made inside async bodies nest under the node/tool span under ainvoke and astream."""
    from langchain_core.tools import tool

    tracer = tracer_provider.get_tracer("inside")

    @tool
    async def get_weather(city: str) -> str:
        """Weather."""
        with tracer.start_as_current_span("http GET weather"):
            await asyncio.sleep(0)
        return "sunny"

    @tool
    def lookup_price(item: str) -> str:
        """Price."""
        with tracer.start_as_current_span("sql SELECT price"):
            pass
        return "3"

    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()), tools=[get_weather, lookup_price])

    async def main():
        await graph.ainvoke(user("hi"), config={"callbacks": [observer]})
        async for _ in graph.astream(user("hi"), config={"callbacks": [observer]}, stream_mode="messages"):
            pass

    asyncio.run(main())
    spans = list(span_exporter.get_finished_spans())
    for http in by_name(spans, "http GET weather"):
        assert parent_of(spans, http).name == "execute_tool get_weather"
    for sql in by_name(spans, "sql SELECT price"):
        assert parent_of(spans, sql).name == "execute_tool lookup_price"
    assert len(by_name(spans, "http GET weather")) == 2
    assert len(by_name(spans, "sql SELECT price")) == 2


def test_sync_node_body_span_nests_under_node(observer, tracer_provider, span_exporter):
    tracer = tracer_provider.get_tracer("inside")

    def work(state: CountState) -> dict:
        with tracer.start_as_current_span("manual work"):
            pass
        return {"log": ["w"]}

    graph = StateGraph(CountState)
    graph.add_node("work", work)
    graph.add_edge(START, "work")
    graph.compile(name="g").invoke({"count": 0, "log": []}, config={"callbacks": [observer]})
    spans = list(span_exporter.get_finished_spans())
    assert parent_of(spans, one(spans, "manual work")).name == "node work"


def test_agent_span_counts_its_steps(observer, span_exporter):
    run_tool_agent(observer)
    root = one(list(span_exporter.get_finished_spans()), "invoke_agent weather_agent")
    assert root.attributes["langgraph.steps"] == 3
