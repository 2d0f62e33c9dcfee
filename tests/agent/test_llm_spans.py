"""LLM spans: model, provider, usage, finish reasons and time to first chunk, on real shapes.

The OpenAI tests run langchain-openai's real ``ChatOpenAI`` against an httpx ``MockTransport``
that returns real Chat Completions response bodies (JSON and server-sent events), so the
extraction is proven on what the provider integration really produces.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from span_helpers import by_name, one, parent_of
from graphs import ScriptedChatModel, build_tool_agent, get_weather, tool_agent_script, user
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langgraph.graph import START, MessagesState, StateGraph

COMPLETION_TOOL_CALL = {
    "id": "chatcmpl-AbC123",
    "object": "chat.completion",
    "created": 1732700000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{
        "index": 0,
        "message": {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_abc", "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}],
            "refusal": None,
        },
        "logprobs": None,
        "finish_reason": "tool_calls",
    }],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
              "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
    "system_fingerprint": "fp_0ba0d124f1",
}

COMPLETION_TEXT = {
    "id": "chatcmpl-XyZ789",
    "object": "chat.completion",
    "created": 1732700001,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "It is sunny in Paris.",
                                         "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127,
              "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}},
    "system_fingerprint": "fp_0ba0d124f1",
}


def sse_stream(text_parts: list[str], with_usage: bool) -> bytes:
    base = {"id": "chatcmpl-Str3am", "object": "chat.completion.chunk", "created": 1732700002,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_0ba0d124f1"}
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "logprobs": None, "finish_reason": None}]}]
    for part in text_parts:
        events.append({**base, "choices": [{"index": 0, "delta": {"content": part}, "logprobs": None,
                                            "finish_reason": None}]})
    events.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    if with_usage:
        events.append({**base, "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 4,
                                                        "total_tokens": 54}})
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return body.encode()


class FakeOpenAI:
    """Stands in for api.openai.com: answers /chat/completions with scripted real bodies."""

    def __init__(self, bodies: list[Any]) -> None:
        self.bodies = list(bodies)
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/chat/completions")
        self.requests.append(json.loads(request.content))
        body = self.bodies.pop(0)
        if isinstance(body, bytes):
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=body)


def openai_model(fake: FakeOpenAI, **kwargs: Any):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="gpt-4o-mini", api_key="sk-test-not-a-real-key", base_url="http://openai.test/v1",
                      http_client=httpx.Client(transport=httpx.MockTransport(fake)),
                      http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
                      max_retries=0, **kwargs)


def test_chat_openai_tool_agent_real_response_shapes(observer, span_exporter, registry):
    fake = FakeOpenAI([COMPLETION_TOOL_CALL, COMPLETION_TEXT])
    graph = build_tool_agent(openai_model(fake, temperature=0.2), tools=[get_weather], name="openai_agent")
    result = graph.invoke(user("weather in Paris?"), config={"callbacks": [observer]})
    assert result["messages"][-1].content == "It is sunny in Paris."

    spans = list(span_exporter.get_finished_spans())
    first, second = sorted(by_name(spans, "chat gpt-4o-mini"), key=lambda s: s.start_time)
    assert first.attributes["gen_ai.provider.name"] == "openai"
    assert first.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert first.attributes["gen_ai.request.temperature"] == 0.2
    assert first.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert first.attributes["gen_ai.response.id"] == "chatcmpl-AbC123"
    assert first.attributes["gen_ai.usage.input_tokens"] == 82
    assert first.attributes["gen_ai.usage.output_tokens"] == 17
    assert first.attributes["gen_ai.usage.cache_read.input_tokens"] == 64
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert "agent_obs.usage.estimated" not in first.attributes
    # gpt-4o-mini: 18 uncached + 64 cached input tokens and 17 output tokens
    assert first.attributes["agent_obs.cost.usd"] == pytest.approx(
        (18 * 0.15 + 64 * 0.075 + 17 * 0.60) / 1_000_000)
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert second.attributes["gen_ai.usage.input_tokens"] == 120
    tool_span = one(spans, "execute_tool get_weather")
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call_abc"
    assert registry.get_sample_value(
        "gen_ai_client_token_usage_sum",
        {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai",
         "gen_ai_request_model": "gpt-4o-mini", "gen_ai_token_type": "input"}) == 202.0


@pytest.mark.parametrize("with_usage", [True, False])
def test_chat_openai_streamed_ttft_and_usage(with_usage, tokenizer_loaded, observer, span_exporter, registry):
    fake = FakeOpenAI([sse_stream(["It ", "is ", "sunny."], with_usage)])
    model = openai_model(fake, streaming=True, stream_usage=with_usage)

    def agent(state: MessagesState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_edge(START, "agent")
    app = graph.compile(name="streamer")
    tokens = [chunk for chunk, _ in app.stream(user("weather?"), config={"callbacks": [observer]},
                                               stream_mode="messages")]
    assert "".join(t.content for t in tokens) == "It is sunny."
    span = one(list(span_exporter.get_finished_spans()), "chat gpt-4o-mini")
    ttft = span.attributes["gen_ai.response.time_to_first_chunk"]
    assert 0 < ttft < (span.end_time - span.start_time) / 1e9
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    labels = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai",
              "gen_ai_request_model": "gpt-4o-mini"}
    assert registry.get_sample_value("gen_ai_client_operation_time_to_first_chunk_seconds_count", labels) == 1
    if with_usage:
        assert span.attributes["gen_ai.usage.input_tokens"] == 50
        assert span.attributes["gen_ai.usage.output_tokens"] == 4
        assert "agent_obs.usage.estimated" not in span.attributes
    else:
        # no usage from the provider: counted offline with tiktoken (o200k_base for gpt-4o-mini)
        assert span.attributes["agent_obs.usage.estimated"] is True
        assert span.attributes["agent_obs.usage.estimator"] == "o200k_base"
        assert span.attributes["gen_ai.usage.output_tokens"] == 4  # "It is sunny."
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        input_tokens = span.attributes["gen_ai.usage.input_tokens"]
        # gpt-4o-mini list prices: 0.15 USD per million input, 0.60 per million output tokens
        assert span.attributes["agent_obs.cost.usd"] == pytest.approx((input_tokens * 0.15 + 4 * 0.60) / 1e6)
        cost = registry.get_sample_value("agent_obs_llm_cost_usd_total",
                                         {"agent": "streamer", "gen_ai_request_model": "gpt-4o-mini"})
        assert cost == pytest.approx(span.attributes["agent_obs.cost.usd"])


def test_scripted_model_streaming_chunks_and_tool_calls(observer, span_exporter):
    graph = build_tool_agent(ScriptedChatModel(responses=tool_agent_script()))
    list(graph.stream(user("hi"), config={"callbacks": [observer]}, stream_mode="messages"))
    spans = list(span_exporter.get_finished_spans())
    chats = by_name(spans, "chat gpt-4o-mini")
    assert len(chats) == 2
    assert all("gen_ai.response.time_to_first_chunk" in c.attributes for c in chats)
    assert len(by_name(spans, "execute_tool lookup_price")) == 1  # tool calls survived streaming


def test_no_usage_reported_is_estimated_with_tiktoken(tokenizer_loaded, observer, span_exporter):
    model = ScriptedChatModel(responses=[AIMessage(content="hello world")], report_usage=False)

    def agent(state: MessagesState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_edge(START, "agent")
    graph.compile(name="est").invoke({"messages": [HumanMessage(content="hello world")]},
                                     config={"callbacks": [observer]})
    span = one(list(span_exporter.get_finished_spans()), "chat gpt-4o-mini")
    assert span.attributes["agent_obs.usage.estimated"] is True
    assert span.attributes["agent_obs.usage.estimator"] == "o200k_base"
    assert span.attributes["gen_ai.usage.output_tokens"] == 2
    assert span.attributes["gen_ai.usage.input_tokens"] == 9  # 2 tokens + 3 per message + 3 priming + role


def test_plain_llm_is_text_completion(observer, span_exporter):
    llm = FakeListLLM(responses=["forty-two"])

    def ask(state: MessagesState) -> dict:
        return {"messages": [AIMessage(content=llm.invoke("meaning of life?"))]}

    graph = StateGraph(MessagesState)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.compile(name="llm").invoke(user("q"), config={"callbacks": [observer]})
    spans = list(span_exporter.get_finished_spans())
    completion = [s for s in spans if s.name.startswith("text_completion")]
    assert len(completion) == 1
    assert completion[0].attributes["gen_ai.operation.name"] == "text_completion"
    assert parent_of(spans, completion[0]).name == "node ask"


def test_llm_output_token_usage_of_older_integrations():
    from agent_obs import extract

    result = LLMResult(generations=[[ChatGeneration(message=AIMessage(content="x"))]],
                       llm_output={"token_usage": {"prompt_tokens": 11, "completion_tokens": 5,
                                                   "completion_tokens_details": {"reasoning_tokens": 3}},
                                   "model_name": "gpt-4-0613"})
    usage = extract.usage(result)
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning) == (11, 5, 3)
    assert extract.response_model(result) == "gpt-4-0613"


def test_usage_metadata_details_and_anthropic_stop_reason():
    from agent_obs import extract

    message = AIMessage(content="x", usage_metadata={
        "input_tokens": 100, "output_tokens": 40, "total_tokens": 140,
        "input_token_details": {"cache_read": 80, "cache_creation": 10},
        "output_token_details": {"reasoning": 25}},
        response_metadata={"model": "claude-sonnet-4-20250514", "stop_reason": "end_turn"})
    result = LLMResult(generations=[[ChatGeneration(message=message)]])
    usage = extract.usage(result)
    assert (usage.input_tokens, usage.output_tokens) == (100, 40)
    assert (usage.cache_read, usage.cache_creation, usage.reasoning) == (80, 10, 25)
    assert extract.finish_reasons(result) == ("end_turn",)
    assert extract.response_model(result) == "claude-sonnet-4-20250514"


def test_model_and_provider_lookup_order():
    from agent_obs import extract

    assert extract.request_model({"model_name": "a"}, {"ls_model_name": "b"}) == "a"
    assert extract.request_model({}, {"ls_model_name": "b"}) == "b"
    assert extract.request_model(None, None, {"kwargs": {"model": "c"}}) == "c"
    assert extract.request_model(None, None) is None
    assert extract.provider({"ls_provider": "anthropic"}, None) == "anthropic"
    assert extract.provider({"ls_provider": "azure"}, None) == "azure.ai.openai"
    assert extract.provider({"ls_provider": "google_vertexai"}, None) == "gcp.vertex_ai"
    assert extract.provider({}, {"_type": "openai-chat"}) == "openai"
    assert extract.provider(None, None) is None


def test_unknown_model_costs_nothing_and_says_so(tracer_provider, registry, span_exporter):
    from agent_obs import AgentObserver

    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry)
    model = ScriptedChatModel(responses=tool_agent_script(), model="house-model-7b", provider="ollama")
    build_tool_agent(model).invoke(user("hi"), config={"callbacks": [observer]})
    for span in by_name(list(span_exporter.get_finished_spans()), "chat house-model-7b"):
        assert "agent_obs.cost.usd" not in span.attributes
        assert span.attributes["agent_obs.cost.unknown_model"] is True
    assert registry.get_sample_value("agent_obs_llm_cost_usd_total",
                                     {"agent": "weather_agent", "gen_ai_request_model": "house-model-7b"}) is None


def test_price_overrides_are_used(tracer_provider, registry, span_exporter):
    from agent_obs import AgentObserver

    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry,
                             prices={"house-model-7b": {"input": 1.0, "output": 2.0}})
    model = ScriptedChatModel(responses=tool_agent_script(), model="house-model-7b")
    build_tool_agent(model).invoke(user("hi"), config={"callbacks": [observer]})
    spans = by_name(list(span_exporter.get_finished_spans()), "chat house-model-7b")
    assert all(s.attributes["agent_obs.cost.usd"] == pytest.approx((20 * 1.0 + 10 * 2.0) / 1e6) for s in spans)
