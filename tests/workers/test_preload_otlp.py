"""gunicorn ``--preload`` exporting spans over OTLP: the exporters are built again after the fork,
and what a worker still holds at SIGTERM leaves before it exits.

The documented gunicorn config (preload, uvicorn workers, the hooks) runs ``workers_app`` in two
workers; ``setup_observability`` runs once, in the master, before the fork, with a Tempo
endpoint: an OTLP receiver in this test (gRPC, the default protocol, and HTTP/protobuf). The
app's start-up span is exported by the master before it forks, so its exporter has a live gRPC
channel or pooled HTTP connection that the workers must not share. Log records go to a Loki
receiver.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from polling import wait_for
from receivers import LokiReceiver, OtlpGrpcReceiver, OtlpHttpReceiver, attributes
from servers import BIN, HERE, ServerProcess, documented_gunicorn_config, free_port, send_work, server_env, wait_ready
from workers_app import DONE_MESSAGE, STARTUP_SPAN

RUNNING = 30  # requests per round until both workers have answered
AT_STOP = 10  # requests sent just before SIGTERM
ROUTE = "GET /work"

pytestmark = pytest.mark.skipif(shutil.which("gunicorn", path=str(BIN)) is None,
                                reason="gunicorn is in the dev extra")


def _gunicorn(tmp: Path, port: int, env: dict[str, str]) -> ServerProcess:
    config = documented_gunicorn_config(tmp)
    assert "preload_app = True" in config.read_text()
    return ServerProcess(
        [str(BIN / "gunicorn"), "workers_app:create_app()", "--config", str(config), "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "info"],
        env, tmp / "server.log", cwd=HERE,
    )


def _until_both_workers(base: str) -> tuple[int, set[int]]:
    """Rounds of requests until both workers answered: the number sent, the workers' pids."""
    sent, workers = 0, set()
    while len(workers) < 2:
        assert sent < RUNNING * 5, f"only workers {workers} answered {sent} requests"
        workers.update(reply["pid"] for reply in send_work(base, list(range(sent, sent + RUNNING))))
        sent += RUNNING
    return sent, workers


def _server_spans(receiver: Any) -> list[dict[str, Any]]:
    """The attributes of every ``GET /work`` span the receiver has, duplicates included."""
    return [attributes(span) for span in receiver.spans() if span.name == ROUTE]


def _seqs(spans: list[dict[str, Any]]) -> list[int]:
    return sorted(int(span["test.seq"]) for span in spans)


def _startup_pids(receiver: Any) -> list[int]:
    """Who sent the app's start-up span: the master, once, before it forked (``--preload``)."""
    return [int(attributes(span)["test.pid"]) for span in receiver.spans() if span.name == STARTUP_SPAN]


def _senders_by_connection(receiver: Any) -> dict[str, set[int]]:
    """The pids whose spans came over each client connection (address and port)."""
    senders: dict[str, set[int]] = {}
    for peer, resource_spans in receiver.exports:
        for rs in resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    attrs = attributes(span)
                    pid = attrs.get("test.worker.pid", attrs.get("test.pid"))
                    if pid is not None:
                        senders.setdefault(peer, set()).add(int(pid))
    return senders


def _assert_all_arrived(tempo: Any, loki: LokiReceiver, sent: int, workers: set[int]) -> None:
    """Each request's span and log record exactly once, from exactly the workers that served."""
    spans = _server_spans(tempo)
    assert _seqs(spans) == list(range(sent)), Counter(_seqs(spans)).most_common(3)
    assert {int(span["test.worker.pid"]) for span in spans} == workers
    assert {attributes(rs.resource)["service.name"] for rs in tempo.resource_spans} == {"workers-test"}
    assert len(_startup_pids(tempo)) == 1  # a worker never sent its parent's spans again
    # each process its own connection: no worker wrote through the master's (or a sibling's)
    shared = {peer: pids for peer, pids in _senders_by_connection(tempo).items() if len(pids) > 1}
    assert not shared, shared
    lines = [line for line in loki.lines() if line["message"] == DONE_MESSAGE]
    assert sorted(line["seq"] for line in lines) == list(range(sent))
    assert {line["pid"] for line in lines} == workers


def _assert_workers_exited_through_the_hook(log: str, workers: set[int]) -> None:
    """gunicorn logs "Worker exiting" right before it runs worker_exit; a worker killed by a
    signal never gets there (and the master says it "was sent SIGTERM!")."""
    assert {int(pid) for pid in re.findall(r"Worker exiting \(pid: (\d+)\)", log)} == workers, log
    assert "was sent SIG" not in log and "WORKER TIMEOUT" not in log, log


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_preloaded_workers_export_every_span_over_otlp(tmp_path: Path, protocol: str) -> None:
    """Spans leave on each worker's batch timer while the server runs (its own thread, its own
    exporter), then more requests and SIGTERM: every span arrives exactly once, from both
    workers, and both exit through gunicorn's worker_exit hook."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver_type = OtlpGrpcReceiver if protocol == "grpc" else OtlpHttpReceiver
    with LokiReceiver() as loki, receiver_type() as tempo:
        env = server_env(tmp_path, loki.url, AGENT_OBS_TEMPO_ENDPOINT=tempo.endpoint,
                         AGENT_OBS_OTLP_PROTOCOL=protocol, OTEL_BSP_SCHEDULE_DELAY="200")
        with _gunicorn(tmp_path, port, env) as server:
            wait_ready(server, f"{base}/health")
            assert _startup_pids(tempo) == [server.proc.pid]  # the master's exporter is connected
            sent, workers = _until_both_workers(base)
            wait_for(lambda: _seqs(_server_spans(tempo)) == list(range(sent)), timeout=30,
                     what=f"{sent} server spans at the {protocol} receiver while the server runs")
            send_work(base, list(range(sent, sent + AT_STOP)))
            sent += AT_STOP
            assert server.terminate(timeout=60) == 0, server.log()
            log = server.log_path.read_text(errors="replace")
        _assert_all_arrived(tempo, loki, sent, workers)
    _assert_workers_exited_through_the_hook(log, workers)


def test_worker_exit_hook_sends_what_an_uninstrumented_app_still_holds(tmp_path: Path) -> None:
    """An app without ``instrument_app`` has no flush on the lifespan shutdown, and here no batch
    leaves on its own (a 60 s timer, batches larger than the run): at SIGTERM only gunicorn's
    worker_exit hook can send the spans and log records. (uvicorn's worker re-raises SIGTERM
    with the default action after its graceful shutdown; without the documented config's
    post_worker_init hook that killed the worker before worker_exit ran, and all was lost.)"""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with LokiReceiver() as loki, OtlpGrpcReceiver() as tempo:
        env = server_env(tmp_path, loki.url, AGENT_OBS_TEMPO_ENDPOINT=tempo.endpoint, WORKERS_APP_INSTRUMENT="0",
                         OTEL_BSP_SCHEDULE_DELAY="60000", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2048")
        with _gunicorn(tmp_path, port, env) as server:
            wait_ready(server, f"{base}/health")
            assert _startup_pids(tempo) == [server.proc.pid]  # the master's exporter is connected
            sent, workers = _until_both_workers(base)
            # everything the workers made is still in the workers
            assert _server_spans(tempo) == [] and not [line for line in loki.lines() if line["message"] == DONE_MESSAGE]
            assert server.terminate(timeout=60) == 0, server.log()
            log = server.log_path.read_text(errors="replace")
        _assert_all_arrived(tempo, loki, sent, workers)
    _assert_workers_exited_through_the_hook(log, workers)
