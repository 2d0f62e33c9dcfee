"""End to end through the FastAPI app: one request, one trace, right parents, right metric deltas.

Dremio is played by the loopback stand-in (agent_obs_example.standin), the LLM by the
scripted chat model; FastAPI, LangGraph, SQLite and the OpenTelemetry SDK are real.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import event

from agent_obs import semconv as sc


def _value(registry: Any, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def _spans_of(span_exporter: Any, trace_id: str) -> list[Any]:
    return [s for s in span_exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]


def _one(spans: list[Any], name: str) -> Any:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"expected one {name!r}, got {[s.name for s in spans]}"
    return found[0]


def _parent(span: Any, spans: list[Any]) -> Any:
    by_id = {s.context.span_id: s for s in spans}
    return by_id.get(span.parent.span_id) if span.parent else None


def test_one_optimization_request_is_one_trace_with_correct_parents(client, span_exporter, jobs):
    response = client.post("/optimizations", json={"job_id": jobs.JOB_SMALL_FILES})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "completed"
    spans = _spans_of(span_exporter, body["trace_id"])

    server = _one(spans, "POST /optimizations")
    assert server.kind is SpanKind.SERVER and server.parent is None
    agent = _one(spans, "invoke_agent optimizer_agent")
    assert _parent(agent, spans) is server
    assert agent.attributes[sc.GEN_AI_CONVERSATION_ID] == body["run_id"]
    nodes = {s.attributes[sc.LANGGRAPH_NODE]: s for s in spans if s.name.startswith("node ")}
    assert {"fetch_job", "detect_issues", "recommend", "tools", "draft_recommendations", "store_results"} <= set(nodes)
    assert all(_parent(s, spans) is agent for s in spans if s.name.startswith("node "))

    chats = [s for s in spans if s.name == "chat scripted-optimizer-1"]
    assert len(chats) == 2 and all(_parent(c, spans).name == "node recommend" for c in chats)
    assert all(c.kind is SpanKind.CLIENT and c.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0 for c in chats)
    assert chats[0].attributes[sc.GEN_AI_PROVIDER_NAME] == "scripted"

    tools = {s.attributes[sc.GEN_AI_TOOL_NAME]: s for s in spans if s.name.startswith("execute_tool ")}
    assert set(tools) == {"table_statistics", "existing_reflections", "explain_plan"}
    assert all(_parent(t, spans) is nodes["tools"] for t in tools.values())

    http = [s for s in spans if s.kind is SpanKind.CLIENT and ("http.request.method" in s.attributes or "http.method" in s.attributes)]
    under_tools = [s for s in http if _parent(s, spans) in tools.values()]
    assert {_parent(s, spans).name for s in under_tools} == {f"execute_tool {t}" for t in tools}
    assert len([s for s in http if _parent(s, spans) is nodes["fetch_job"]]) == 3  # job, details, profile

    sql = [s for s in spans if "db.system" in s.attributes or "db.system.name" in s.attributes]
    inserts = [s for s in sql if s.name.startswith("INSERT")]
    assert len(inserts) == 4 and all(_parent(s, spans) is nodes["store_results"] for s in inserts)  # run + 3 recs

    analysis = _one(spans, "analysis.analyze_query")
    assert _parent(analysis, spans) is nodes["detect_issues"] and analysis.attributes["issues_detected"] == 3
    small_files = _one(spans, "detector.small_files")
    assert _parent(small_files, spans) is analysis and small_files.attributes["severity"] == "high"
    assert _one(spans, "detector.join_explosion").attributes["issue_detected"] is False


def test_business_metrics_move_by_the_right_amounts(client, registry, jobs):
    before_requests = _value(registry, "optimizer_requests_total", endpoint="optimize_query", status="success")
    response = client.post("/optimizations", json={"job_id": jobs.JOB_SMALL_FILES})
    assert response.status_code == 201
    recs = {r["issue_type"]: r for r in response.json()["recommendations"]}
    assert _value(registry, "optimizer_requests_total", endpoint="optimize_query", status="success") == before_requests + 1
    assert _value(registry, "issues_detected_total", issue_type="small_files", severity="high") == 1
    assert _value(registry, "issues_detected_total", issue_type="full_table_scan", severity="high") == 1
    assert _value(registry, "issues_detected_total", issue_type="missing_reflection", severity="medium") == 1
    assert _value(registry, "recommendations_generated_total", issue_type="small_files") == 1
    assert _value(registry, "optimizer_duration_seconds_count", operation="full_optimization") == 1
    assert _value(registry, "active_optimizations") == 0
    assert _value(registry, "agent_obs_runs_total", agent="optimizer_agent", status="ok") == 1

    rec = recs["small_files"]  # estimated 55%
    first = client.post(f"/recommendations/{rec['id']}/measurements",
                        json={"baseline_duration_ms": 1000, "optimized_duration_ms": 400, "executions": 3})
    assert first.status_code == 201 and first.json()["improvement_pct"] == 60.0 and first.json()["meets_expectation"]
    second = client.post(f"/recommendations/{rec['id']}/measurements",
                         json={"baseline_duration_ms": 1000, "optimized_duration_ms": 900})
    assert second.status_code == 201 and not second.json()["meets_expectation"]
    assert _value(registry, "measurements_recorded_total", meets_expectation="true") == 1
    assert _value(registry, "measurements_recorded_total", meets_expectation="false") == 1
    assert _value(registry, "optimizer_measurements_by_issue_total", issue_type="small_files", meets_expectation="true") == 1
    assert _value(registry, "average_improvement_pct") == pytest.approx(35.0)
    assert _value(registry, "optimizer_time_saved_seconds_total", issue_type="small_files") == pytest.approx(0.6 * 3 + 0.1)
    detail = client.get(f"/recommendations/{rec['id']}").json()
    assert [m["improvement_pct"] for m in detail["measurements"]] == [60.0, 10.0]


def test_transient_dremio_503_retries_the_fetch_node(client, registry, span_exporter, jobs):
    response = client.post("/optimizations", json={"job_id": jobs.JOB_FLAKY})
    assert response.status_code == 201 and response.json()["status"] == "completed"
    assert _value(registry, "dremio_api_errors_total", endpoint="job_status", status_code="503") == 1
    # the failed attempt counts as a request too: 503 + retry, plus explain_plan's SQL job status
    assert _value(registry, "dremio_api_requests_total", endpoint="job_status") == 3
    assert _value(registry, "agent_obs_node_retries_total", agent="optimizer_agent", node="fetch_job") == 1
    spans = _spans_of(span_exporter, response.json()["trace_id"])
    attempts = sorted(s.attributes[sc.LANGGRAPH_ATTEMPT] for s in spans if s.name == "node fetch_job")
    assert attempts == [1, 2]


def test_failing_explain_plan_is_a_tool_error_the_run_survives(client, registry, span_exporter, jobs):
    response = client.post("/optimizations", json={"job_id": jobs.JOB_EXPLAIN_FAILS})
    assert response.status_code == 201 and response.json()["status"] == "completed"
    assert len(response.json()["recommendations"]) == 3
    spans = _spans_of(span_exporter, response.json()["trace_id"])
    explain = _one(spans, "execute_tool explain_plan")
    assert explain.status.status_code is StatusCode.ERROR
    error_type = explain.attributes[sc.ERROR_TYPE]
    assert error_type.endswith("DremioQueryError")
    assert _value(registry, "dremio_api_errors_total", endpoint="sql", status_code="job_failed") == 1
    assert _value(registry, "gen_ai_execute_tool_duration_seconds_count", gen_ai_agent_name="optimizer_agent",
                  gen_ai_tool_name="explain_plan", error_type=error_type) == 1


def test_high_risk_recommendation_waits_for_approval_then_resumes(client, registry, span_exporter, jobs):
    started = client.post("/optimizations", json={"job_id": jobs.JOB_JOIN})
    assert started.status_code == 201
    body = started.json()
    assert body["status"] == "awaiting_approval" and body["recommendations"] == []
    assert [r["issue_type"] for r in body["pending_approval"]] == ["join_explosion"]
    first_trace = _spans_of(span_exporter, body["trace_id"])
    assert _one(first_trace, "invoke_agent optimizer_agent").attributes[sc.LANGGRAPH_INTERRUPTED] is True
    assert client.get(f"/optimizations/{body['run_id']}").json()["status"] == "awaiting_approval"

    decided = client.post(f"/optimizations/{body['run_id']}/decision", json={"approved": True, "reviewer": "dba"})
    assert decided.status_code == 200, decided.text
    result = decided.json()
    assert result["status"] == "completed"
    assert {r["issue_type"]: r["status"] for r in result["recommendations"]} == {
        "join_explosion": "approved", "spill_to_disk": "proposed"}
    assert _value(registry, "recommendations_decided_total", decision="approved") == 1
    assert _value(registry, "optimizer_requests_total", endpoint="decide", status="success") == 1
    assert _value(registry, "agent_obs_interrupts_total", agent="optimizer_agent", node="human_approval") == 1

    again = client.post(f"/optimizations/{body['run_id']}/decision", json={"approved": False})
    assert again.status_code == 409 and again.json()["error"] == "conflict"


def test_rejected_recommendation_cannot_be_measured(client, registry, jobs):
    body = client.post("/optimizations", json={"job_id": jobs.JOB_FULL_SCAN}).json()
    result = client.post(f"/optimizations/{body['run_id']}/decision", json={"approved": False}).json()
    rejected = next(r for r in result["recommendations"] if r["status"] == "rejected")
    assert _value(registry, "recommendations_decided_total", decision="rejected") == 1
    response = client.post(f"/recommendations/{rejected['id']}/measurements",
                           json={"baseline_duration_ms": 100, "optimized_duration_ms": 50})
    assert response.status_code == 409 and response.json()["error"] == "conflict"
    assert client.get(f"/recommendations/{rejected['id']}").json()["measurements"] == []


def _rows(database_url: str, table: str) -> int:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names


@pytest.mark.parametrize(("path", "payload", "status", "error"), [
    ("/optimizations", {"job_id": "does-not-exist"}, 404, "not_found"),
    ("/optimizations", {}, 422, "invalid_request"),
    ("/optimizations", {"job_id": 42}, 422, "invalid_request"),
    ("/optimizations", {"job_id": "x; DROP TABLE recommendations"}, 422, "invalid_request"),
    ("/optimizations/nope/decision", {"approved": True}, 404, "not_found"),
    ("/optimizations/nope/decision", {"approved": "maybe"}, 422, "invalid_request"),
    ("/recommendations/999/measurements", {"baseline_duration_ms": 10, "optimized_duration_ms": 5}, 404, "not_found"),
    ("/recommendations/1/measurements", {"baseline_duration_ms": -1, "optimized_duration_ms": 5}, 422, "invalid_request"),
])
def test_bad_input_is_a_clear_4xx_and_writes_nothing(client, registry, database_url, path, payload, status, error):
    response = client.post(path, json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == error and response.json()["message"]
    for table in ("optimization_runs", "recommendations", "measurements"):
        assert _rows(database_url, table) == 0
    assert _value(registry, "active_optimizations") == 0


def test_malformed_json_body_is_a_422_counted_as_invalid(client, registry):
    response = client.post("/optimizations", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    assert _value(registry, "optimizer_requests_total", endpoint="optimize_query", status="invalid") == 1


def test_a_failing_store_leaves_no_half_written_recommendations(obs, database_url, registry, jobs):
    from fastapi.testclient import TestClient

    from agent_obs_example.app import create_app
    from agent_obs_example.settings import OptimizerSettings

    app = create_app(OptimizerSettings(database_url=database_url), obs=obs)
    inserts = []

    def fail_second_recommendation(conn, cursor, statement, params, context, executemany):
        if statement.startswith("INSERT INTO recommendations"):
            inserts.append(statement)
            if len(inserts) == 2:
                raise RuntimeError("disk full")

    engine = app.state.runtime.db.engine
    event.listen(engine, "before_cursor_execute", fail_second_recommendation)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/optimizations", json={"job_id": jobs.JOB_SMALL_FILES})
        assert response.status_code == 500
    assert len(inserts) == 2
    assert _rows(database_url, "recommendations") == 0
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT status, error FROM optimization_runs").fetchall() == [
            ("failed", "RuntimeError: disk full")]
    assert _value(registry, "optimizer_requests_total", endpoint="optimize_query", status="error") == 1
    assert _value(registry, "active_optimizations") == 0


def test_health_and_metrics_endpoints(client):
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    client.post("/optimizations", json={"job_id": "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b006"})
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    for name in ("optimizer_requests_total", "issues_detected_total", "average_improvement_pct",
                 "active_optimizations", "dremio_api_errors_total", "dremio_api_requests_total",
                 "db_connection_errors_total",
                 "agent_obs_runs_total", "recommendations_decided_total", "optimizer_time_saved_seconds_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in metrics.text, name


def test_structured_events_carry_their_fields_and_the_trace_id(client, log_records, jobs):
    body = client.post("/optimizations", json={"job_id": jobs.JOB_SKEW}).json()
    rec = body["recommendations"][0]
    client.post(f"/recommendations/{rec['id']}/measurements", json={"baseline_duration_ms": 100, "optimized_duration_ms": 80})
    events = {r["extra"].get("event_type"): r["extra"] for r in log_records if r["extra"].get("event_type")}
    assert events["optimization_start"]["job_id"] == jobs.JOB_SKEW
    assert events["optimization_complete"]["issues_count"] == 2
    assert isinstance(events["optimization_complete"]["duration_ms"], int)
    assert events["recommendation_generated"]["estimated_improvement_pct"] > 0
    assert events["recommendation_generated"]["trace_id"] == body["trace_id"]
    assert events["measurement_recorded"] == {**events["measurement_recorded"], "recommendation_id": rec["id"],
                                              "improvement_pct": 20.0}


def test_observe_agent_false_runs_the_graph_without_the_observer(obs, database_url, span_exporter, registry, jobs):
    """The benchmarks' "no observer" mode: same service, no agent spans or agent metrics."""
    from fastapi.testclient import TestClient

    from agent_obs_example.app import create_app
    from agent_obs_example.settings import OptimizerSettings

    app = create_app(OptimizerSettings(database_url=database_url), obs=obs, observe_agent=False)
    with TestClient(app) as client:
        response = client.post("/optimizations", json={"job_id": jobs.JOB_SKEW})
    assert response.status_code == 201, response.text
    names = {s.name for s in span_exporter.get_finished_spans()}
    assert any(n.startswith("POST /optimizations") for n in names)  # the service's own tracing stays
    assert not any(n.startswith(("invoke_agent", "node ", "chat ", "execute_tool")) for n in names)
    assert _value(registry, "agent_obs_runs_total", agent="optimizer_agent", status="ok") == 0.0
    assert _value(registry, "optimizer_requests_total", endpoint="optimize_query", status="success") == 1.0
