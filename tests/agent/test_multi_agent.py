"""The real multi-agent libraries (langgraph-supervisor, langgraph-swarm) under the observer:
handoffs are ok runs with a visible handoff, named sub-agents are agents (span attribute,
metric labels, log fields), only a real ``interrupt()`` interrupts; sync, async and stream.

The models are scripted per agent (``ScriptedChatModel`` in call order, with ids distinct per
model, since the agents share one message list).
"""

from __future__ import annotations

import operator
import warnings
from typing import Annotated, Any, TypedDict

import pytest
from graphs import ScriptedChatModel, tool_call, user
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt
from opentelemetry.trace import StatusCode
from span_helpers import by_name, one, parent_of, render_tree

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # create_react_agent is deprecated in favour of langchain's
    from langgraph.prebuilt import create_react_agent
from langgraph_supervisor import create_supervisor
from langgraph_swarm import create_handoff_tool, create_swarm

# langgraph-supervisor builds its supervisor with the deprecated create_react_agent
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


@tool
def ask_human(question: str) -> str:
    """Ask the human operator and wait for the answer."""
    return str(interrupt({"question": question}))


def scripted(prefix: str, *messages: AIMessage) -> ScriptedChatModel:
    return ScriptedChatModel(responses=list(messages), by_conversation=False, id_prefix=f"{prefix}-")


