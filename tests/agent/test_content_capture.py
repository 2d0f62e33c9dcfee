"""Content capture: off by default; when on, GenAI message attributes, truncated and redacted."""

from __future__ import annotations

import json

from span_helpers import by_name, one
from graphs import ScriptedChatModel, build_tool_agent, tool_agent_script, tool_call, user
from langchain_core.messages import AIMessage
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from agent_obs import AgentObserver

CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments",
                "gen_ai.tool.call.result")


def test_no_content_by_default(observer, span_exporter):
    build_tool_agent(ScriptedChatModel(responses=tool_agent_script())).invoke(
        user("my password is hunter2"), config={"callbacks": [observer]})
    for span in span_exporter.get_finished_spans():
        for key in CONTENT_KEYS:
            assert key not in span.attributes
        assert all("hunter2" not in str(v) for v in span.attributes.values())


def test_content_attributes_when_capture_is_on(content_observer, span_exporter):
    build_tool_agent(ScriptedChatModel(responses=tool_agent_script())).invoke(
        user("weather and tea?"), config={"callbacks": [content_observer]})
    spans = list(span_exporter.get_finished_spans())
    first_chat = sorted(by_name(spans, "chat gpt-4o-mini"), key=lambda s: s.start_time)[0]
    inputs = json.loads(first_chat.attributes["gen_ai.input.messages"])
    assert inputs == [{"role": "user", "parts": [{"type": "text", "content": "weather and tea?"}]}]
    outputs = json.loads(first_chat.attributes["gen_ai.output.messages"])
    assert outputs[0]["role"] == "assistant"
    assert outputs[0]["finish_reason"] == "tool_calls"
    calls = [p for p in outputs[0]["parts"] if p["type"] == "tool_call"]
    assert {c["name"] for c in calls} == {"get_weather", "lookup_price"}
    assert {c["id"] for c in calls} == {"call_1", "call_2"}

    weather = one(spans, "execute_tool get_weather")
    assert json.loads(weather.attributes["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert weather.attributes["gen_ai.tool.call.result"] == "Sunny in Paris"


def test_secrets_are_redacted_before_they_reach_a_span(content_observer, span_exporter):
    secret_key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[tool_call("get_weather", {
            "city": "Paris", "api_key": "topsecret-value",
            "url": "postgres://admin:pa55word@db.internal:5432/app"}, "c1")]),
        AIMessage(content="done"),
    ])
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str, api_key: str, url: str) -> str:
        """Weather."""
        return f"called with Authorization: Bearer {secret_key}"

    build_tool_agent(model, tools=[get_weather]).invoke(
        user(f"use key {secret_key} please"), config={"callbacks": [content_observer]})
    everything = json.dumps([dict(s.attributes) for s in span_exporter.get_finished_spans()])
    for leaked in (secret_key, "topsecret-value", "pa55word"):
        assert leaked not in everything
    assert "[REDACTED]" in everything
    assert "postgres://admin:" in everything and "@db.internal" in everything


def test_truncation_records_the_original_length(tracer_provider, registry, span_exporter):
    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry, capture_content=True,
                             max_content_length=200)
    build_tool_agent(ScriptedChatModel(responses=tool_agent_script())).invoke(
        user("y" * 5000), config={"callbacks": [observer]})
    chat = sorted(by_name(list(span_exporter.get_finished_spans()), "chat gpt-4o-mini"),
                  key=lambda s: s.start_time)[0]
    text = chat.attributes["gen_ai.input.messages"]
    assert len(text) <= 200
    assert "truncated" in text
    assert chat.attributes["gen_ai.input.messages.original_length"] > 5000


def test_no_serialisation_when_the_span_is_not_recording(registry, monkeypatch):
    from agent_obs import content

    calls: list[str] = []
    for name in ("messages", "output_messages", "value"):
        original = getattr(content.ContentPolicy, name)

        def spy(self, obj, _original=original, _name=name):
            calls.append(_name)
            return _original(self, obj)

        monkeypatch.setattr(content.ContentPolicy, name, spy)
    observer = AgentObserver(tracer_provider=TracerProvider(sampler=ALWAYS_OFF), registry=registry,
                             capture_content=True)
    build_tool_agent(ScriptedChatModel(responses=tool_agent_script())).invoke(
        user("hi"), config={"callbacks": [observer]})
    assert calls == []
    assert registry.get_sample_value("agent_obs_runs_total", {"agent": "weather_agent", "status": "ok"}) == 1


def test_graph_input_and_output_on_the_agent_span(content_observer, span_exporter):
    build_tool_agent(ScriptedChatModel(responses=tool_agent_script())).invoke(
        user("weather and tea?"), config={"callbacks": [content_observer]})
    root = one(list(span_exporter.get_finished_spans()), "invoke_agent weather_agent")
    assert json.loads(root.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "weather and tea?"}]}]
    assert "weather and tea?" in root.attributes["agent_obs.graph.input"]
    assert "It is sunny in Paris" in root.attributes["agent_obs.graph.output"]
