"""Talking to a service under test in worker processes: requests, scrapes, its trace file.

The processes themselves are ``processes.ServerProcess`` (every wait has a deadline; the
``with`` block kills the whole process group).
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from polling import wait_for
from processes import ServerProcess
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def get(url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ready(server: ServerProcess, url: str, timeout: float = 60.0) -> None:
    def ready() -> bool:
        if not server.alive():
            raise AssertionError(f"server exited:\n{server.log()}")
        try:
            return get(url, timeout=2)[0] == 200
        except OSError:
            return False

    wait_for(ready, timeout=timeout, interval=0.1, what=f"{url} answering")


def get_served(url: str) -> tuple[int, bytes]:
    """``get(url)``, sent again when a stopping worker closed the connection unanswered.

    A worker that is stopping (``--max-requests``) closes connections it accepted but has not
    read a request from yet; such a request was never served, so it is sent again (a request
    served twice would show as a duplicate ``seq`` in the spans and logs the tests check).
    """
    for _ in range(5):
        try:
            return get(url)
        except (ConnectionResetError, http.client.RemoteDisconnected):
            continue
    raise AssertionError(f"{url} was refused five times")


def send_work(base: str, seqs: list[int], threads: int = 4) -> list[dict[str, Any]]:
    """``GET /work?seq=N`` for each N, a few at a time, each on a new connection."""
    def one(seq: int) -> dict[str, Any]:
        status, body = get_served(f"{base}/work?seq={seq}")
        assert status == 200, (seq, status, body[:500])
        return json.loads(body)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, seqs))


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One ``/metrics`` scrape: (sample name, sorted labels) -> value (sent again if a stopping
    worker closed the connection unanswered, as Prometheus scrapes again)."""
    status, body = get_served(f"{base}/metrics")
    assert status == 200, body[:500]
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], Any], name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == want for k, want in labels.items()))


def server_env(tmp: Path, loki_url: str, **extra: str) -> dict[str, str]:
    """The environment of a test server: multiprocess dir, trace file, Loki, slow batches.

    Span batches every 30 s and Loki batches every 30 s: whatever the test sees before the
    server stops would have been sent by a timer anyway; what arrives after a stop was
    flushed by the stop.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AGENT_OBS_", "OTEL_", "PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"))}
    (tmp / "multiproc").mkdir(exist_ok=True)
    env.update({
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "multiproc"),
        "AGENT_OBS_TRACE_FILE": str(tmp / "traces.jsonl"),
        "AGENT_OBS_LOG_FILE": "",
        "AGENT_OBS_LOG_TO_CONSOLE": "false",
        "AGENT_OBS_LOKI_ENDPOINT": loki_url,
        "AGENT_OBS_LOKI_FLUSH_INTERVAL": "30",
        "AGENT_OBS_INSTRUMENT_HTTP": "false",
        "OTEL_BSP_SCHEDULE_DELAY": "30000",
        "PYTHONPATH": str(HERE) + os.pathsep + env.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def server_spans(trace_file: Path, name: str) -> list[dict[str, Any]]:
    """Spans called ``name`` in an OTLP JSON trace file; every line must be one whole request."""
    spans = []
    for number, line in enumerate(trace_file.read_text().splitlines(), 1):
        request = json.loads(line)  # a torn or interleaved line fails here
        assert set(request) == {"resourceSpans"}, f"line {number}: {line[:200]}"
        for rs in request["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                spans.extend(s for s in ss["spans"] if s["name"] == name)
    return spans


def attribute(span: dict[str, Any], key: str) -> Any:
    for attr in span.get("attributes", []):
        if attr["key"] == key:
            value = attr["value"]
            return next(iter(value.values()))
    return None


def free_port() -> int:
    """A port nothing listens on now (the server under test binds it next)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def documented_gunicorn_config(tmp: Path) -> Path:
    """The guide's gunicorn.conf.py, as written, so the documented config is the tested one."""
    from docs_helpers import DOCS, fenced_blocks

    text = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    line = text.count("\n", 0, text.index("<!-- gunicorn-config -->")) + 1
    n, lang, body = next(b for b in fenced_blocks(text) if b[0] > line)
    assert (n, lang) == (line + 1, "python")
    path = tmp / "gunicorn.conf.py"
    path.write_text(body + "\n")
    return path