def react(model: ScriptedChatModel, tools: list[Any], name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_react_agent(model, tools, name=name)


def supervisor_team(worker_tool=add, worker_args=None):
    math = react(scripted("math", AIMessage(content="", tool_calls=[tool_call(worker_tool.name, worker_args or {"a": 1, "b": 2}, "c1")]),
                          AIMessage(content="3")), [worker_tool], "math_agent")
    boss = scripted("boss", AIMessage(content="", tool_calls=[tool_call("transfer_to_math_agent", {}, "h1")]),
                    AIMessage(content="done: 3"))
    return create_supervisor([math], model=boss, supervisor_name="supervisor").compile(name="team")


def sample(registry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


SUPERVISOR_TREE = """invoke_agent team
  node supervisor
    node agent
      chat gpt-4o-mini
    node tools
      execute_tool transfer_to_math_agent
  node math_agent
    node agent
      chat gpt-4o-mini
    node tools
      execute_tool add
    node agent
      chat gpt-4o-mini
  node supervisor
    node agent
      chat gpt-4o-mini"""


HOWS = ["invoke", "ainvoke", "stream", "astream"]


async def _run(app: Any, inputs: Any, config: dict[str, Any], how: str) -> Any:
    if how == "invoke":
        return app.invoke(inputs, config=config)
    if how == "ainvoke":
        return await app.ainvoke(inputs, config=config)
    if how == "stream":
        return [part for part in app.stream(inputs, config=config, stream_mode="updates")]
    return [part async for part in app.astream(inputs, config=config, stream_mode="updates")]


@pytest.mark.parametrize("how", HOWS)
async def test_supervisor_handoff_is_ok_and_workers_are_agents(how, observer, span_exporter, registry, log_records):
    await _run(supervisor_team(), user("1+2?"), {"callbacks": [observer]}, how)
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == SUPERVISOR_TREE
    assert observer.open_runs == 0

    # a handoff is not an interrupt, anywhere
    for span in spans:
        assert "langgraph.interrupted" not in span.attributes, span.name
        assert span.status.status_code is StatusCode.UNSET, span.name
    handing_off = [s for s in spans if "langgraph.handoff.destination" in s.attributes]
    assert [(s.name, s.attributes["langgraph.handoff.destination"]) for s in handing_off] == [
        ("node tools", "math_agent")]
    assert parent_of(spans, handing_off[0]).attributes["gen_ai.agent.name"] == "supervisor"

    # the sub-agents carry their names on their node spans (no extra level), with the root's
    root = one(spans, "invoke_agent team")
    assert root.attributes["gen_ai.agent.name"] == "team"
    math = one(spans, "node math_agent")
    assert math.attributes["gen_ai.agent.name"] == "math_agent"
    assert math.attributes["agent_obs.agent.root"] == "team"
    assert math.attributes["agent_obs.agent.parent"] == "team"
    for boss in by_name(spans, "node supervisor"):
        assert boss.attributes["gen_ai.agent.name"] == "supervisor"
    assert "gen_ai.agent.name" not in one(spans, "execute_tool add").attributes

    # per-agent metrics
    assert sample(registry, "agent_obs_runs_total", agent="team", status="ok") == 1
    assert sample(registry, "agent_obs_runs_total", agent="team", status="interrupted") is None
    assert sample(registry, "agent_obs_interrupts_total", agent="supervisor", node="tools") is None
    assert sample(registry, "agent_obs_handoffs_total", agent="supervisor", node="tools",
                  destination="math_agent") == 1
    node_count = "agent_obs_node_duration_seconds_count"
    assert sample(registry, node_count, agent="supervisor", node="agent", status="ok") == 2
    assert sample(registry, node_count, agent="math_agent", node="agent", status="ok") == 2
    assert sample(registry, node_count, agent="team", node="supervisor", status="ok") == 2
    assert sample(registry, node_count, agent="team", node="math_agent", status="ok") == 1
    assert sample(registry, "gen_ai_execute_tool_duration_seconds_count", gen_ai_agent_name="math_agent",
                  gen_ai_tool_name="add", error_type="") == 1
    agent_count = "gen_ai_invoke_agent_duration_seconds_count"
    assert sample(registry, agent_count, gen_ai_agent_name="team", error_type="") == 1
    assert sample(registry, agent_count, gen_ai_agent_name="supervisor", error_type="") == 2
    assert sample(registry, agent_count, gen_ai_agent_name="math_agent", error_type="") == 1
    tokens = "agent_obs_llm_tokens_total"
    for agent, calls in (("supervisor", 2), ("math_agent", 2)):
        assert sample(registry, tokens, agent=agent, gen_ai_request_model="gpt-4o-mini",
                      gen_ai_token_type="input") == 20 * calls
        assert sample(registry, tokens, agent=agent, gen_ai_request_model="gpt-4o-mini",
                      gen_ai_token_type="output") == 10 * calls
    chat_costs = sum(s.attributes["agent_obs.cost.usd"] for s in by_name(spans, "chat gpt-4o-mini"))
    per_agent = [sample(registry, "agent_obs_llm_cost_usd_total", agent=a, gen_ai_request_model="gpt-4o-mini")
                 for a in ("supervisor", "math_agent")]
    assert all(per_agent) and sum(per_agent) == pytest.approx(chat_costs)
    assert sample(registry, "agent_obs_llm_cost_usd_total", agent="team", gen_ai_request_model="gpt-4o-mini") \
        is None

    # logs: the agent field is the sub-agent, the root stays findable
    llm_logs = [r["extra"] for r in log_records if r["extra"].get("event") == "agent.llm.end"]
    assert sorted(e["agent"] for e in llm_logs) == ["math_agent", "math_agent", "supervisor", "supervisor"]
    assert {e["root_agent"] for e in llm_logs} == {"team"}
    run_logs = [r for r in log_records if r["extra"].get("event") == "agent.run.end"]
    assert [(r["extra"]["agent"], r["extra"]["status"], r["level"]) for r in run_logs] == [("team", "ok", "INFO")]
    assert not [r for r in log_records if r["level"] == "WARNING"]


@pytest.mark.parametrize("how", HOWS)
async def test_tool_error_inside_a_worker_fails_the_run_and_is_the_workers(how, observer, span_exporter, registry):
    app = supervisor_team(worker_tool=divide, worker_args={"a": 1, "b": 0})
    with pytest.raises(ZeroDivisionError):
        await _run(app, user("1/0?"), {"callbacks": [observer]}, how)
    spans = list(span_exporter.get_finished_spans())
    assert observer.open_runs == 0
    failed = one(spans, "execute_tool divide")
    worker_tools = parent_of(spans, failed)
    worker = parent_of(spans, worker_tools)
    assert worker.name == "node math_agent" and worker.attributes["gen_ai.agent.name"] == "math_agent"
    for span in (failed, worker_tools, worker, one(spans, "invoke_agent team")):
        assert span.status.status_code is StatusCode.ERROR, span.name
        assert span.attributes["error.type"] == "ZeroDivisionError", span.name
    assert sample(registry, "gen_ai_execute_tool_duration_seconds_count", gen_ai_agent_name="math_agent",
                  gen_ai_tool_name="divide", error_type="ZeroDivisionError") == 1
    assert sample(registry, "agent_obs_node_duration_seconds_count", agent="math_agent", node="tools",
                  status="error") == 1
    assert sample(registry, "gen_ai_invoke_agent_duration_seconds_count", gen_ai_agent_name="math_agent",
                  error_type="ZeroDivisionError") == 1
    assert sample(registry, "agent_obs_runs_total", agent="team", status="error") == 1


def test_tool_error_handled_by_the_worker_is_an_error_span_in_an_ok_run(observer, span_exporter, registry):
    from langgraph.prebuilt import ToolNode

    math = react(scripted("math", AIMessage(content="", tool_calls=[tool_call("divide", {"a": 1, "b": 0}, "c1")]),
                          AIMessage(content="cannot divide by zero")),
                 ToolNode([divide], handle_tool_errors=True), "math_agent")
    boss = scripted("boss", AIMessage(content="", tool_calls=[tool_call("transfer_to_math_agent", {}, "h1")]),
                    AIMessage(content="no answer"))
    app = create_supervisor([math], model=boss, supervisor_name="supervisor").compile(name="team")
    app.invoke(user("1/0?"), config={"callbacks": [observer]})
    spans = list(span_exporter.get_finished_spans())
    failed = one(spans, "execute_tool divide")
    assert failed.status.status_code is StatusCode.ERROR
    error_type = failed.attributes["error.type"]
    assert sample(registry, "gen_ai_execute_tool_duration_seconds_count", gen_ai_agent_name="math_agent",
                  gen_ai_tool_name="divide", error_type=error_type) == 1
    assert one(spans, "node math_agent").status.status_code is StatusCode.UNSET
    assert sample(registry, "agent_obs_runs_total", agent="team", status="ok") == 1


@pytest.mark.parametrize("how", HOWS)
async def test_hierarchical_supervisor_nests_agents_and_names_each(how, observer, span_exporter, registry):
    math = react(scripted("math", AIMessage(content="", tool_calls=[tool_call("add", {"a": 1, "b": 2}, "c1")]),
                          AIMessage(content="3")), [add], "math_agent")
    lead = scripted("lead", AIMessage(content="", tool_calls=[tool_call("transfer_to_math_agent", {}, "h1")]),
                    AIMessage(content="math says 3"))
    math_team = create_supervisor([math], model=lead, supervisor_name="math_lead").compile(name="math_team")
    top = scripted("top", AIMessage(content="", tool_calls=[tool_call("transfer_to_math_team", {}, "h2")]),
                   AIMessage(content="team says 3"))
    app = create_supervisor([math_team], model=top, supervisor_name="director").compile(name="company")
    await _run(app, user("1+2?"), {"callbacks": [observer]}, how)
    spans = list(span_exporter.get_finished_spans())
    assert observer.open_runs == 0

    team_span = one(spans, "node math_team")
    assert team_span.attributes["gen_ai.agent.name"] == "math_team"
    assert team_span.attributes["agent_obs.agent.parent"] == "company"
    worker = one(spans, "node math_agent")
    assert worker.attributes["gen_ai.agent.name"] == "math_agent"
    assert worker.attributes["agent_obs.agent.parent"] == "math_team"
    assert worker.attributes["agent_obs.agent.root"] == "company"
    assert parent_of(spans, worker) is team_span  # no extra level between the team and its worker
    for span in spans:
        assert "langgraph.interrupted" not in span.attributes, span.name
    destinations = sorted(s.attributes["langgraph.handoff.destination"] for s in spans
                          if "langgraph.handoff.destination" in s.attributes)
    assert destinations == ["math_agent", "math_team"]
    assert sample(registry, "agent_obs_handoffs_total", agent="director", node="tools", destination="math_team") == 1
    assert sample(registry, "agent_obs_handoffs_total", agent="math_lead", node="tools",
                  destination="math_agent") == 1
    assert sample(registry, "gen_ai_execute_tool_duration_seconds_count", gen_ai_agent_name="math_agent",
                  gen_ai_tool_name="add", error_type="") == 1
    assert sample(registry, "agent_obs_runs_total", agent="company", status="ok") == 1


def swarm_app(checkpointer, bob_tools=()):
    to_bob = create_handoff_tool(agent_name="Bob", description="Transfer to Bob")
    to_alice = create_handoff_tool(agent_name="Alice", description="Transfer to Alice")
    alice = react(scripted("alice", AIMessage(content="", tool_calls=[tool_call("transfer_to_bob", {}, "h1")])),
                  [add, to_bob], "Alice")
    bob_script = [AIMessage(content="Bob here: 5"), AIMessage(content="Bob again: 7")]
    if bob_tools:
        bob_script = [AIMessage(content="", tool_calls=[tool_call("ask_human", {"question": "ok?"}, "q1")]),
                      AIMessage(content="approved")]
    bob = react(scripted("bob", *bob_script), [*bob_tools, to_alice], "Bob")
    return create_swarm([alice, bob], default_active_agent="Alice").compile(name="swarm", checkpointer=checkpointer)


@pytest.mark.parametrize("how", HOWS)
async def test_two_turn_swarm_with_a_checkpointer(how, observer, span_exporter, registry):
    app = swarm_app(InMemorySaver())
    config = {"callbacks": [observer], "configurable": {"thread_id": f"swarm-{how}"}}
    await _run(app, user("2+3?"), config, how)
    spans = list(span_exporter.get_finished_spans())
    # __start__ is the swarm's router to the active agent (recorded as a langgraph.route event)
    assert render_tree(spans) == """invoke_agent swarm
  node __start__
  node Alice
    node agent
      chat gpt-4o-mini
    node tools
      execute_tool transfer_to_bob
  node Bob
    node agent
      chat gpt-4o-mini"""
    alice, bob = one(spans, "node Alice"), one(spans, "node Bob")
    assert (alice.attributes["gen_ai.agent.name"], bob.attributes["gen_ai.agent.name"]) == ("Alice", "Bob")
    assert one(spans, "node tools").attributes["langgraph.handoff.destination"] == "Bob"
    assert not [s for s in spans if "langgraph.interrupted" in s.attributes]
    assert sample(registry, "agent_obs_runs_total", agent="swarm", status="ok") == 1
    assert sample(registry, "agent_obs_handoffs_total", agent="Alice", node="tools", destination="Bob") == 1

    # second turn: the swarm remembers Bob is active; no resume link (nothing was interrupted)
    span_exporter.clear()
    await _run(app, user("and 3+4?"), config, how)
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == "invoke_agent swarm\n  node __start__\n  node Bob\n    node agent\n      chat gpt-4o-mini"
    [route] = [e for e in one(spans, "node __start__").events if e.name == "langgraph.route"]
    assert list(route.attributes["langgraph.route.destinations"]) == ["Bob"]
    root = one(spans, "invoke_agent swarm")
    assert not root.links and root.attributes["gen_ai.conversation.id"] == f"swarm-{how}"
    assert sample(registry, "agent_obs_runs_total", agent="swarm", status="ok") == 2
    assert sample(registry, "gen_ai_invoke_agent_duration_seconds_count", gen_ai_agent_name="Bob",
                  error_type="") == 2


@pytest.mark.parametrize("how", HOWS)
async def test_real_interrupt_after_a_handoff_is_one_interrupt(how, observer, span_exporter, registry, log_records):
    app = swarm_app(InMemorySaver(), bob_tools=(ask_human,))
    config = {"callbacks": [observer], "configurable": {"thread_id": f"hitl-{how}"}}
    first = await _run(app, user("approve?"), config, how)
    parts = first if isinstance(first, list) else [first]
    assert any("__interrupt__" in part for part in parts)
    spans = list(span_exporter.get_finished_spans())
    assert one(spans, "execute_tool transfer_to_bob").status.status_code is StatusCode.UNSET
    interrupted = sorted(s.name for s in spans if s.attributes.get("langgraph.interrupted"))
    assert interrupted == ["execute_tool ask_human", "invoke_agent swarm", "node Bob", "node tools"]
    handoff = [s for s in spans if "langgraph.handoff.destination" in s.attributes]
    assert [s.attributes["langgraph.handoff.destination"] for s in handoff] == ["Bob"]
    assert "langgraph.interrupted" not in handoff[0].attributes
    assert sample(registry, "agent_obs_interrupts_total", agent="Bob", node="tools") == 1
    assert sample(registry, "agent_obs_interrupts_total", agent="swarm", node="Bob") is None
    assert sample(registry, "agent_obs_runs_total", agent="swarm", status="interrupted") == 1
    warnings_ = [r["extra"] for r in log_records if r["level"] == "WARNING"
                 and r["extra"].get("event") == "agent.run.end"]
    assert [w["status"] for w in warnings_] == ["interrupted"]

    span_exporter.clear()
    await _run(app, Command(resume="yes"), config, how)
    assert app.get_state(config).values["messages"][-1].content == "approved"
    resumed = one(list(span_exporter.get_finished_spans()), "invoke_agent swarm")
    first_root = one(spans, "invoke_agent swarm")
    assert [link.context.span_id for link in resumed.links] == [first_root.context.span_id]
    assert sample(registry, "agent_obs_runs_total", agent="swarm", status="ok") == 1


class State(TypedDict):
    log: Annotated[list, operator.add]


# --- the sub-agent rule's other side: single agents keep their spans and labels ---------------
def test_default_named_subgraph_is_not_a_sub_agent(observer, span_exporter, registry):
    inner = StateGraph(State)
    inner.add_node("inner_a", lambda s: {"log": ["a"]})
    inner.add_edge(START, "inner_a")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())  # no name: "LangGraph"
    outer.add_edge(START, "sub")
    outer.compile(name="solo").invoke({"log": []}, config={"callbacks": [observer]})
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == "invoke_agent solo\n  node sub\n    node inner_a"
    assert [s.name for s in spans if "gen_ai.agent.name" in s.attributes] == ["invoke_agent solo"]
    assert sample(registry, "agent_obs_node_duration_seconds_count", agent="solo", node="inner_a", status="ok") == 1
    assert sample(registry, "gen_ai_invoke_agent_duration_seconds_count", gen_ai_agent_name="LangGraph",
                  error_type="") is None


def test_named_graph_invoked_inside_a_node_names_that_node(observer, span_exporter, registry):
    inner = StateGraph(State)
    inner.add_node("inner_a", lambda s: {"log": ["a"]})
    inner.add_edge(START, "inner_a")
    checker = inner.compile(name="checker")
    outer = StateGraph(State)
    outer.add_node("review", lambda s: {"log": checker.invoke({"log": []})["log"]})
    outer.add_edge(START, "review")
    assert outer.compile(name="solo").invoke({"log": []}, config={"callbacks": [observer]}) == {"log": ["a"]}
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == "invoke_agent solo\n  node review\n    node inner_a"
    review = one(spans, "node review")
    assert (review.attributes["gen_ai.agent.name"], review.attributes["agent_obs.agent.parent"]) == ("checker", "solo")
    assert sample(registry, "agent_obs_node_duration_seconds_count", agent="checker", node="inner_a", status="ok") == 1
    assert sample(registry, "agent_obs_node_duration_seconds_count", agent="solo", node="review", status="ok") == 1


def test_functional_task_under_a_named_runnable_is_not_a_sub_agent(observer, span_exporter, registry):
    from langchain_core.runnables import RunnableLambda
    from langgraph.func import entrypoint, task

    @task
    def increment(x: int) -> int:
        return x + 1

    helper = RunnableLambda(lambda x: increment(x).result()).with_config(run_name="helper")

    @entrypoint(checkpointer=InMemorySaver())
    def flow(x: int) -> int:
        return helper.invoke(x)

    assert flow.invoke(1, config={"callbacks": [observer], "configurable": {"thread_id": "f"}}) == 2
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == "invoke_agent LangGraph\n  node flow\n    node increment"
    assert [s.name for s in spans if "gen_ai.agent.name" in s.attributes] == ["invoke_agent LangGraph"]
    assert sample(registry, "agent_obs_node_duration_seconds_count", agent="LangGraph", node="increment",
                  status="ok") == 1


def test_replay_shows_sub_agents_and_handoffs(tracer_provider, registry, tmp_path):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from agent_obs import AgentObserver
    from agent_obs.otlp_json import OtlpJsonFileExporter
    from agent_obs.replay import load_file, tree_text

    path = tmp_path / "traces.jsonl"
    tracer_provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(path)))
    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry)
    supervisor_team().invoke(user("1+2?"), config={"callbacks": [observer]})
    [trace] = list(load_file(path))
    assert trace.outcome == "ok" and trace.agent_name == "team"
    text = tree_text(trace, width=200)
    assert "node math_agent · sub-agent math_agent · step 2" in text
    assert text.count("sub-agent supervisor") == 2
    assert "handoff → math_agent" in text
    assert "waiting for input" not in text


