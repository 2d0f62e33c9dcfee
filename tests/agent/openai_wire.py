"""OpenAI's Chat Completions wire format, served by an ``httpx.MockTransport`` to a real
``ChatOpenAI``: response bodies, SSE streams and a scripted server that keeps the requests.

Shared by the provider-client tests and the multi-agent tests that run real clients.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
# gpt-4o-mini list prices, USD per million tokens: input, cached input, output
P_IN, P_CACHED, P_OUT = 0.15, 0.075, 0.60
LLM_LABELS = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "gen_ai_request_model": MODEL}


def usage_body(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def completion(choices: list[dict[str, Any]], usage: dict[str, Any], *, id: str = "chatcmpl-Q1",
               service_tier: str = "default") -> dict[str, Any]:
    return {"id": id, "object": "chat.completion", "created": 1764700000, "model": RESPONSE_MODEL,
            "choices": choices, "usage": usage, "service_tier": service_tier,
            "system_fingerprint": "fp_560af6e559"}


def text_choice(index: int, text: str, finish: str = "stop") -> dict[str, Any]:
    return {"index": index, "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
            "logprobs": None, "finish_reason": finish}


def tool_calls_choice(calls: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    return {"index": 0, "message": {
        "role": "assistant", "content": None, "refusal": None, "annotations": [],
        "tool_calls": [{"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                       for cid, name, args in calls]},
        "logprobs": None, "finish_reason": "tool_calls"}


def sse(events: list[dict[str, Any]], done: bool = True) -> bytes:
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    return (body + ("data: [DONE]\n\n" if done else "")).encode()


def chunk(delta: dict[str, Any] | None, finish: str | None = None, *, id: str = "chatcmpl-S1",
          service_tier: str = "default", usage: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {"id": id, "object": "chat.completion.chunk", "created": 1764700001, "model": RESPONSE_MODEL,
            "service_tier": service_tier, "system_fingerprint": "fp_560af6e559", "obfuscation": "x"}
    if delta is None:  # the include_usage chunk
        return {**base, "choices": [], "usage": usage}
    return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None}


def text_stream(parts: list[str], *, usage: dict[str, Any] | None = None, service_tier: str = "default",
                id: str = "chatcmpl-S1") -> bytes:
    events = [chunk({"role": "assistant", "content": "", "refusal": None}, id=id, service_tier=service_tier)]
    events += [chunk({"content": p}, id=id, service_tier=service_tier) for p in parts]
    events.append(chunk({}, "stop", id=id, service_tier=service_tier))
    if usage is not None:
        events.append(chunk(None, id=id, service_tier=service_tier, usage=usage))
    return sse(events)


class FakeOpenAI:
    """Answers POST /v1/chat/completions with scripted (status, body) pairs, keeping requests."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/v1/chat/completions"
        self.requests.append(json.loads(request.content))
        answer = self.answers.pop(0)
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        headers = {"x-request-id": f"req_{len(self.requests)}"}
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers={**headers, "content-type": "text/event-stream"})
        return httpx.Response(status, json=body, headers=headers)


def openai_model(fake: FakeOpenAI, **kwargs: Any):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=MODEL, api_key="sk-test-not-a-real-key", base_url="http://openai.test/v1",
                      http_client=httpx.Client(transport=httpx.MockTransport(fake)),
                      http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
                      max_retries=0, **kwargs)
