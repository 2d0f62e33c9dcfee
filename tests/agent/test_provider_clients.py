"""Real provider clients over a mocked HTTP transport, answered in the providers' exact wire
format: every value the observer records is compared with what the "server" sent.

``ChatOpenAI`` gets an ``httpx.MockTransport`` through ``http_client=``/``http_async_client=``;
``ChatAnthropic`` builds its own httpx client, so its builder is pointed at the mock. Nothing
leaves the process. Covered: ``n=2``, service tiers, ``stream_usage``, parallel tool calls,
429 and 500 answers, an SSE error mid-stream, and Anthropic's cache creation/read usage.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphs import build_tool_agent, get_weather, lookup_price, user
from langgraph.graph import START, MessagesState, StateGraph
from openai_wire import (
    LLM_LABELS,
    MODEL,
    P_CACHED,
    P_IN,
    P_OUT,
    RESPONSE_MODEL,
    FakeOpenAI,
    chunk,
    completion,
    openai_model,
    sse,
    text_choice,
    text_stream,
    tool_calls_choice,
    usage_body,
)
from opentelemetry.trace import StatusCode
from span_helpers import by_name, one


def one_call_graph(model: Any, *, stream: bool = False):
    """A one-node graph whose node calls the model (streaming through ``model.stream``)."""

    def call(state: MessagesState) -> dict[str, Any]:
        if stream:
            message = None
            for piece in model.stream(state["messages"]):
                message = piece if message is None else message + piece
            return {"messages": [message]}
        return {"messages": [model.invoke(state["messages"])]}

    async def acall(state: MessagesState) -> dict[str, Any]:
        if stream:
            message = None
            async for piece in model.astream(state["messages"]):
                message = piece if message is None else message + piece
            return {"messages": [message]}
        return {"messages": [await model.ainvoke(state["messages"])]}

    from langchain_core.runnables import RunnableLambda

    graph = StateGraph(MessagesState)
    graph.add_node("call", RunnableLambda(call, afunc=acall))
    graph.add_edge(START, "call")
    return graph.compile(name="client_probe")


async def run_graph(graph: Any, observer: Any, how: str) -> Any:
    config = {"callbacks": [observer]}
    if how == "sync":
        return graph.invoke(user("hello"), config=config)
    return await graph.ainvoke(user("hello"), config=config)


def chat_span(span_exporter) -> Any:
    return one(list(span_exporter.get_finished_spans()), f"chat {MODEL}")


def token_sum(registry, token_type: str) -> float | None:
    return registry.get_sample_value("gen_ai_client_token_usage_sum", {**LLM_LABELS, "gen_ai_token_type": token_type})


def cost_total(registry) -> float | None:
    return registry.get_sample_value("agent_obs_llm_cost_usd_total",
                                     {"agent": "client_probe", "gen_ai_request_model": MODEL})


# --- n > 1 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["sync", "async"])
async def test_n2_counts_the_calls_usage_once_and_keeps_the_response_id(how, observer, span_exporter, registry):
    fake = FakeOpenAI([completion([text_choice(0, "Paris."), text_choice(1, "It is Paris", "length")],
                                  usage_body(1000, 100, cached=800, reasoning=40), id="chatcmpl-N2")])
    await run_graph(one_call_graph(openai_model(fake, n=2)), observer, how)
    assert fake.requests[0]["n"] == 2

    attrs = chat_span(span_exporter).attributes
    assert attrs["gen_ai.response.id"] == "chatcmpl-N2"
    assert attrs["gen_ai.response.model"] == RESPONSE_MODEL
    assert attrs["gen_ai.usage.input_tokens"] == 1000
    assert attrs["gen_ai.usage.output_tokens"] == 100
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 800
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 40
    assert attrs["gen_ai.response.finish_reasons"] == ("stop", "length")
    assert attrs["openai.response.service_tier"] == "default"
    expected = (200 * P_IN + 800 * P_CACHED + 100 * P_OUT) / 1e6
    assert attrs["agent_obs.cost.usd"] == pytest.approx(expected)
    assert token_sum(registry, "input") == 1000 and token_sum(registry, "output") == 100
    assert cost_total(registry) == pytest.approx(expected)


# --- service tiers -------------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["priority", "flex"])
def test_service_tier_cached_and_reasoning_tokens_are_read(tier, observer, span_exporter, registry):
    fake = FakeOpenAI([completion([text_choice(0, "ok")], usage_body(1000, 100, cached=800, reasoning=40),
                                  service_tier=tier)])
    one_call_graph(openai_model(fake, service_tier=tier)).invoke(user("hi"), config={"callbacks": [observer]})
    assert fake.requests[0]["service_tier"] == tier
    attrs = chat_span(span_exporter).attributes
    assert attrs["openai.response.service_tier"] == tier
    assert attrs["gen_ai.usage.input_tokens"] == 1000
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 800
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 40
    # Tier prices are not modelled: the standard-tier list prices, with the cache discount.
    assert attrs["agent_obs.cost.usd"] == pytest.approx((200 * P_IN + 800 * P_CACHED + 100 * P_OUT) / 1e6)


@pytest.mark.parametrize("tier", ["priority", "flex"])
def test_streamed_service_tier_usage_is_read(tier, observer, span_exporter):
    body = text_stream(["o", "k"], usage=usage_body(500, 20, cached=256, reasoning=8), service_tier=tier)
    fake = FakeOpenAI([body])
    graph = one_call_graph(openai_model(fake, service_tier=tier, stream_usage=True), stream=True)
    graph.invoke(user("hi"), config={"callbacks": [observer]})
    attrs = chat_span(span_exporter).attributes
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (500, 20)
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 256
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 8
    assert attrs["openai.response.service_tier"] == tier


# --- streaming with usage ------------------------------------------------------------------
@pytest.mark.parametrize("how", ["sync", "async"])
async def test_stream_usage_values_match_the_server(how, observer, span_exporter, registry):
    fake = FakeOpenAI([text_stream(["The ", "answer ", "is ", "4."], usage=usage_body(64, 5, cached=0),
                                   id="chatcmpl-St2")])
    graph = one_call_graph(openai_model(fake, stream_usage=True), stream=True)
    result = await run_graph(graph, observer, how)
    assert result["messages"][-1].content == "The answer is 4."
    assert fake.requests[0]["stream"] is True
    assert fake.requests[0]["stream_options"] == {"include_usage": True}
    span = chat_span(span_exporter)
    attrs = span.attributes
    # langchain-openai keeps no chunk id on streamed Chat Completions (the message id is its
    # own "lc_run-..." id, no response metadata carries it): nothing to record.
    assert "gen_ai.response.id" not in attrs
    assert attrs["gen_ai.response.model"] == RESPONSE_MODEL
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (64, 5)
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert "agent_obs.usage.estimated" not in attrs
    assert 0 < attrs["gen_ai.response.time_to_first_chunk"] < (span.end_time - span.start_time) / 1e9
    assert registry.get_sample_value("gen_ai_client_operation_time_to_first_chunk_seconds_count", LLM_LABELS) == 1
    assert token_sum(registry, "input") == 64 and token_sum(registry, "output") == 5
    assert attrs["agent_obs.cost.usd"] == pytest.approx((64 * P_IN + 5 * P_OUT) / 1e6)


# --- parallel tool calls -------------------------------------------------------------------
PARALLEL = [("call_Wx1", "get_weather", {"city": "Paris"}), ("call_Pr2", "lookup_price", {"item": "tea"})]


def parallel_tool_stream() -> bytes:
    events = [chunk({"role": "assistant", "content": None, "refusal": None}, id="chatcmpl-T1")]
    for index, (cid, name, args) in enumerate(PARALLEL):
        text = json.dumps(args)
        events.append(chunk({"tool_calls": [{"index": index, "id": cid, "type": "function",
                                             "function": {"name": name, "arguments": ""}}]}, id="chatcmpl-T1"))
        for piece in (text[: len(text) // 2], text[len(text) // 2:]):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]},
                                id="chatcmpl-T1"))
    events.append(chunk({}, "tool_calls", id="chatcmpl-T1"))
    events.append(chunk(None, id="chatcmpl-T1", usage=usage_body(90, 40)))
    return sse(events)


@pytest.mark.parametrize("streamed", [False, True])
def test_parallel_tool_calls_link_to_their_tool_spans(streamed, observer, span_exporter, registry):
    first = parallel_tool_stream() if streamed else completion([tool_calls_choice(PARALLEL)], usage_body(90, 40),
                                                               id="chatcmpl-T1")
    final = text_stream(["Sunny; tea ", "is 3 USD."], usage=usage_body(150, 9), id="chatcmpl-T2") if streamed \
        else completion([text_choice(0, "Sunny; tea is 3 USD.")], usage_body(150, 9), id="chatcmpl-T2")
    fake = FakeOpenAI([first, final])
    model = openai_model(fake, streaming=streamed, stream_usage=True)
    graph = build_tool_agent(model, tools=[get_weather, lookup_price], name="client_probe")
    result = graph.invoke(user("weather and tea?"), config={"callbacks": [observer]})
    assert result["messages"][-1].content == "Sunny; tea is 3 USD."
    assert fake.requests[0]["tools"] and fake.requests[0].get("parallel_tool_calls", True)

    spans = list(span_exporter.get_finished_spans())
    calls = sorted(by_name(spans, f"chat {MODEL}"), key=lambda s: s.start_time)
    expected_ids = [None, None] if streamed else ["chatcmpl-T1", "chatcmpl-T2"]  # see the stream_usage test
    assert [c.attributes.get("gen_ai.response.id") for c in calls] == expected_ids
    assert calls[0].attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert (calls[0].attributes["gen_ai.usage.input_tokens"], calls[0].attributes["gen_ai.usage.output_tokens"]) \
        == (90, 40)
    for cid, name, _ in PARALLEL:
        assert one(spans, f"execute_tool {name}").attributes["gen_ai.tool.call.id"] == cid
    assert token_sum(registry, "input") == 240 and token_sum(registry, "output") == 49


# --- provider errors -----------------------------------------------------------------------
def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@pytest.mark.parametrize("status,body,openai_class", [
    (429, error_body("Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded"), "RateLimitError"),
    (500, error_body("The server had an error while processing your request.", "server_error", None),
     "InternalServerError"),
])
@pytest.mark.parametrize("streamed", [False, True])
def test_http_errors_are_error_spans_with_the_clients_exception(status, body, openai_class, streamed, observer,
                                                                span_exporter, registry):
    import openai

    from agent_obs.errors import error_type

    fake = FakeOpenAI([(status, body)])
    graph = one_call_graph(openai_model(fake, streaming=streamed), stream=streamed)
    with pytest.raises(getattr(openai, openai_class)) as raised:
        graph.invoke(user("hi"), config={"callbacks": [observer]})
    assert raised.value.status_code == status
    span = chat_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    # langchain-openai re-raises its own subclasses (OpenAIRateLimitError, OpenAIAPIError)
    assert span.attributes["error.type"] == error_type(raised.value)
    assert body["error"]["message"] in span.status.description
    for key in ("gen_ai.usage.input_tokens", "gen_ai.response.time_to_first_chunk", "agent_obs.cost.usd"):
        assert key not in span.attributes, key
    assert registry.get_sample_value(
        "gen_ai_client_operation_duration_seconds_count",
        {**LLM_LABELS, "error_type": span.attributes["error.type"]}) == 1
    assert registry.get_sample_value("gen_ai_client_operation_time_to_first_chunk_seconds_count", LLM_LABELS) is None
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "client_probe", "status": "error"}) == 1


@pytest.mark.parametrize("how", ["sync", "async"])
async def test_sse_error_after_two_chunks_records_time_to_first_chunk_on_span_and_metric(
        how, observer, span_exporter, registry):
    events = [chunk({"role": "assistant", "content": "", "refusal": None}), chunk({"content": "Hal"}),
              {"error": {"message": "The server had an error while processing your request.",
                         "type": "server_error", "param": None, "code": None}}]
    fake = FakeOpenAI([sse(events, done=False)])
    graph = one_call_graph(openai_model(fake, stream_usage=True), stream=True)
    with pytest.raises(Exception, match="server had an error"):
        await run_graph(graph, observer, how)
    span = chat_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"].endswith("APIError")
    ttft = span.attributes["gen_ai.response.time_to_first_chunk"]
    assert 0 < ttft < (span.end_time - span.start_time) / 1e9
    assert registry.get_sample_value("gen_ai_client_operation_time_to_first_chunk_seconds_count", LLM_LABELS) == 1
    assert registry.get_sample_value("gen_ai_client_operation_time_to_first_chunk_seconds_sum", LLM_LABELS) \
        == pytest.approx(ttft)


# --- Anthropic -----------------------------------------------------------------------------
CLAUDE = "claude-sonnet-4-5"
CLAUDE_RESPONSE = "claude-sonnet-4-5-20250929"
# claude-sonnet-4-5 list prices, USD per million tokens: input, cache read, 5-minute cache write, output
C_IN, C_READ, C_WRITE, C_OUT = 3.0, 0.30, 3.75, 15.0
ANTHROPIC_USAGE = {"input_tokens": 12, "cache_creation_input_tokens": 1500, "cache_read_input_tokens": 3000,
                   "cache_creation": {"ephemeral_5m_input_tokens": 1500, "ephemeral_1h_input_tokens": 0},
                   "output_tokens": 40, "service_tier": "standard"}


class FakeAnthropic:
    """Answers POST /v1/messages with one scripted body (JSON or server-sent events).

    The anthropic SDK runs on ``httpx2`` (the successor package of httpx), hence its classes.
    """

    def __init__(self, body: Any) -> None:
        self.body = body
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: Any) -> Any:
        import httpx2

        assert request.method == "POST" and request.url.path == "/v1/messages"
        self.requests.append(json.loads(request.content))
        if isinstance(self.body, bytes):
            return httpx2.Response(200, content=self.body, headers={"content-type": "text/event-stream",
                                                                    "request-id": "req_a1"})
        return httpx2.Response(200, json=self.body, headers={"request-id": "req_a1"})


def anthropic_model(fake: FakeAnthropic, monkeypatch, **kwargs: Any):
    """A real ``ChatAnthropic`` whose httpx clients (built by langchain-anthropic) use the mock."""
    import anthropic
    import httpx2
    from langchain_anthropic import ChatAnthropic
    from langchain_anthropic import chat_models

    transport = httpx2.MockTransport(fake)
    monkeypatch.setattr(chat_models, "_get_default_httpx_client",
                        lambda **kw: anthropic.DefaultHttpxClient(base_url=kw["base_url"], transport=transport))
    monkeypatch.setattr(chat_models, "_get_default_async_httpx_client",
                        lambda **kw: anthropic.DefaultAsyncHttpxClient(base_url=kw["base_url"], transport=transport))
    return ChatAnthropic(model=CLAUDE, api_key="sk-ant-test-not-a-real-key", base_url="http://anthropic.test",
                         max_retries=0, **kwargs)


def anthropic_stream() -> bytes:
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_01Stream", "type": "message", "role": "assistant", "model": CLAUDE_RESPONSE,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Cached "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "answer."}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        # message_delta's usage is cumulative and complete (langchain-anthropic reads only this one)
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {key: ANTHROPIC_USAGE[key] for key in (
                               "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                               "output_tokens")}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


@pytest.mark.parametrize("streamed", [False, True])
def test_anthropic_cache_creation_and_read_usage(streamed, monkeypatch, observer, span_exporter, registry):
    body = anthropic_stream() if streamed else {
        "id": "msg_01Plain", "type": "message", "role": "assistant", "model": CLAUDE_RESPONSE,
        "content": [{"type": "text", "text": "Cached answer."}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": ANTHROPIC_USAGE}
    fake = FakeAnthropic(body)
    graph = one_call_graph(anthropic_model(fake, monkeypatch), stream=streamed)
    result = graph.invoke(user("hi"), config={"callbacks": [observer]})
    assert result["messages"][-1].text == "Cached answer."
    assert fake.requests[0]["model"] == CLAUDE

    span = one(list(span_exporter.get_finished_spans()), f"chat {CLAUDE}")
    attrs = span.attributes
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.response.model"] == CLAUDE_RESPONSE
    # as with OpenAI, langchain-anthropic keeps no message id on streamed answers
    assert attrs.get("gen_ai.response.id") == (None if streamed else "msg_01Plain")
    # Anthropic's input_tokens leave the cache out; the GenAI input count includes it.
    assert attrs["gen_ai.usage.input_tokens"] == 12 + 1500 + 3000
    assert attrs["gen_ai.usage.output_tokens"] == 40
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 3000
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 1500
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    expected = (12 * C_IN + 3000 * C_READ + 1500 * C_WRITE + 40 * C_OUT) / 1e6
    assert attrs["agent_obs.cost.usd"] == pytest.approx(expected)
    if streamed:
        assert 0 < attrs["gen_ai.response.time_to_first_chunk"]
    labels = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "anthropic", "gen_ai_request_model": CLAUDE}
    assert registry.get_sample_value("gen_ai_client_token_usage_sum", {**labels, "gen_ai_token_type": "input"}) \
        == 4512
    assert registry.get_sample_value("agent_obs_llm_cost_usd_total",
                                     {"agent": "client_probe", "gen_ai_request_model": CLAUDE}) \
        == pytest.approx(expected)