# --- langchain's create_agent, agents called from tools, real OpenAI clients ---------------
def langchain_agent(model: Any, tools: list[Any], name: str):
    from langchain.agents import create_agent

    return create_agent(model, tools, name=name)


@pytest.mark.parametrize("how", HOWS)
async def test_create_agent_worker_is_a_sub_agent(how, observer, span_exporter, registry):
    math = langchain_agent(scripted("math", AIMessage(content="", tool_calls=[tool_call("add", {"a": 1, "b": 2}, "c1")]),
                                    AIMessage(content="3")), [add], "math_agent")
    boss = scripted("boss", AIMessage(content="", tool_calls=[tool_call("transfer_to_math_agent", {}, "h1")]),
                    AIMessage(content="done: 3"))
    app = create_supervisor([math], model=boss, supervisor_name="supervisor").compile(name="team")
    await _run(app, user("1+2?"), {"callbacks": [observer]}, how)
    spans = list(span_exporter.get_finished_spans())
    # create_agent's graph has the nodes "model" and "tools" (create_react_agent's: "agent")
    assert render_tree(spans).split("\n")[6:13] == [
        "  node math_agent", "    node model", "      chat gpt-4o-mini", "    node tools",
        "      execute_tool add", "    node model", "      chat gpt-4o-mini"]
    worker = one(spans, "node math_agent")
    assert (worker.attributes["gen_ai.agent.name"], worker.attributes["agent_obs.agent.root"]) == ("math_agent", "team")
    assert not [s for s in spans if "langgraph.interrupted" in s.attributes]
    assert sample(registry, "agent_obs_node_duration_seconds_count", agent="math_agent", node="model",
                  status="ok") == 2
    assert sample(registry, "agent_obs_handoffs_total", agent="supervisor", node="tools",
                  destination="math_agent") == 1
    assert sample(registry, "agent_obs_runs_total", agent="team", status="ok") == 1


