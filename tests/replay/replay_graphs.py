"""A small, realistic tool-calling LangGraph agent for the replay tests.

The "agent" node asks a chat model (langchain-core's GenericFakeChatModel, with scripted
tool calls and usage) what to do; the "tools" node runs the tools it asked for; the loop
ends when the model answers without tool calls. ``build_graph(model, tools=...)`` lets a
test swap a tool to provoke a divergence on re-run.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

SYSTEM = "You tune SQL queries. Use the tools, then answer briefly."
QUESTION = "Why is job 42 slow?"


@tool
def table_stats(table: str) -> str:
    """Row count and partitioning of a table."""
    return f"{table}: 1200000 rows, not partitioned"


@tool
def explain(sql: str) -> str:
    """The query plan of a statement."""
    return f"plan for {sql!r}: full scan on orders"


TOOLS = [table_stats, explain]


class ScriptedChatModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts ``bind_tools`` (the scripted replies carry the calls)."""

    model_name: str = "gpt-4o-mini"

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ScriptedChatModel":
        return self

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}


def script() -> list[AIMessage]:
    usage = lambda i, o: {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}  # noqa: E731
    return [
        AIMessage(
            content="",
            tool_calls=[
                {"name": "table_stats", "args": {"table": "orders"}, "id": "call_1", "type": "tool_call"},
            ],
            usage_metadata=usage(120, 18),
            response_metadata={"finish_reason": "tool_calls", "model_name": "gpt-4o-mini"},
        ),
        AIMessage(
            content="",
            tool_calls=[
                {"name": "explain", "args": {"sql": "SELECT * FROM orders"}, "id": "call_2", "type": "tool_call"},
            ],
            usage_metadata=usage(180, 22),
            response_metadata={"finish_reason": "tool_calls", "model_name": "gpt-4o-mini"},
        ),
        AIMessage(
            content="Job 42 scans 1.2M unpartitioned rows; partition orders by date.",
            usage_metadata=usage(240, 30),
            response_metadata={"finish_reason": "stop", "model_name": "gpt-4o-mini"},
        ),
    ]


def scripted_model(messages: Iterable[AIMessage] | None = None) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(list(messages if messages is not None else script())))


def build_graph(model: Any, tools: list[Callable[..., Any]] | None = None) -> Any:
    tools = tools if tools is not None else TOOLS
    bound = model.bind_tools(tools)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke([SystemMessage(SYSTEM), *state["messages"]])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(name="sql_tuner")


def inputs() -> dict[str, Any]:
    return {"messages": [HumanMessage(QUESTION)]}
