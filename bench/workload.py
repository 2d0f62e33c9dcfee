"""The benchmark workload: a tool-calling LangGraph agent with a scripted chat model.

A ``StateGraph(MessagesState)``: ``agent`` (a scripted chat model bound to three tools) ->
``tools_condition`` -> ``ToolNode`` -> back to ``agent``, for ``rounds`` tool rounds and a
final answer. With the default five rounds one ``invoke`` makes 31 LangChain runs and 62
callback events (7 tool calls, two rounds with parallel calls), the shape of the shared peer
rig's workload. The model's replies are a pure function of the conversation, carry
``usage_metadata``, ``model_name`` and ``finish_reason`` like a real provider's, and stream
one chunk per word, so every configuration does identical work and nothing touches the
network. Also here: the reference handlers every configuration is compared with.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

SYSTEM = "You plan trips. Check every fact with a tool before you answer."
QUESTION = "Next week I fly to Oslo with two bags. Weather there, and what does adapter A-17 cost in NOK?"
THINKING = "I will call {tool} first so that the answer rests on checked numbers."
ANSWER = (
    "Oslo will be about 6C with drizzle, so bring a warm rain jacket. Adapter A-17 costs 389 NOK "
    "and 12 are in stock; two checked bags cost 700 NOK in total. Safe travels, and keep the "
    "adapter in your hand luggage so it is at hand on arrival."
)
PLAN = (  # tool calls the model asks for, per round (cycled)
    [("weather", {"city": "Oslo"})],
    [("price", {"item": "A-17", "currency": "NOK"}), ("calc", {"expression": "2*350"})],
    [("calc", {"expression": "700+0"})],
    [("weather", {"city": "Bergen"}), ("price", {"item": "B-2"})],
    [("price", {"item": "A-17", "currency": "EUR"})],
)
MODEL_NAME = "gpt-4o-mini"


@tool
def weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 6C, drizzle, wind 20 km/h"


@tool
def price(item: str, currency: str = "EUR") -> dict:
    """Price and stock of a catalogue item."""
    return {"item": item, "price": 389.0, "currency": currency, "stock": 12}


@tool
def calc(expression: str) -> str:
    """Evaluate 'a<op>b' for op in + - * /."""
    found = re.fullmatch(r"\s*([\d.]+)\s*([-+*/])\s*([\d.]+)\s*", expression)
    if not found:
        return "unsupported"
    a, op, b = float(found.group(1)), found.group(2), float(found.group(3))
    return str({"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else float("nan")}[op])


TOOLS = [weather, price, calc]


def words(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text)


class ScriptedModel(BaseChatModel):
    """Replies as a function of how many AI turns the conversation already has."""

    rounds: int = 5
    model_name: str = MODEL_NAME

    @property
    def _llm_type(self) -> str:
        return "bench-scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        return {"ls_provider": "openai", "ls_model_name": self.model_name, "ls_model_type": "chat"}

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:  # type: ignore[override]
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def reply(self, messages: list[BaseMessage]) -> AIMessage:
        turn = sum(1 for m in messages if isinstance(m, AIMessage))
        prompt_tokens = sum(len(str(m.content)) for m in messages) // 4 + 120
        meta = {"model_name": self.model_name}
        if turn < self.rounds:
            calls = PLAN[turn % len(PLAN)]
            content = THINKING.format(tool=calls[0][0])
            out = len(words(content)) + 12 * len(calls)
            return AIMessage(
                content=content, id=f"r{turn}",
                tool_calls=[{"name": n, "args": a, "id": f"c{turn}_{i}", "type": "tool_call"}
                            for i, (n, a) in enumerate(calls)],
                usage_metadata={"input_tokens": prompt_tokens, "output_tokens": out,
                                "total_tokens": prompt_tokens + out},
                response_metadata={**meta, "finish_reason": "tool_calls"},
            )
        out = len(words(ANSWER))
        return AIMessage(content=ANSWER, id=f"r{turn}",
                         usage_metadata={"input_tokens": prompt_tokens, "output_tokens": out,
                                         "total_tokens": prompt_tokens + out},
                         response_metadata={**meta, "finish_reason": "stop"})

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:  # type: ignore[override]
        return ChatResult(generations=[ChatGeneration(message=self.reply(messages))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:  # type: ignore[override]
        msg = self.reply(messages)
        for token in words(str(msg.content)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id=msg.id))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        last = ChatGenerationChunk(message=AIMessageChunk(
            content="", id=msg.id,
            tool_call_chunks=[{"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                              for i, c in enumerate(msg.tool_calls)],
            usage_metadata=msg.usage_metadata, response_metadata=msg.response_metadata,
            chunk_position="last"))
        if run_manager:
            run_manager.on_llm_new_token("", chunk=last)
        yield last


def build_graph(rounds: int = 5) -> Any:
    llm = ScriptedModel(rounds=rounds).bind_tools(TOOLS)

    def agent(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"], config)]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(TOOLS))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile(name="trip-planner")


def graph_input() -> dict[str, Any]:
    return {"messages": [SystemMessage(SYSTEM), HumanMessage(QUESTION)]}


def expected_messages(rounds: int = 5) -> int:
    calls = sum(len(PLAN[r % len(PLAN)]) for r in range(rounds))
    return 2 + rounds + calls + 1


def streamed_tokens(rounds: int = 5) -> int:
    thoughts = sum(len(words(THINKING.format(tool=PLAN[r % len(PLAN)][0][0]))) for r in range(rounds))
    return thoughts + len(words(ANSWER))


# --- reference handlers and sinks -------------------------------------------------------
class NoopHandler(BaseCallbackHandler):
    """Every on_* inherited as a no-op: what LangChain's callback dispatch alone costs."""


class MinimalSpanHandler(BaseCallbackHandler):
    """The lower bound of a span-per-run design: run_id -> span, start and end, nothing else."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._spans: dict[Any, Any] = {}

    def _start(self, name: str, run_id: Any, parent_run_id: Any) -> None:
        parent = self._spans.get(parent_run_id) if parent_run_id is not None else None
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        self._spans[run_id] = self._tracer.start_span(name, context=ctx)

    def _end(self, run_id: Any) -> None:
        span = self._spans.pop(run_id, None)
        if span is not None:
            span.end()

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, **kw):  # type: ignore[override]
        self._start(kw.get("name") or "chain", run_id, parent_run_id)

    def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, **kw):  # type: ignore[override]
        self._start("chat", run_id, parent_run_id)

    def on_tool_start(self, serialized, input_str, *, run_id, parent_run_id=None, **kw):  # type: ignore[override]
        self._start("execute_tool " + str(kw.get("name") or "tool"), run_id, parent_run_id)

    def on_chain_end(self, outputs, *, run_id, **kw):  # type: ignore[override]
        self._end(run_id)

    def on_llm_end(self, response, *, run_id, **kw):  # type: ignore[override]
        self._end(run_id)

    def on_tool_end(self, output, *, run_id, **kw):  # type: ignore[override]
        self._end(run_id)

    def on_chain_error(self, error, *, run_id, **kw):  # type: ignore[override]
        self._end(run_id)

    def on_llm_error(self, error, *, run_id, **kw):  # type: ignore[override]
        self._end(run_id)

    def on_tool_error(self, error, *, run_id, **kw):  # type: ignore[override]
        self._end(run_id)


class CountingExporter(SpanExporter):
    """Counts exported spans and drops them: no encoding, no I/O, no unbounded list."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans = 0

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        with self._lock:
            self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
