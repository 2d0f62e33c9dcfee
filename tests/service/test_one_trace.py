"""Proof: a request, its agent run, the DB query and the API call form ONE trace in Tempo,
and the request's logs in Loki carry that trace id. Tempo and Loki are the local stand-ins
from tests/receivers.py (real OTLP gRPC, real Loki push JSON + gzip)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

from agent_app import build_app, build_engine, build_graph
from http_fixtures import ApiServer
from service_obs.fastapi import instrument_app
from service_obs.sqlalchemy import instrument_engine


def test_request_agent_db_and_http_share_one_trace(make_obs, make_settings, tempo, loki, tmp_path) -> None:
    obs = make_obs(make_settings(tempo_endpoint=tempo.endpoint, loki_endpoint=loki.url))
    engine = build_engine(str(tmp_path / "jobs.sqlite"))
    instrument_engine(engine, obs)
    with ApiServer() as api:
        app = build_app(build_graph(engine, api.url), obs.observer())
        instrument_app(app, obs)
        with TestClient(app) as client:
            response = client.post("/optimize/j-1")
        assert response.status_code == 200 and response.json()["result"].startswith("SELECT 1")
        obs.shutdown(timeout=10)
        api_headers = api.seen[0]
    engine.dispose()

    spans = tempo.spans()
    by_name = {s.name: s for s in spans}
    server = by_name["POST /optimize/{job_id}"]
    assert server.kind == PbSpan.SPAN_KIND_SERVER
    trace_id = server.trace_id
    assert {s.trace_id for s in spans} == {trace_id}, "everything is in one trace"
    agent = by_name["invoke_agent optimizer"]
    node = by_name["node agent"]
    tool = by_name["execute_tool lookup_job"]
    (query,) = [s for s in spans if s.name.startswith("SELECT")]
    (http_client,) = [s for s in spans if s.kind == PbSpan.SPAN_KIND_CLIENT and s.name == "GET"]
    assert agent.parent_span_id == server.span_id
    assert node.parent_span_id == agent.span_id
    assert tool.parent_span_id == node.span_id
    assert query.parent_span_id == tool.span_id
    assert http_client.parent_span_id == tool.span_id
    assert api_headers["traceparent"].split("-")[1:3] == [trace_id.hex(), http_client.span_id.hex()]

    # Logs: the tool's line, the endpoint's line and the observer's run events, all in Loki
    # with the request's trace id as structured metadata and inside the JSON line.
    entries = loki.snapshot()
    messages = {e.json["message"]: e for e in entries}
    for text in ("tool ran 0", "optimized j-1"):
        entry = messages[text]
        assert entry.metadata["trace_id"] == trace_id.hex()
        assert entry.json["trace_id"] == trace_id.hex()
        assert entry.labels["service"] == "svc-test" and entry.labels["level"] == "info"
    run_end = [e for e in entries if e.json.get("event") == "agent.run.end"]
    assert run_end and run_end[0].metadata["trace_id"] == trace_id.hex()
    assert messages["tool ran 0"].metadata["span_id"] == tool.span_id.hex()
