"""The example's parts alone: detectors, the Dremio client against the stand-in, the scripted
model, settings, and ``serve`` under a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from langchain_core.messages import AIMessageChunk, HumanMessage
from prometheus_client import CollectorRegistry

from agent_obs_example.analysis import AnalysisService
from agent_obs_example.detectors import DETECTORS, SEVERITIES
from agent_obs_example.dremio import DremioClient, DremioNotFound, DremioQueryError, DremioTransientError
from agent_obs_example.metrics import OptimizerMetrics
from agent_obs_example.model import ScriptedChatModel
from agent_obs_example.samples import sample_jobs
from agent_obs_example.settings import OptimizerSettings
from agent_obs_example.standin import DremioStandIn

EXPECTED = {
    "b001": {"full_table_scan", "missing_reflection"},
    "b002": {"join_explosion", "spill_to_disk"},
    "b003": {"missing_reflection", "data_skew"},
    "b004": {"full_table_scan", "missing_reflection", "small_files"},
    "b005": {"spill_to_disk"},
    "b006": set(),
    "b007": {"full_table_scan", "select_star"},
    "b008": {"full_table_scan", "data_skew", "spill_to_disk"},
}


def test_detectors_find_the_issues_each_sample_job_was_built_for(tracer_provider, span_exporter):
    assert len(DETECTORS) >= 6
    analysis = AnalysisService(tracer_provider)
    for job_id, job in sample_jobs().items():
        issues = analysis.analyze_query(job_id, job["details"]["sql"], job["profile"])
        assert {i["issue_type"] for i in issues} == EXPECTED[job_id[-4:]], job_id
        assert all(i["severity"] in SEVERITIES for i in issues)
    names = [s.name for s in span_exporter.get_finished_spans()]
    assert names.count("analysis.analyze_query") == len(sample_jobs())
    assert names.count("detector.small_files") == len(sample_jobs())


def test_a_broken_detector_is_recorded_and_the_others_still_run(tracer_provider, span_exporter):
    class Broken:
        issue_type = "broken"

        def detect(self, query, profile):
            raise ValueError("bad profile")

    job_id, job = next(iter(sample_jobs().items()))
    issues = AnalysisService(tracer_provider, detectors=(Broken(), *DETECTORS)).analyze_query(
        job_id, job["details"]["sql"], job["profile"])
    assert {i["issue_type"] for i in issues} == EXPECTED["b001"]
    broken = next(s for s in span_exporter.get_finished_spans() if s.name == "detector.broken")
    assert broken.status.status_code.name == "ERROR" and broken.events[0].name == "exception"


def test_dremio_client_maps_and_counts_failures_and_every_attempt():
    registry = CollectorRegistry()
    metrics = OptimizerMetrics(registry)
    hooks = {"on_error": metrics.dremio_error, "on_request": metrics.dremio_request}
    with DremioStandIn() as standin:
        client = DremioClient(standin.url, **hooks)
        job_id = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b001"
        assert client.get_job(job_id)["jobState"] == "COMPLETED"
        assert client.get_profile(job_id)["jobId"] == job_id  # unzipped like Dremio's download
        with pytest.raises(DremioNotFound):
            client.get_job("no-such-job")
        with pytest.raises(DremioQueryError, match="only answers EXPLAIN"):
            client.run_sql("SELECT 1")
        flaky = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b007"
        with pytest.raises(DremioTransientError):
            client.get_job(flaky)
        assert client.get_job(flaky)["jobState"] == "COMPLETED"
        url, served = standin.url, standin.requests_served
    with pytest.raises(DremioTransientError):
        DremioClient(url, timeout_s=2, **hooks).get_job(job_id)  # server gone
    value = registry.get_sample_value
    assert value("dremio_api_errors_total", {"endpoint": "job_status", "status_code": "404"}) == 1
    assert value("dremio_api_errors_total", {"endpoint": "sql", "status_code": "job_failed"}) == 1
    assert value("dremio_api_errors_total", {"endpoint": "job_status", "status_code": "503"}) == 1
    assert value("dremio_api_errors_total", {"endpoint": "job_status", "status_code": "connection_error"}) == 1
    # attempts, failed or not: 6 job status reads (one of them the SQL job's), 1 profile, 1 SQL submit
    attempts = {s.labels["endpoint"]: s.value for f in registry.collect() for s in f.samples
                if s.name == "dremio_api_requests_total"}
    assert attempts == {"job_status": 6, "profile": 1, "sql": 1}
    assert sum(attempts.values()) == served + 1  # every request the server saw, plus the refused one


def test_a_failing_request_hook_never_stops_the_dremio_call():
    def broken(endpoint: str) -> None:
        raise RuntimeError("metrics backend down")

    with DremioStandIn() as standin:
        client = DremioClient(standin.url, on_request=broken, on_error=lambda endpoint, code: broken(endpoint))
        assert client.get_job("2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b001")["jobState"] == "COMPLETED"
        with pytest.raises(DremioNotFound):
            client.get_job("no-such-job")
        assert standin.requests_served == 2


def test_scripted_model_streams_tool_calls_then_an_answer_with_usage():
    model = ScriptedChatModel()
    prompt = HumanMessage('go\n```json\n{"job_id": "j1", "datasets": ["a.b"], "issues": '
                          '[{"issue_type": "small_files", "severity": "high"}]}\n```')
    chunks = list(model.stream([prompt]))
    assert len(chunks) >= 2 and all(isinstance(c, AIMessageChunk) for c in chunks)
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert [c["name"] for c in merged.tool_calls] == ["table_statistics", "existing_reflections", "explain_plan"]
    assert merged.usage_metadata["input_tokens"] > 0
    assert merged.response_metadata["finish_reason"] == "tool_calls"
    assert model._get_ls_params()["ls_provider"] == "scripted"  # noqa: SLF001 - what the observer reads


def test_settings_explicit_beats_environment_beats_default(monkeypatch):
    monkeypatch.setenv("AGENT_OBS_DREMIO_URL", "http://dremio.internal:9047")
    monkeypatch.setenv("AGENT_OBS_DREMIO_TIMEOUT_S", "not-a-number")
    with pytest.warns(RuntimeWarning, match="AGENT_OBS_DREMIO_TIMEOUT_S"):
        settings = OptimizerSettings.from_env(database_url="sqlite://")
    assert settings.dremio_url == "http://dremio.internal:9047"
    assert settings.dremio_timeout_s == 10.0  # bad environment value: the default
    assert settings.database_url == "sqlite://"
    with pytest.raises(ValueError):
        OptimizerSettings(dremio_timeout_s=0)


def test_serve_runs_under_uvicorn_on_loopback_with_metrics(tmp_path, monkeypatch):
    import uvicorn

    from agent_obs_example.serve import app_from_env

    monkeypatch.setenv("AGENT_OBS_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("AGENT_OBS_TRACE_FILE", str(tmp_path / "traces.jsonl"))
    monkeypatch.setenv("AGENT_OBS_LOG_FILE", "")
    monkeypatch.setenv("AGENT_OBS_LOG_TO_CONSOLE", "false")
    server = uvicorn.Server(uvicorn.Config(app_from_env(), host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not (server.started and server.servers):  # poll with a deadline
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        created = requests.post(f"{base}/optimizations", json={"job_id": "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b003"},
                                timeout=20)
        assert created.status_code == 201 and created.json()["status"] == "completed"
        metrics = requests.get(f"{base}/metrics", timeout=10)
        assert 'optimizer_requests_total{endpoint="optimize_query",status="success"} 1.0' in metrics.text
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    assert not thread.is_alive()


@pytest.mark.parametrize("env, flag, expected", [
    ({}, None, "optimizer-agent"),
    ({"OTEL_SERVICE_NAME": "otel-name"}, None, "otel-name"),
    ({"OTEL_SERVICE_NAME": "otel-name", "AGENT_OBS_SERVICE_NAME": "agent-obs-name"}, None, "agent-obs-name"),
    ({"AGENT_OBS_SERVICE_NAME": "agent-obs-name"}, "flag-name", "flag-name"),
])
def test_serve_app_service_name_is_a_default_not_an_override(tmp_path, monkeypatch, env, flag, expected):
    from agent_obs_example.serve import app_from_env

    for name in ("AGENT_OBS_SERVICE_NAME", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AGENT_OBS_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("AGENT_OBS_TRACE_FILE", str(tmp_path / "traces.jsonl"))
    monkeypatch.setenv("AGENT_OBS_LOG_FILE", "")
    monkeypatch.setenv("AGENT_OBS_LOG_TO_CONSOLE", "false")
    runtime = app_from_env(flag).state.runtime
    try:
        assert runtime.obs.settings.service_name == expected
        assert runtime.obs.tracer_provider.resource.attributes["service.name"] == expected
    finally:
        runtime.close()


def test_settings_defaults_yield_to_the_environment(monkeypatch):
    monkeypatch.setenv("AGENT_OBS_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.delenv("AGENT_OBS_DREMIO_TIMEOUT_S", raising=False)
    settings = OptimizerSettings.from_env(defaults={"database_url": "sqlite:///default.db", "dremio_timeout_s": 3.0})
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.dremio_timeout_s == 3.0
    assert OptimizerSettings.from_env(defaults={"database_url": "sqlite://x"},
                                      database_url="sqlite://").database_url == "sqlite://"
    with pytest.raises(TypeError, match="no field nope"):
        OptimizerSettings.from_env(defaults={"nope": 1})
