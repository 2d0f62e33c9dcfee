"""One ``error.type`` value per exception, everywhere (issue 14 item 2).

A ``json.decoder.JSONDecodeError`` raised in a ``@traced`` function under a tool used to be
``JSONDecodeError`` on the traced span but ``json.decoder.JSONDecodeError`` on the
``execute_tool`` span. These tests guard that every producer (observer spans, the span's
exception event, ``@traced`` spans, metric labels, log fields, the JSON log records and the
HTTP client error counter) writes the value of ``agent_obs.errors.error_type``.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph

from agent_obs import AgentObserver
from agent_obs.errors import error_type
from service_obs import traced

JSON_ERROR = "json.decoder.JSONDecodeError"


class Outer:
    class Nested(Exception):
        pass


def test_the_rule_is_the_fully_qualified_class_name():
    assert error_type(json.JSONDecodeError("x", "", 0)) == JSON_ERROR
    assert error_type(json.JSONDecodeError) == JSON_ERROR
    assert error_type(TimeoutError()) == "TimeoutError"  # builtins have no module to name
    assert error_type(Outer.Nested()) == f"{__name__}.Outer.Nested"


def test_traced_tool_span_metric_and_log_agree(tracer_provider, span_exporter, registry, log_records):
    @traced("parse_payload", tracer_provider=tracer_provider)
    def parse_payload(text: str) -> dict:
        return json.loads(text)

    @tool
    def read_config(path: str) -> str:
        """Read a config."""
        return str(parse_payload("{not json"))

    def node(state: MessagesState) -> dict:
        read_config.invoke({"path": "x"})
        return {}

    graph = StateGraph(MessagesState)
    graph.add_node("work", node)
    graph.add_edge(START, "work")
    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry)
    with pytest.raises(json.JSONDecodeError):
        graph.compile(name="cfg").invoke({"messages": []}, config={"callbacks": [observer]})

    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    for name in ("parse_payload", "execute_tool read_config", "node work", "invoke_agent cfg"):
        span = spans[name]
        assert span.attributes["error.type"] == JSON_ERROR, name
        (event,) = [e for e in span.events if e.name == "exception"]
        assert event.attributes["exception.type"] == JSON_ERROR, name
    assert registry.get_sample_value(
        "gen_ai_execute_tool_duration_seconds_count",
        {"gen_ai_agent_name": "cfg", "gen_ai_tool_name": "read_config", "error_type": JSON_ERROR}) == 1.0
    assert registry.get_sample_value(
        "gen_ai_invoke_agent_duration_seconds_count", {"gen_ai_agent_name": "cfg", "error_type": JSON_ERROR}) == 1.0
    logged = {r["extra"].get("error_type") for r in log_records if r["level"] == "ERROR"}
    assert logged == {JSON_ERROR}


def test_json_log_records_name_the_exception_the_same_way():
    from service_obs._records import record_to_dict

    from loguru import logger

    captured = []
    handler = logger.add(lambda message: captured.append(record_to_dict(message.record)), level="ERROR")
    try:
        try:
            json.loads("{")
        except json.JSONDecodeError:
            logger.exception("bad payload")
    finally:
        logger.remove(handler)
    assert captured[0]["exception"]["type"] == JSON_ERROR


def test_http_client_failures_are_labelled_by_the_rule(make_obs):
    import socket

    import httpx
    import requests

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    obs = make_obs()
    failures = []
    with pytest.raises(httpx.ConnectError) as raised:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    failures.append(raised.value)
    with pytest.raises(requests.ConnectionError) as raised:
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    failures.append(raised.value)
    kinds = [error_type(exc) for exc in failures]
    assert kinds == ["httpx.ConnectError", "requests.exceptions.ConnectionError"]
    for kind in kinds:
        assert obs.registry.get_sample_value(
            "http_client_errors_total", {"host": "127.0.0.1", "error_type": kind}) == 1.0, kind
