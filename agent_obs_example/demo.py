"""``agent-obs demo``: run the optimizer service N times and show what it recorded.

The demo drives the real FastAPI app in-process (Starlette's ``TestClient``, so every run has
a server span), with embedded defaults: the scripted model, the local Dremio stand-in, SQLite
in ``OUT/optimizer.db``, traces in ``OUT/traces.jsonl`` (OTLP JSON), logs in
``OUT/logs.jsonl`` and, at the end, the metrics in ``OUT/metrics.prom``. Content capture is
on (unless ``AGENT_OBS_CAPTURE_CONTENT`` says otherwise) so the replay notebooks can re-run
the recorded conversations. An earlier run's files in OUT move to ``OUT/previous/`` first.
Over the sample jobs some runs naturally hit a transient Dremio 503 (a node retry), a failing
``explain_plan`` tool and a human-approval interrupt, which the demo resumes, approving two out
of three. Every setting above is only a default:
``AGENT_OBS_*`` settings (and ``OTEL_SERVICE_NAME``) win over it, so ``AGENT_OBS_SERVICE_NAME``
names the runs and ``AGENT_OBS_TEMPO_ENDPOINT`` / ``AGENT_OBS_LOKI_ENDPOINT`` send them to Tempo
and Loki; ``--service-name`` wins over both.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .quietlog import private_logger
from .runtime import SERVICE_NAME
from .samples import sample_job_ids, sample_jobs
from .settings import OptimizerSettings
from .spantree import SpanCopy, load_trace, render_tree

OUT_FILES = ("traces.jsonl", "logs.jsonl", "metrics.prom", "optimizer.db")
PREVIOUS = "previous"  # where an earlier run's OUT_FILES go


def run_demo(runs: int = 20, out_dir: str = "telemetry", *, console: Console | None = None,
             service_name: str | None = None) -> int:
    """Run ``runs`` optimizations; print a span tree and a summary; 0 when at least one run succeeded.

    Everything the demo sets is a default: ``AGENT_OBS_*`` settings (and ``OTEL_SERVICE_NAME``)
    win over it, and ``service_name`` (``--service-name``) wins over those.
    """
    from fastapi.testclient import TestClient
    from prometheus_client import generate_latest
    from service_obs import ObservabilitySettings, setup_observability

    from .app import create_app

    console = console or Console()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    moved = keep_previous_run(out)
    if moved:
        console.print(f"{out} held an earlier run ({', '.join(moved)}): moved it to {out / PREVIOUS}/",
                      soft_wrap=True, highlight=False)
    obs_settings = ObservabilitySettings.with_defaults(
        {"service_name": SERVICE_NAME, "trace_file": str(out / "traces.jsonl"), "log_file": str(out / "logs.jsonl"),
         "log_to_console": False, "capture_content": True, "log_level": "DEBUG"},
        **({"service_name": service_name} if service_name else {}))
    copy = SpanCopy()
    obs = setup_observability(obs_settings, logger=private_logger(), span_processors=[copy])
    records: list[dict[str, Any]] = []
    try:
        settings = OptimizerSettings.from_env(defaults={"database_url": f"sqlite:///{out / 'optimizer.db'}"})
        app = create_app(settings, obs=obs)
        with TestClient(app, raise_server_exceptions=False) as client, _progress(console) as progress:
            task = progress.add_task("optimizing", total=runs)
            for index in range(runs):
                records.append(_one_run(client, index))
                progress.advance(task)
        (out / "metrics.prom").write_bytes(generate_latest(obs.registry))
        registry = obs.registry
    finally:
        obs.shutdown()
    trace_path = Path(obs.settings.trace_file) if obs.settings.trace_file else None
    last = next((r for r in reversed(records) if r["trace_id"]), None)
    if last is not None:
        spans = load_trace(trace_path, last["trace_id"]) if trace_path and trace_path.exists() else []
        spans = spans or copy.trace(last["trace_id"])
        console.print(render_tree(spans, title=f"last run: job {last['job_id']} ({last['outcome']})"))
    console.print(_summary(records, registry))
    console.print("[bold]telemetry[/bold]")
    written = {"traces": str(trace_path) if trace_path and trace_path.exists() else "sent to the OTLP endpoint",
               "logs": obs.settings.log_file or "no log file (AGENT_OBS_LOG_FILE is empty)",
               "metrics": str(out / "metrics.prom"), "database": _shown_url(settings.database_url)}
    for what, where in written.items():
        console.print(f"  {what}: {where}", soft_wrap=True, highlight=False)
    return 0 if any(r["outcome"] != "error" for r in records) else 1


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def keep_previous_run(out: Path) -> list[str]:
    """Move an earlier run's files in ``out`` to ``out/previous/`` (replacing an older copy).

    A second demo (or ``serve``, which writes ``telemetry/traces.jsonl`` too) must not silently
    overwrite what the first one recorded; one earlier run is kept. Returns the names moved.
    """
    found = [name for name in OUT_FILES if (out / name).exists()]
    if not found:
        return []
    previous = out / PREVIOUS
    previous.mkdir(exist_ok=True)
    for name in OUT_FILES:
        (previous / name).unlink(missing_ok=True)
    for name in found:
        (out / name).replace(previous / name)
    return found


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def _one_run(client: Any, index: int) -> dict[str, Any]:
    job_ids = sample_job_ids()
    job_id = job_ids[index % len(job_ids)]
    rng = random.Random(index)
    started = time.perf_counter()
    response = client.post("/optimizations", json={"job_id": job_id})
    body = response.json()
    record = {"job_id": job_id, "trace_id": body.get("trace_id"), "issues": body.get("issues", []),
              "outcome": "ok" if response.status_code == 201 else "error", "measured": 0}
    if response.status_code == 201 and body["status"] == "awaiting_approval":
        approved = index % 3 != 2
        decided = client.post(f"/optimizations/{body['run_id']}/decision",
                              json={"approved": approved, "reviewer": "demo", "comment": "recorded by agent-obs demo"})
        body = decided.json()
        record["outcome"] = ("interrupted, approved" if approved else "interrupted, rejected") \
            if decided.status_code == 200 else "error"
    record["latency_s"] = time.perf_counter() - started
    baseline = _job_duration_ms(job_id)
    for rec in body.get("recommendations", []) if isinstance(body, dict) else []:
        if rec["status"] == "rejected" or rng.random() < 0.4:
            continue
        actual = rec["estimated_improvement_pct"] * rng.uniform(0.5, 1.3)
        measured = client.post(f"/recommendations/{rec['id']}/measurements", json={
            "baseline_duration_ms": baseline, "optimized_duration_ms": round(baseline * (1 - actual / 100), 1),
            "executions": rng.randint(1, 48)})
        record["measured"] += measured.status_code == 201
    return record


def _job_duration_ms(job_id: str) -> float:
    profile = sample_jobs()[job_id]["profile"]
    return float(profile["end"] - profile["start"])


def _summary(records: list[dict[str, Any]], registry: Any) -> Table:
    table = Table(title="summary", show_header=True)
    table.add_column("what")
    table.add_column("value", justify="right")
    for outcome, count in sorted(Counter(r["outcome"] for r in records).items()):
        table.add_row(f"runs {outcome}", str(count))
    latencies = sorted(r["latency_s"] for r in records)
    if latencies:
        p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
        table.add_row("latency p50 / p95", f"{statistics.median(latencies) * 1000:.0f} ms / {p95 * 1000:.0f} ms")
    tokens_in = _sample_sum(registry, "gen_ai_client_token_usage_sum", gen_ai_token_type="input")
    tokens_out = _sample_sum(registry, "gen_ai_client_token_usage_sum", gen_ai_token_type="output")
    table.add_row("LLM tokens in / out", f"{tokens_in:,.0f} / {tokens_out:,.0f}")
    table.add_row("LLM cost (USD)", f"{_sample_sum(registry, 'agent_obs_llm_cost_usd_total'):.5f}")
    table.add_row("node retries", f"{_sample_sum(registry, 'agent_obs_node_retries_total'):.0f}")
    tool_calls = _sample_sum(registry, "gen_ai_execute_tool_duration_seconds_count")
    tool_ok = _sample_sum(registry, "gen_ai_execute_tool_duration_seconds_count", error_type="")
    table.add_row("tool calls / errors", f"{tool_calls:.0f} / {tool_calls - tool_ok:.0f}")
    table.add_row("measurements recorded", str(sum(r["measured"] for r in records)))
    for issue_type, count in sorted(Counter(i["issue_type"] for r in records for i in r["issues"]).items()):
        table.add_row(f"issues: {issue_type}", str(count))
    return table


def _sample_sum(registry: Any, name: str, **labels: str) -> float:
    total = 0.0
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total

