"""A small tool-calling LangGraph agent the notebooks can record and re-run offline.

``build_graph(model)`` is the graph (agent -> tools -> agent ... -> end); ``scripted_model``
answers with scripted tool calls and usage, so no LLM or network is needed; ``record(path)``
runs it a few times under an ``AgentObserver`` with content capture and appends the spans
to a trace file, using a private tracer provider (the process's globals are not touched).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

AGENT_NAME = "sql_tuner"
MODEL = "gpt-4o-mini"
SYSTEM = "You tune SQL queries. Use the tools, then answer briefly."
QUESTIONS = {
    "orders": "Why is the daily orders report slow?",
    "events": "Why does the events rollup take 10 minutes?",
    "customers": "Can the customer lookup be faster?",
}
_ROWS = {"orders": 1_200_000, "events": 48_000_000, "customers": 90_000}


@tool
def table_stats(table: str) -> str:
    """Row count and partitioning of a table."""
    if table not in _ROWS:
        raise ValueError(f"unknown table {table}")
    return f"{table}: {_ROWS[table]} rows, not partitioned"


@tool
def explain(sql: str) -> str:
    """The query plan of a statement."""
    return f"plan for {sql!r}: full scan"


TOOLS = [table_stats, explain]


class ScriptedChatModel(GenericFakeChatModel):
    """langchain-core's fake chat model, accepting ``bind_tools`` and naming its model."""

    model_name: str = MODEL

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ScriptedChatModel":
        return self

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}


def _usage(i: int, o: int) -> dict[str, int]:
    return {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}


def script(table: str) -> list[AIMessage]:
    meta = {"model_name": MODEL}
    return [
        AIMessage(content="", tool_calls=[{"name": "table_stats", "args": {"table": table}, "id": f"{table}_1",
                                           "type": "tool_call"}],
                  usage_metadata=_usage(120, 18), response_metadata={**meta, "finish_reason": "tool_calls"}),
        AIMessage(content="", tool_calls=[{"name": "explain", "args": {"sql": f"SELECT * FROM {table}"},
                                           "id": f"{table}_2", "type": "tool_call"}],
                  usage_metadata=_usage(180, 22), response_metadata={**meta, "finish_reason": "tool_calls"}),
        AIMessage(content=f"{table} is scanned in full; partition it by date.",
                  usage_metadata=_usage(240, 30), response_metadata={**meta, "finish_reason": "stop"}),
    ]


def scripted_model(table: str = "orders") -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(script(table)))


def build_graph(model: Any, tools: Sequence[Any] | None = None) -> Any:
    tools = list(tools if tools is not None else TOOLS)
    bound = model.bind_tools(tools)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke([SystemMessage(SYSTEM), *state["messages"]])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(name=AGENT_NAME)


def inputs(table: str = "orders") -> dict[str, Any]:
    return {"messages": [HumanMessage(QUESTIONS.get(table, f"Why is {table} slow?"))]}


def record(path: str | Path, tables: Sequence[str] = ("orders", "events", "customers", "audit")) -> Path:
    """Run the agent once per table (``audit`` is unknown: that run fails) into ``path``."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from prometheus_client import CollectorRegistry

    from agent_obs.observer import AgentObserver
    from agent_obs.otlp_json import OtlpJsonFileExporter

    target = Path(path)
    provider = TracerProvider(resource=Resource.create({"service.name": "replay-demo"}))
    provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(target)))
    observer = AgentObserver(tracer_provider=provider, registry=CollectorRegistry(), capture_content=True)
    try:
        for table in tables:
            graph = build_graph(scripted_model(table))
            try:
                graph.invoke(inputs(table), config={"callbacks": [observer]})
            except ValueError:
                pass  # the failing run is part of the demo
    finally:
        provider.shutdown()
    return target
