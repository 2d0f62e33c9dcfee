"""The parts behind multi-worker services, each on its own: gauge modes, the shared trace
file, the exposition in multiprocess mode (in a child process, where the mode is chosen)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from agent_obs import semconv as sc
from agent_obs.otlp_json import OtlpJsonFileExporter


def test_every_gauge_has_a_multiprocess_mode_that_keeps_its_meaning():
    gauges = [name for name, (kind, *_rest) in sc.METRICS.items() if kind == "gauge"]
    assert gauges and set(gauges) == set(sc.METRIC_MULTIPROCESS_MODES)
    assert sc.METRIC_MULTIPROCESS_MODES[sc.METRIC_ACTIVE_RUNS] == "livesum"
    example_gauges = {name for name, (kind, *_rest) in sc.EXAMPLE_METRICS.items() if kind == "gauge"}
    assert example_gauges == set(sc.EXAMPLE_METRIC_MULTIPROCESS_MODES)
    assert sc.EXAMPLE_METRIC_MULTIPROCESS_MODES[sc.METRIC_ACTIVE_OPTIMIZATIONS] == "livesum"


def test_gauge_families_are_created_with_their_mode(registry):
    from agent_obs.metrics import family

    gauge = family(registry, sc.METRIC_ACTIVE_RUNS)
    assert gauge._multiprocess_mode == "livesum"  # noqa: SLF001 - what prometheus_client merges by


def test_processes_sharing_a_trace_file_never_interleave_lines(tmp_path: Path):
    """Two forked processes append large batches to one file at once: every line is whole."""
    path = tmp_path / "traces.jsonl"
    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    spans = []
    for i in range(40):
        with tracer.start_as_current_span(f"s{i}", attributes={"pad": "x" * 4000}) as span:
            pass
        spans.append(span)
    exporter = OtlpJsonFileExporter(path)
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 0
            try:
                for _ in range(25):
                    exporter.export(spans)  # ~170 kB per line, many write() calls if buffered
            except BaseException:  # noqa: BLE001
                code = 1
            os._exit(code)
        children.append(pid)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 50
    for line in lines:
        assert len(json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 40


def test_multiprocess_exposition_sums_processes_and_clears_dead_live_gauges(tmp_path: Path):
    """In a child with PROMETHEUS_MULTIPROC_DIR: the served registry merges the files of two
    processes; live gauges of a process that is gone are cleared at the scrape."""
    script = r'''
import os, sys
from prometheus_client import CollectorRegistry, generate_latest
from agent_obs.metrics import metrics_for
from service_obs.multiprocess import exposition_registry, is_multiprocess
assert is_multiprocess()
registry = CollectorRegistry()
m = metrics_for(registry)
pid = os.fork()
if pid == 0:
    m.runs("a", "ok").inc(2)
    m.active_runs("a").inc()
    os._exit(0)
os.waitpid(pid, 0)
m.runs("a", "ok").inc(3)
m.active_runs("a").inc()
text = generate_latest(exposition_registry(registry)).decode()
sys.stdout.write(text)
'''
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert 'agent_obs_runs_total{agent="a",status="ok"} 5.0' in out
    assert 'agent_obs_active_runs{agent="a"} 1.0' in out  # the child's run no longer counts
    assert f'pid="{os.getpid()}"' not in out and "process_resident_memory_bytes{pid=" in out


def test_families_nothing_touched_are_listed_without_samples(tmp_path: Path):
    """As in a single process: a counter with no observations yet still has HELP and TYPE."""
    script = r'''
import sys
from prometheus_client import CollectorRegistry, generate_latest
from agent_obs import semconv as sc
from agent_obs.metrics import family, metrics_for
from service_obs.multiprocess import exposition_registry
registry = CollectorRegistry()
metrics_for(registry).runs("a", "ok").inc()
family(registry, sc.METRIC_DROPPED)
sys.stdout.write(generate_latest(exposition_registry(registry)).decode())
'''
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "# TYPE agent_obs_dropped_total counter" in out or "# TYPE agent_obs_dropped counter" in out
    assert 'agent_obs_runs_total{agent="a",status="ok"} 1.0' in out
    assert out.count("# TYPE agent_obs_runs_total counter") + out.count("# TYPE agent_obs_runs counter") == 1


def test_shutdown_all_flushes_every_live_handle_within_their_setting(tmp_path: Path, monkeypatch):
    """What gunicorn's worker_exit hook runs: every handle of the process, spans on disk."""
    from service_obs import ObservabilitySettings, setup_observability
    from service_obs.setup import live_handles, shutdown_all

    for name in [n for n in os.environ if n.startswith(("AGENT_OBS_", "OTEL_EXPORTER_OTLP"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")  # only a flush writes the span
    trace_file = tmp_path / "traces.jsonl"
    obs = setup_observability(ObservabilitySettings(
        service_name="w", trace_file=str(trace_file), log_file=None, log_to_console=False,
        instrument_http=False, shutdown_timeout=5))
    try:
        with obs.tracer().start_as_current_span("queued"):
            pass
        assert obs in live_handles()
        shutdown_all()
        assert obs not in live_handles()
        assert '"name": "queued"' in trace_file.read_text() or '"name":"queued"' in trace_file.read_text()
    finally:
        obs.shutdown(0)
