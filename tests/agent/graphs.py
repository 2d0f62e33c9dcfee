"""Real LangGraph graphs and a scripted chat model used by the agent_obs tests.

The scripted model is a ``BaseChatModel`` that replays a list of ``AIMessage``s, keeping
tool calls, ``usage_metadata`` and ``response_metadata`` (the stock fake chat models drop
some of these), and streams them word by word through ``_stream`` when asked to.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Iterator, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition


class ScriptedChatModel(BaseChatModel):
    """Replies with ``responses[k]`` where k counts the AI turns already in the conversation.

    So concurrent conversations on one model each follow the script from the start; with
    ``by_conversation=False`` the responses are handed out in call order instead.
    """

    responses: list[AIMessage]
    model: str = "gpt-4o-mini"
    provider: str = "openai"
    report_usage: bool = True
    by_conversation: bool = True
    id_prefix: str = "chatcmpl-"  # distinct per model when several share one message list
    _counter: Any = None
    _lock: Any = None

    def model_post_init(self, __context: Any) -> None:
        self._counter = itertools.count()
        self._lock = threading.Lock()

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        return {"ls_provider": self.provider, "ls_model_name": self.model, "ls_model_type": "chat",
                "ls_temperature": 0.0}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model}

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "ScriptedChatModel":
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        with self._lock:
            index = next(self._counter)
        if self.by_conversation:
            index = sum(1 for m in messages if isinstance(m, AIMessage))
        message = self.responses[index % len(self.responses)]
        metadata = {"model_name": self.model + "-2024-07-18",
                    "finish_reason": "tool_calls" if message.tool_calls else "stop"}
        usage = message.usage_metadata if self.report_usage else None
        if self.report_usage and usage is None:
            usage = {"input_tokens": 20, "output_tokens": 10, "total_tokens": 30}
        return AIMessage(content=message.content, tool_calls=message.tool_calls,
                         usage_metadata=usage, response_metadata=metadata, id=f"{self.id_prefix}{index}")

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any
                ) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages)
        words = message.content.split(" ") if message.content else [""]
        for i, word in enumerate(words):
            text = word if i == 0 else " " + word
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
        last = AIMessageChunk(
            content="",
            tool_call_chunks=[{"name": c["name"], "args": __import__("json").dumps(c["args"]),
                               "id": c["id"], "index": n} for n, c in enumerate(message.tool_calls)],
            usage_metadata=message.usage_metadata, response_metadata=message.response_metadata,
            chunk_position="last",
        )
        yield ChatGenerationChunk(message=last)


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny in {city}"


@tool
def lookup_price(item: str) -> str:
    """Price of an item."""
    return f"{item} costs 3 USD"


@tool
def broken_tool(x: str) -> str:
    """Always fails."""
    raise ValueError(f"broken for {x}")


def tool_call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def tool_agent_script() -> list[AIMessage]:
    """Round 1: two parallel tool calls; round 2: final answer."""
    return [
        AIMessage(content="", tool_calls=[tool_call("get_weather", {"city": "Paris"}, "call_1"),
                                          tool_call("lookup_price", {"item": "tea"}, "call_2")]),
        AIMessage(content="It is sunny in Paris and tea costs 3 USD"),
    ]


def build_tool_agent(model: BaseChatModel, tools: Sequence[Any] = (get_weather, lookup_price),
                     name: str = "weather_agent", checkpointer: Any = None):
    bound = model.bind_tools(list(tools))

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(list(tools), handle_tool_errors=True))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(name=name, checkpointer=checkpointer)


def user(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(content=text)]}
