"""Proof: a down, hung or failing (500/429) Loki and Tempo never block the agent, nothing
raises, memory stays bounded, and once the backends recover everything still queued arrives,
with what was dropped counted. Loki and Tempo are the local stand-ins from tests/receivers.py.

"Never block" is shown without timing the agent (a loaded machine makes every timing noisy):

- every push to Loki and every span export runs on the telemetry's own worker threads, never
  on a thread the agent runs on (the calls are counted by thread);
- with both backends *hung* (each request held open until the test lets it go, the clients'
  timeouts far beyond the test's deadline), all the agent's runs still finish while the
  backends hold the workers' requests. An agent that waited on a backend anywhere (a
  synchronous export, a lock held across a push, a blocking put on a full queue) could not
  finish before the backends are released.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from agent_app import build_engine, build_graph
from conftest_helpers import dropped
from http_fixtures import ApiServer
from polling import wait_for
from service_obs.forksafe import PerProcessExporter
from service_obs.loki import LokiSink
from service_obs.sqlalchemy import instrument_engine

QUEUE = 150
LOGS_PER_RUN = 20
BROKEN_RUNS = 25
# A hung backend answers only when the test calls ok(); the clients would wait this long.
HUNG_SECONDS = 600.0
# The broken runs must finish within this, while the backends are still hung: generous for a
# loaded machine (each run takes milliseconds), far below the clients' timeouts.
RUNS_DEADLINE = 60.0
TELEMETRY_THREADS = {"agent-obs-loki", "OtelBatchSpanRecordProcessor"}


def _break(mode: str, loki, tempo) -> None:
    if mode == "down":
        loki.down()
        tempo.down()
    elif mode == "hung":
        loki.slow(HUNG_SECONDS)
        tempo.slow(HUNG_SECONDS)
    elif mode == "500":
        loki.fail(500)
        tempo.fail(503)
    elif mode == "429":
        loki.fail(429, retry_after="1")
        tempo.fail(429)


def _recover(mode: str, loki, tempo) -> None:
    loki.ok()  # also answers the requests a hung backend holds
    tempo.ok()
    if mode == "down":
        loki.up()
        tempo.up()


class _BackendCalls:
    """The names of the threads that pushed to Loki or exported spans while recording."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.recording = threading.Event()
        self.threads: list[str] = []
        self._lock = threading.Lock()
        for cls, name in ((LokiSink, "_post"), (PerProcessExporter, "export")):
            monkeypatch.setattr(cls, name, self._spy(getattr(cls, name)))

    def _spy(self, method: Any) -> Any:
        calls = self

        def spy(*args: Any, **kwargs: Any) -> Any:
            if calls.recording.is_set():
                with calls._lock:
                    calls.threads.append(threading.current_thread().name)
            return method(*args, **kwargs)

        return spy


@pytest.mark.parametrize("mode", ["down", "hung", "500", "429"])
def test_backend_failures_never_block_the_agent(
    mode, make_obs, make_settings, tempo, loki, tmp_path, log_records, monkeypatch,
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # export during the outage, not after it
    calls = _BackendCalls(monkeypatch)
    client_timeout = HUNG_SECONDS if mode == "hung" else 10.0
    obs = make_obs(make_settings(
        tempo_endpoint=tempo.endpoint, loki_endpoint=loki.url, loki_queue_size=QUEUE,
        loki_batch_size=50, loki_timeout=client_timeout, loki_max_retries=1000, otlp_timeout=client_timeout,
    ))
    sink = obs.logging.loki
    engine = build_engine(str(tmp_path / "jobs.sqlite"))
    instrument_engine(engine, obs)
    with ApiServer() as api:
        graph = build_graph(engine, api.url, logs_per_run=LOGS_PER_RUN)
        observer = obs.observer()

        def run() -> None:
            graph.invoke({"job_id": "j-1"}, config={"callbacks": [observer]})

        for _ in range(10):
            run()
        assert obs.flush(15)  # nothing in flight when the backends break
        delivered_before, spans_before = len(loki.snapshot()), len(tempo.spans())
        pushes_before, exports_before = loki.requests, tempo.requests
        _break(mode, loki, tempo)

        outcome: dict[str, Any] = {"runs": 0}

        def broken_runs() -> None:
            try:
                run()
                outcome["runs"] += 1
                if mode == "hung":  # the rest run while both backends hold a request open
                    wait_for(lambda: loki.requests > pushes_before and tempo.requests > exports_before,
                             timeout=RUNS_DEADLINE / 2, what="both backends holding a request")
                for _ in range(BROKEN_RUNS - 1):
                    run()
                    outcome["runs"] += 1
                    assert sink.queued <= QUEUE  # memory stays bounded
            except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
                outcome["error"] = exc

        calls.recording.set()
        runner = threading.Thread(target=broken_runs, name="agent-runs")
        runner.start()
        runner.join(RUNS_DEADLINE)
        finished_while_broken, runs_by_deadline = not runner.is_alive(), outcome["runs"]
        if mode == "hung" and finished_while_broken:
            # the backends answered nothing during the runs: their requests were still held
            assert len(loki.snapshot()) == delivered_before and len(tempo.spans()) == spans_before
        _recover(mode, loki, tempo)
        runner.join(RUNS_DEADLINE)
        calls.recording.clear()
        assert "error" not in outcome, outcome.get("error")
        assert finished_while_broken, (
            f"only {runs_by_deadline} of {BROKEN_RUNS} runs finished in {RUNS_DEADLINE:.0f} s with the backends {mode}")
        for _ in range(3):
            run()
        wait_for(lambda: sink.queued == 0, timeout=15)
        obs.shutdown(timeout=15)
    engine.dispose()

    # Only the telemetry's own threads talked to the backends, and they did try during the outage.
    assert "agent-obs-loki" in calls.threads and "OtelBatchSpanRecordProcessor" in calls.threads
    assert set(calls.threads) <= TELEMETRY_THREADS, sorted(set(calls.threads))
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
    assert len(roots) >= 3