def test_agent_called_from_a_tool_is_a_sub_agent_of_that_tool(observer, span_exporter, registry, log_records):
    researcher = langchain_agent(scripted("res", AIMessage(content="", tool_calls=[tool_call("add", {"a": 2, "b": 2},
                                                                                            "r1")]),
                                          AIMessage(content="4")), [add], "researcher")

    @tool
    def ask_researcher(question: str) -> str:
        """Ask the research agent."""
        return researcher.invoke(user(question))["messages"][-1].content

    assistant = langchain_agent(
        scripted("asst", AIMessage(content="", tool_calls=[tool_call("ask_researcher", {"question": "2+2?"}, "q1")]),
                 AIMessage(content="the researcher says 4")), [ask_researcher], "assistant")
    result = assistant.invoke(user("2+2?"), config={"callbacks": [observer]})
    assert result["messages"][-1].content == "the researcher says 4"
    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == """invoke_agent assistant
  node model
    chat gpt-4o-mini
  node tools
    execute_tool ask_researcher
      node model
        chat gpt-4o-mini
      node tools
        execute_tool add
      node model
        chat gpt-4o-mini
  node model
    chat gpt-4o-mini"""
    host = one(spans, "execute_tool ask_researcher")
    assert host.attributes["gen_ai.agent.name"] == "researcher"
    assert host.attributes["agent_obs.agent.parent"] == "assistant"
    assert host.attributes["agent_obs.agent.root"] == "assistant"
    assert observer.open_runs == 0
    tool_count = "gen_ai_execute_tool_duration_seconds_count"
    assert sample(registry, tool_count, gen_ai_agent_name="assistant", gen_ai_tool_name="ask_researcher",
                  error_type="") == 1
    assert sample(registry, tool_count, gen_ai_agent_name="researcher", gen_ai_tool_name="add", error_type="") == 1
    assert sample(registry, "agent_obs_node_duration_seconds_count", agent="researcher", node="model",
                  status="ok") == 2
    assert sample(registry, "agent_obs_node_duration_seconds_count", agent="assistant", node="model",
                  status="ok") == 2
    assert sample(registry, "gen_ai_invoke_agent_duration_seconds_count", gen_ai_agent_name="researcher",
                  error_type="") == 1
    # the nested agent is not a second top-level run
    assert sample(registry, "agent_obs_runs_total", agent="assistant", status="ok") == 1
    assert sample(registry, "agent_obs_runs_total", agent="researcher", status="ok") is None
    tool_logs = [r["extra"] for r in log_records if r["extra"].get("event") == "agent.tool.end"]
    assert sorted((e["agent"], e.get("root_agent")) for e in tool_logs) == [
        ("assistant", None), ("researcher", "assistant")]


