"""The replay tests' runs of the notebooks' demo agent (``notebooks/replay_demo_agent.py``).

The agent itself, its tools and its scripted chat model come from the notebooks' module:
the "agent" node asks the model what to do, the "tools" node runs the tools it asked for,
and the loop ends when the model answers without tool calls; ``build_graph(model,
tools=...)`` lets a test swap a tool to provoke a divergence on re-run. What is kept here is
the tests' own conversation: the question, and the scripted replies with the call ids and
answer the tests assert on.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable

from langchain_core.messages import AIMessage, HumanMessage

_NOTEBOOKS = str(Path(__file__).resolve().parents[2] / "notebooks")
sys.path.insert(0, _NOTEBOOKS)
try:
    from replay_demo_agent import TOOLS, ScriptedChatModel, build_graph, explain  # noqa: F401 - re-exported
finally:
    sys.path.remove(_NOTEBOOKS)

QUESTION = "Why is job 42 slow?"


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


def inputs() -> dict[str, Any]:
    return {"messages": [HumanMessage(QUESTION)]}
