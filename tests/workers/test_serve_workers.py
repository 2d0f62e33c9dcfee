"""``agent-obs serve --workers 2``: the example service in two uvicorn workers, for real.

Approvals are switched off (``AGENT_OBS_APPROVAL_REQUIRED_RISK=none``: each worker keeps its
own checkpoints), every worker starts its own Dremio stand-in, and the runs' counters on
``/metrics`` must be exact on every scrape whichever worker answers.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from pathlib import Path

from processes import ServerProcess
from servers import BIN, scrape, value, wait_ready

RUNS = 12


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        return response.status, json.loads(response.read())


def test_serve_with_two_workers_reports_exact_counts_and_cleans_up(tmp_path: Path):
    from agent_obs_example.samples import sample_job_ids

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AGENT_OBS_", "OTEL_", "PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"))}
    env.update({
        "AGENT_OBS_DATABASE_URL": f"sqlite:///{tmp_path / 'optimizer.db'}",
        "AGENT_OBS_TRACE_FILE": str(tmp_path / "traces.jsonl"),
        "AGENT_OBS_LOG_FILE": "", "AGENT_OBS_LOG_TO_CONSOLE": "false",
        "AGENT_OBS_APPROVAL_REQUIRED_RISK": "none",
        "TMPDIR": str(tmp_path),  # where serve makes its multiprocess directory
    })
    base = f"http://127.0.0.1:{port}"
    jobs = sample_job_ids()
    with ServerProcess([str(BIN / "agent-obs"), "serve", "--workers", "2", "--port", str(port)], env,
                       tmp_path / "serve.log", cwd=tmp_path) as server:
        wait_ready(server, f"{base}/health", timeout=90)
        made = [p for p in tmp_path.iterdir() if p.name.startswith("agent-obs-metrics-")]
        assert len(made) == 1 and any(made[0].glob("*.db")), server.log()
        for i in range(RUNS):
            status, body = _post(f"{base}/optimizations", {"job_id": jobs[i % len(jobs)]})
            assert status == 201, body
        for _ in range(8):
            samples = scrape(base)
            assert value(samples, "agent_obs_runs_total") == RUNS
            assert value(samples, "optimizer_requests_total", endpoint="optimize_query") == RUNS
            assert value(samples, "agent_obs_active_runs") == 0
        assert server.terminate() == 0, server.log()
    assert not made[0].exists()  # the temporary multiprocess directory is removed