@pytest.mark.parametrize("how", ["invoke", "astream"])
async def test_supervisor_on_real_openai_clients_costs_each_agent_what_the_server_reported(
        how, observer, span_exporter, registry):
    from openai_wire import (MODEL, P_CACHED, P_IN, P_OUT, FakeOpenAI, completion, openai_model, text_choice,
                             tool_calls_choice, usage_body)

    boss_server = FakeOpenAI([
        completion([tool_calls_choice([("call_h1", "transfer_to_math_agent", {})])], usage_body(300, 12),
                   id="chatcmpl-B1"),
        completion([text_choice(0, "done: 3")], usage_body(420, 6, cached=256), id="chatcmpl-B2")])
    math_server = FakeOpenAI([
        completion([tool_calls_choice([("call_a1", "add", {"a": 1, "b": 2})])], usage_body(150, 20, reasoning=8),
                   id="chatcmpl-M1"),
        completion([text_choice(0, "3")], usage_body(190, 3), id="chatcmpl-M2")])
    math = react(openai_model(math_server), [add], "math_agent")
    app = create_supervisor([math], model=openai_model(boss_server), supervisor_name="supervisor").compile(name="team")
    await _run(app, user("1+2?"), {"callbacks": [observer]}, how)
    assert len(boss_server.requests) == 2 and len(math_server.requests) == 2
    assert boss_server.requests[0]["tools"][0]["function"]["name"] == "transfer_to_math_agent"

    spans = list(span_exporter.get_finished_spans())
    assert render_tree(spans) == SUPERVISOR_TREE
    chats = sorted(by_name(spans, f"chat {MODEL}"), key=lambda s: s.start_time)
    assert [c.attributes["gen_ai.response.id"] for c in chats] == [
        "chatcmpl-B1", "chatcmpl-M1", "chatcmpl-M2", "chatcmpl-B2"]
    assert [(c.attributes["gen_ai.usage.input_tokens"], c.attributes["gen_ai.usage.output_tokens"])
            for c in chats] == [(300, 12), (150, 20), (190, 3), (420, 6)]
    assert [parent_of(spans, parent_of(spans, c)).attributes["gen_ai.agent.name"] for c in chats] == [
        "supervisor", "math_agent", "math_agent", "supervisor"]
    assert one(spans, "execute_tool add").attributes["gen_ai.tool.call.id"] == "call_a1"
    handoff = one(spans, "execute_tool transfer_to_math_agent")
    assert handoff.attributes["gen_ai.tool.call.id"] == "call_h1"
    assert parent_of(spans, handoff).attributes["langgraph.handoff.destination"] == "math_agent"
    assert not [s for s in spans if "langgraph.interrupted" in s.attributes]

    boss_cost = ((300 + 420 - 256) * P_IN + 256 * P_CACHED + (12 + 6) * P_OUT) / 1e6
    math_cost = ((150 + 190) * P_IN + (20 + 3) * P_OUT) / 1e6
    cost = "agent_obs_llm_cost_usd_total"
    assert sample(registry, cost, agent="supervisor", gen_ai_request_model=MODEL) == pytest.approx(boss_cost)
    assert sample(registry, cost, agent="math_agent", gen_ai_request_model=MODEL) == pytest.approx(math_cost)
    tokens = "agent_obs_llm_tokens_total"
    assert sample(registry, tokens, agent="supervisor", gen_ai_request_model=MODEL, gen_ai_token_type="input") == 720
    assert sample(registry, tokens, agent="math_agent", gen_ai_request_model=MODEL, gen_ai_token_type="output") == 23
    assert sample(registry, "agent_obs_runs_total", agent="team", status="ok") == 1
