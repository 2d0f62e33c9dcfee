"""``agent-obs demo`` runs the example end to end and its files parse back.

Eight runs cover every sample job once, so the trace file must hold a node retry (the
stand-in's transient 503), a tool error (the failing EXPLAIN) and interrupted-then-resumed
runs.
"""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families

from agent_obs import semconv as sc
from agent_obs.cli import main
from agent_obs.otlp_json import STATUS_CODE_ERROR, iter_spans, read_requests


def test_demo_command_runs_and_its_files_parse(tmp_path, capsys):
    out = tmp_path / "telemetry"
    assert main(["demo", "--runs", "8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "summary" in printed and "invoke_agent optimizer_agent" in printed
    assert str(out / "traces.jsonl") in printed

    bad_lines = []
    spans = [s for _, request in read_requests(out / "traces.jsonl", on_error=lambda n, why: bad_lines.append(n))
             for s in iter_spans(request)]
    assert not bad_lines
    agents = [s for s in spans if s.name == "invoke_agent optimizer_agent"]
    assert len(agents) == 8 + 2  # eight runs, two of them resumed after approval
    assert sum(1 for s in agents if s.attributes.get(sc.LANGGRAPH_INTERRUPTED)) == 2
    assert any(s.name == "node fetch_job" and s.attributes.get(sc.LANGGRAPH_ATTEMPT) == 2 for s in spans)
    assert any(s.name == "execute_tool explain_plan" and s.status_code == STATUS_CODE_ERROR for s in spans)
    tool_call = next(s for s in spans if s.name == "execute_tool table_statistics")
    assert sc.GEN_AI_TOOL_CALL_ARGUMENTS in tool_call.attributes  # content capture is on in the demo
    assert {s.resource.get("service.name") for s in spans} == {"optimizer-agent"}

    logs = [json.loads(line) for line in (out / "logs.jsonl").read_text().splitlines()]
    assert logs and all(isinstance(entry, dict) for entry in logs)
    text = (out / "logs.jsonl").read_text()
    for event_type in ("optimization_start", "optimization_complete", "recommendation_generated", "measurement_recorded"):
        assert f'"{event_type}"' in text, event_type

    families = {f.name: f for f in text_string_to_metric_families((out / "metrics.prom").read_text())}
    requests = {(s.labels["endpoint"], s.labels["status"]): s.value
                for s in families["optimizer_requests"].samples if s.name == "optimizer_requests_total"}
    assert requests[("optimize_query", "success")] == 8
    assert requests[("decide", "success")] == 2
    assert "agent_obs_runs" in families and "issues_detected" in families
    assert (out / "optimizer.db").exists()


def _service_names(trace_file):
    return {s.resource.get("service.name") for _, request in read_requests(trace_file) for s in iter_spans(request)}


def test_demo_settings_are_defaults_and_an_earlier_run_is_kept(tmp_path, monkeypatch, capsys):
    """Environment beats the example's defaults, --service-name beats the environment, and a
    second run moves the first one's files to OUT/previous/ and says so."""
    out = tmp_path / "telemetry"
    for name in ("AGENT_OBS_SERVICE_NAME", "OTEL_SERVICE_NAME", "AGENT_OBS_LOG_LEVEL", "AGENT_OBS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["demo", "--runs", "1", "--out", str(out)]) == 0
    assert _service_names(out / "traces.jsonl") == {"optimizer-agent"}
    assert '"DEBUG"' in (out / "logs.jsonl").read_text()  # the demo's default log level
    assert "previous" not in capsys.readouterr().out

    monkeypatch.setenv("OTEL_SERVICE_NAME", "otel-name")
    monkeypatch.setenv("AGENT_OBS_LOG_LEVEL", "INFO")
    assert main(["demo", "--runs", "1", "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert f"moved it to {out / 'previous'}/" in printed
    assert _service_names(out / "previous" / "traces.jsonl") == {"optimizer-agent"}
    assert _service_names(out / "traces.jsonl") == {"otel-name"}
    levels = {json.loads(line)["level"] for line in (out / "logs.jsonl").read_text().splitlines()}
    assert levels and "DEBUG" not in levels

    monkeypatch.setenv("AGENT_OBS_SERVICE_NAME", "agent-obs-name")  # beats OTEL_SERVICE_NAME
    monkeypatch.setenv("AGENT_OBS_DATABASE_URL", f"sqlite:///{tmp_path / 'mine.db'}")
    assert main(["demo", "--runs", "1", "--out", str(out)]) == 0
    assert _service_names(out / "traces.jsonl") == {"agent-obs-name"}
    assert _service_names(out / "previous" / "traces.jsonl") == {"otel-name"}  # one earlier run is kept
    assert (tmp_path / "mine.db").exists() and not (out / "optimizer.db").exists()

    assert main(["demo", "--runs", "1", "--out", str(out), "--service-name", "flag-name"]) == 0
    assert _service_names(out / "traces.jsonl") == {"flag-name"}
