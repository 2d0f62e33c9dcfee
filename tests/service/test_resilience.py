"""Proof: a down, slow (5 s per request) or failing (500/429) Loki and Tempo never slow the
agent down, nothing raises, memory stays bounded, and once the backends recover everything
still queued arrives, with what was dropped counted. Loki and Tempo are the local stand-ins
from tests/receivers.py."""

from __future__ import annotations

import statistics
import time

import pytest

from agent_app import build_engine, build_graph
from conftest_helpers import dropped
from http_fixtures import ApiServer
from polling import wait_for
from service_obs.sqlalchemy import instrument_engine

QUEUE = 150
LOGS_PER_RUN = 20


def _break(mode: str, loki, tempo) -> None:
    if mode == "down":
        loki.down()
        tempo.down()
    elif mode == "slow":
        loki.slow(5.0)
        tempo.slow(5.0)
    elif mode == "500":
        loki.fail(500)
        tempo.fail(503)
    elif mode == "429":
        loki.fail(429, retry_after="1")
        tempo.fail(429)


def _recover(mode: str, loki, tempo) -> None:
    loki.ok()
    tempo.ok()
    if mode == "down":
        loki.up()
        tempo.up()


@pytest.mark.parametrize("mode", ["down", "slow", "500", "429"])
def test_agent_latency_is_unaffected_by_backend_failures(
    mode, make_obs, make_settings, tempo, loki, tmp_path, log_records, monkeypatch,
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # export during the outage, not after it
    obs = make_obs(make_settings(
        tempo_endpoint=tempo.endpoint, loki_endpoint=loki.url, loki_queue_size=QUEUE,
        loki_batch_size=50, loki_timeout=10.0, loki_max_retries=1000, otlp_timeout=10.0,
    ))
    sink = obs.logging.loki
    engine = build_engine(str(tmp_path / "jobs.sqlite"))
    instrument_engine(engine, obs)
    with ApiServer() as api:
        graph = build_graph(engine, api.url, logs_per_run=LOGS_PER_RUN)
        observer = obs.observer()

        def run(job: str) -> float:
            started = time.perf_counter()
            graph.invoke({"job_id": job}, config={"callbacks": [observer]})
            return time.perf_counter() - started

        healthy = [run("j-1") for _ in range(10)]
        wait_for(lambda: sink.queued == 0)
        _break(mode, loki, tempo)
        broken = []
        for _ in range(25):
            broken.append(run("j-1"))
            assert sink.queued <= QUEUE  # memory stays bounded
        _recover(mode, loki, tempo)
        after = [run("j-1") for _ in range(3)]
        wait_for(lambda: sink.queued == 0, timeout=15)
        obs.shutdown(timeout=15)
    engine.dispose()

    # Nothing blocked: a 5 s backend must not show up in any call.
    assert max(broken) < 0.5, (mode, max(broken))
    assert statistics.median(broken) < 3 * statistics.median(healthy) + 0.05, (healthy, broken)
    # Everything still queued at recovery arrived; what did not fit was dropped and counted.
    emitted = sum(1 for r in log_records if r["level"] != "TRACE")
    delivered = len(loki.snapshot())
    lost = sum(dropped(obs.registry, reason) for reason in ("queue_full", "rejected", "retries_exhausted", "shutdown"))
    assert dropped(obs.registry, "queue_full") > 0
    assert dropped(obs.registry, "rejected") == 0 and dropped(obs.registry, "retries_exhausted") == 0
    assert delivered + lost == emitted, (delivered, lost, emitted)
    assert delivered >= QUEUE
    # Traces made after the recovery reach Tempo.
    roots = [s for s in tempo.spans() if s.name == "invoke_agent optimizer"]
    assert len(roots) >= len(after)
