"""A service in several worker processes: exact metrics, telemetry from every worker, nothing
lost at a stop. Real servers (uvicorn's supervisor, gunicorn with uvicorn workers), real
processes, a Loki receiver and the default trace file.

Each test sends N ``GET /work`` requests (a LangGraph run each), then scrapes ``/metrics``
at least eight times: every scrape must report exactly N, whichever worker answers. Then
SIGTERM: exactly N server spans must be in the trace file and N records at the receiver.
Batches are set to leave only every 30 s (``servers.server_env``), so what arrives after the
stop was flushed by the stop.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from receivers import LokiReceiver
from servers import (BIN, HERE, ServerProcess, attribute, documented_gunicorn_config, free_port, scrape, send_work,
                     server_env, server_spans, value, wait_ready)
from workers_app import AGENT, DONE_MESSAGE

from agent_obs.semconv import METRIC_HTTP_SERVER_REQUESTS

N = 40
SCRAPES = 8
ROUTE = "/work"


def _assert_exact_scrapes(base: str, n: int) -> None:
    seen = []
    for _ in range(SCRAPES):
        samples = scrape(base)
        seen.append((value(samples, METRIC_HTTP_SERVER_REQUESTS, route=ROUTE, status_code="200"),
                     value(samples, "agent_obs_runs_total", agent=AGENT, status="ok"),
                     value(samples, "agent_obs_active_runs", agent=AGENT)))
    assert seen == [(n, n, 0.0)] * SCRAPES


def _send_until_workers(base: str, n: int, workers: int = 2) -> tuple[int, set[int]]:
    """Rounds of N requests, a few at a time (up to 5 rounds) until ``workers`` processes
    have answered; the number sent and the pids that answered."""
    pids: set[int] = set()
    sent = 0
    while sent < n * 5:
        replies = send_work(base, list(range(sent, sent + n)))
        sent += n
        pids.update(r["pid"] for r in replies)
        if len(pids) >= workers:
            return sent, pids
    raise AssertionError(f"only workers {pids} answered {sent} requests")


def _assert_everything_arrived(tmp: Path, loki: LokiReceiver, total: int) -> tuple[set[int], set[int]]:
    """Exactly one server span and one log record per request; the pids that sent them."""
    spans = server_spans(tmp / "traces.jsonl", f"GET {ROUTE}")
    assert sorted(int(attribute(s, "test.seq")) for s in spans) == list(range(total))
    lines = [line for line in loki.lines() if line["message"] == DONE_MESSAGE]
    assert sorted(line["seq"] for line in lines) == list(range(total))
    return {int(attribute(s, "test.worker.pid")) for s in spans}, {line["pid"] for line in lines}


def test_uvicorn_workers_exact_metrics_and_nothing_lost_at_sigterm(tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with LokiReceiver() as loki, ServerProcess(
        [str(BIN / "uvicorn"), "--factory", "workers_app:create_app", "--workers", "2",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        server_env(tmp_path, loki.url), tmp_path / "server.log", cwd=HERE,
    ) as server:
        wait_ready(server, f"{base}/health")
        total, workers = _send_until_workers(base, N)
        _assert_exact_scrapes(base, total)
        assert server.terminate() == 0, server.log()
        span_pids, log_pids = _assert_everything_arrived(tmp_path, loki, total)
    assert span_pids == workers
    assert log_pids == workers


@pytest.mark.skipif(shutil.which("gunicorn", path=str(BIN)) is None, reason="gunicorn is in the dev extra")
def test_gunicorn_preload_restarted_workers_exact_metrics_and_nothing_lost(tmp_path: Path):
    """--preload forks after setup_observability; --max-requests restarts workers mid-run."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    max_requests = 12
    with LokiReceiver() as loki, ServerProcess(
        # the documented config (preload, uvicorn workers, the hooks); the command line wins
        [str(BIN / "gunicorn"), "workers_app:create_app()", "--config", str(documented_gunicorn_config(tmp_path)),
         "--workers", "2", "--bind", f"127.0.0.1:{port}", "--max-requests", str(max_requests),
         "--max-requests-jitter", "0", "--no-control-socket", "--log-level", "warning"],
        server_env(tmp_path, loki.url), tmp_path / "server.log", cwd=HERE,
    ) as server:
        wait_ready(server, f"{base}/health")
        total, workers = _send_until_workers(base, N, workers=3)  # the third is a restarted one
        _assert_exact_scrapes(base, total)
        assert server.terminate() == 0, server.log()
        span_pids, log_pids = _assert_everything_arrived(tmp_path, loki, total)
    assert span_pids == workers  # spans from every worker, the restarted ones too
    assert log_pids == workers
