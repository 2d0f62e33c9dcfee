#!/usr/bin/env python3
"""Latency of an optimization request on the example service, with full observability vs off.

Why: the per-callback numbers matter only if the service's users feel nothing. Two copies of
the example service (``agent_obs_example``) run side by side as real uvicorn servers on
127.0.0.1, each in its own process, and one client alternates requests between them in
rounds (A B ... B A ...), so machine drift hits both alike:

- ``on``: ``setup_observability`` with OTLP gRPC export to a Tempo stand-in, the Loki sink to
  a Loki stand-in (both in a third process, ``stand_ins.py``), HTTP client instrumentation,
  the AgentObserver on the graph, and ``/metrics`` scraped every second by a background
  thread of the client process, as Prometheus would (every mode but ``off`` and ``no-scrape``).
- ``off``: tracing disabled (``enable_tracing=False``: ALWAYS_OFF sampler, no exporter), no
  log sinks, no HTTP client instrumentation, and no observer on the graph
  (``create_app(..., observe_agent=False)``); FastAPI's RED middleware and the SQLAlchemy
  hooks that ``create_app`` always installs stay (their spans are non-recording).

More copies split the difference (``--modes``), each ``on`` minus one part, so that ``on``
minus the mode is that part's share. The default runs off, on, no-observer, no-loki,
no-export and no-tracing; the others are best measured a few at a time (ten servers on two
cores drown a small share in noise), e.g. ``--modes off,on,no-db-spans``:

- ``no-observer``: no AgentObserver on the graph; ``no-loki``: no Loki sink;
- ``no-export``: spans recorded and batched as usual, then dropped by an exporter that sends
  nothing (the OTLP protobuf encoding and the gRPC call);
- ``no-server-spans``: the FastAPI server spans removed after ``create_app`` (the RED
  middleware and ``/metrics`` stay); ``no-db-spans``: the SQLAlchemy query spans removed (the
  query-duration metric stays); ``no-http-spans``: ``instrument_http=False``;
- ``no-scrape``: ``/metrics`` is not scraped; ``no-tracing``: ``enable_tracing=False``, with
  the observer, the Loki sink, HTTP instrumentation and scraping on.

Besides latency, each server reports its process CPU time and garbage-collector time (all
threads, scrapes included) per measured request, counted from the end of the warm-up. The
scraper asks for OpenMetrics with Prometheus's own ``Accept`` header, so exemplars are
rendered as they are for a real Prometheus. ``--gc-freeze`` moves every server's start-up
heap out of the collector's reach (``gc.freeze()`` after ``create_app``), in every mode alike,
to show how much of the difference is full-collection pauses.

The request is ``POST /optimizations`` for sample jobs that complete without approval (the
scripted model, the example's Dremio stand-in, SQLite): 8 graph nodes, 2 LLM calls, 3 tool
calls, 10 HTTP calls to Dremio and 7 SQL statements per request. The Dremio stand-in runs in
its own process (``stand_ins.py``), as a real Dremio is another machine; before 2026-11-27
each server ran its own in-process, so the server process also paid for answering its Dremio
calls (``--dremio-in-process`` brings that back).

    .venv/bin/python bench/e2e_service.py [--quick] [--modes on,off,...] [--gc-freeze] [--json PATH] [--md PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from report import publish  # noqa: E402

JOBS = ("2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b004", "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b003")  # complete, no approval
TARGET_P95_MS = 2.0


# --- server side (child process) ---------------------------------------------------------
class _DroppingExporter:
    """Accepts every batch and sends nothing: spans are still recorded and batched."""

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _ProcessStats:
    """CPU and garbage-collector time of this server process, written to a file at exit."""

    def __init__(self, path: str) -> None:
        import gc

        self.path = path
        self.gc_seconds = 0.0
        self.gc_runs = [0, 0, 0]
        self._gc_started = 0.0
        self._cpu_start = time.process_time()
        gc.callbacks.append(self._on_gc)
        signal.signal(signal.SIGUSR1, self.reset)  # sent by the client when the warm-up is over

    def reset(self, *_: Any) -> None:
        self.gc_seconds, self.gc_runs, self._cpu_start = 0.0, [0, 0, 0], time.process_time()

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_seconds += time.perf_counter() - self._gc_started
            self.gc_runs[info["generation"]] += 1

    def write(self) -> None:
        import json

        with open(self.path, "w") as f:
            json.dump({"cpu_s": time.process_time() - self._cpu_start, "gc_s": self.gc_seconds,
                       "gc_runs": self.gc_runs}, f)


def serve(mode: str, port: int, db_path: str, otlp: str | None, loki: str | None,
          stats_path: str | None = None, gc_freeze: bool = False, dremio: str | None = None) -> None:
    """One server: ``on`` minus whatever the mode's name says it goes without."""
    sys.path.insert(0, ROOT)
    import uvicorn
    from loguru import logger

    from agent_obs_example.app import create_app
    from agent_obs_example.settings import OptimizerSettings
    from service_obs import ObservabilitySettings, setup_observability

    logger.remove()  # no console handler in either mode: only what the settings add
    common = dict(service_name="optimizer-agent", log_file=None, log_to_console=False, trace_file=None,
                  capture_content=False)
    exporter = None
    if mode == "off":
        settings = ObservabilitySettings(**common, enable_tracing=False, log_to_loki=False, instrument_http=False)
    else:
        use_loki = mode != "no-loki"
        settings = ObservabilitySettings(**common, tempo_endpoint=otlp, loki_endpoint=loki if use_loki else None,
                                         log_to_loki=use_loki, log_level="INFO",
                                         instrument_http=mode != "no-http-spans",
                                         enable_tracing=mode != "no-tracing")
        if mode == "no-export":
            exporter = _DroppingExporter()
    obs = setup_observability(settings, span_exporter=exporter)
    app = create_app(OptimizerSettings(database_url=f"sqlite:///{db_path}", dremio_url=dremio), obs=obs,
                     observe_agent=mode not in ("off", "no-observer"))
    runtime = app.state.runtime
    if mode == "no-server-spans":
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.uninstrument_app(app)  # the RED middleware and /metrics stay
    if mode == "no-db-spans":
        from sqlalchemy import event

        engine_instrumentation = runtime._engine_instrumentation  # noqa: SLF001 - bench only
        for _, identifier, func in engine_instrumentation._tracer_listeners:  # noqa: SLF001
            event.remove(engine_instrumentation.engine, identifier, func)
        engine_instrumentation._tracer_listeners.clear()  # noqa: SLF001
    if gc_freeze:
        import gc

        gc.collect()
        gc.freeze()
    stats = _ProcessStats(stats_path) if stats_path else None
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="on")
    try:
        uvicorn.Server(config).run()
    finally:
        if stats is not None:
            stats.write()
        obs.shutdown(5)


# --- client side --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, mode: str, folder: str, otlp: str | None, loki: str | None, gc_freeze: bool = False,
                 dremio: str | None = None) -> None:
        self.mode = mode
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stats_path = os.path.join(folder, f"{mode}.stats.json")
        args = [sys.executable, os.path.abspath(__file__), "--serve", mode, "--port", str(self.port),
                "--db", os.path.join(folder, f"{mode}.db"), "--stats", self.stats_path]
        if otlp:
            args += ["--otlp", otlp]
        if loki:
            args += ["--loki", loki]
        if gc_freeze:
            args.append("--gc-freeze")
        if dremio:
            args += ["--dremio", dremio]
        self.log = open(os.path.join(folder, f"{mode}.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, client: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.mode} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if client.get(self.url + "/health").status_code == 200:
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server {self.mode} not ready after {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: uvicorn shuts down, then obs.shutdown() flushes
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def stats(self) -> dict[str, Any]:
        """CPU and GC seconds of the server process since the warm-up ended (empty if unknown)."""
        import json

        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}


# What Prometheus 3 sends by default (scrape_protocols: OpenMetrics 1.0.0 first).
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
                     "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;"
                     "escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")


class Scraper(threading.Thread):
    """GET /metrics of each observed server every ``interval`` seconds, as Prometheus would."""

    def __init__(self, client: Any, urls: list[str], interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="bench-scraper")
        self.client, self.urls, self.interval = client, urls, interval
        self.stop_event = threading.Event()
        self.scrapes = 0
        self.bytes = 0
        self.failures = 0

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            for url in self.urls:
                try:
                    response = self.client.get(url + "/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
                    self.scrapes += response.status_code == 200
                    self.bytes = len(response.content)
                except Exception:  # noqa: BLE001
                    self.failures += 1


def _request(client: Any, server: Server, job: str) -> float:
    start = time.perf_counter()
    response = client.post(server.url + "/optimizations", json={"job_id": job})
    elapsed = time.perf_counter() - start
    if response.status_code != 201 or response.json().get("status") != "completed":
        raise RuntimeError(f"{server.mode}: unexpected answer {response.status_code} {response.text[:300]}")
    return elapsed


def _quantile(values: list[float], q: float) -> float:
    v = sorted(values)
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


LABELS = {
    "off": "observability off",
    "on": "full observability",
    "no-observer": "full, without AgentObserver",
    "no-loki": "full, without the Loki sink",
    "no-export": "full, spans dropped at export (no OTLP encoding or gRPC)",
    "no-server-spans": "full, without FastAPI server spans",
    "no-db-spans": "full, without SQLAlchemy query spans",
    "no-http-spans": "full, without HTTP client instrumentation",
    "no-scrape": "full, /metrics not scraped",
    "no-tracing": "full, tracing off (metrics, logs, observer stay)",
}
MODES = tuple(LABELS)
# Ten servers on two cores drown one part's share in noise; the default is the coarse split,
# and each finer part is best measured on its own: --modes off,on,no-db-spans.
DEFAULT_MODES = ("off", "on", "no-observer", "no-loki", "no-export", "no-tracing")
UNSCRAPED = ("off", "no-scrape")


def measure(rounds: int, block: int, warmup: int, modes: tuple[str, ...] = DEFAULT_MODES,
            gc_freeze: bool = False, dremio_in_process: bool = False) -> dict[str, Any]:
    import httpx
    from stand_ins import StandIns

    folder = tempfile.mkdtemp(prefix="agent-obs-e2e-")
    with StandIns(dremio=not dremio_in_process) as backends, httpx.Client(timeout=30.0) as client, \
            httpx.Client(timeout=10.0) as scrape_client:
        servers = {mode: Server(mode, folder, backends.otlp_endpoint, backends.loki_url, gc_freeze, backends.dremio_url)
                   for mode in modes}
        scraper = Scraper(scrape_client, [s.url for m, s in servers.items() if m not in UNSCRAPED])
        try:
            for server in servers.values():
                server.wait_ready(client)
            for server in servers.values():
                for i in range(warmup):
                    _request(client, server, JOBS[i % len(JOBS)])
            for server in servers.values():
                server.proc.send_signal(signal.SIGUSR1)  # CPU and GC accounting starts now
            scraper.start()
            times: dict[str, list[float]] = {mode: [] for mode in modes}
            block_p50: dict[str, list[float]] = {mode: [] for mode in modes}
            started = time.time()
            for r in range(rounds):
                order = modes if r % 2 == 0 else tuple(reversed(modes))
                for mode in order:
                    block_times = [_request(client, servers[mode], JOBS[i % len(JOBS)]) for i in range(block)]
                    times[mode].extend(block_times)
                    block_p50[mode].append(statistics.median(block_times))
            wall = time.time() - started
            scraper.stop_event.set()
            scraper.join(5)
            before_stop = backends.stats()
        finally:
            for server in servers.values():
                server.stop()
        after_stop = backends.stats()
    process = {mode: server.stats() for mode, server in servers.items()}
    result: dict[str, Any] = {"requests_per_mode": len(times["on"]), "wall_s": wall, "jobs": list(JOBS),
                              "scrapes": scraper.scrapes, "scrape_failures": scraper.failures,
                              "metrics_bytes": scraper.bytes, "backends_during": before_stop,
                              "backends_after_shutdown": after_stop, "modes": {}}
    for mode, values in times.items():
        ms = [v * 1e3 for v in values]
        result["modes"][mode] = {"p50_ms": _quantile(ms, 0.5), "p95_ms": _quantile(ms, 0.95),
                                 "p99_ms": _quantile(ms, 0.99), "mean_ms": statistics.fmean(ms)}
        if process[mode]:  # per measured request, all threads, /metrics scrapes included
            result["modes"][mode]["cpu_ms_per_request"] = process[mode]["cpu_s"] * 1e3 / len(values)
            result["modes"][mode]["gc_ms_per_request"] = process[mode]["gc_s"] * 1e3 / len(values)
            result["modes"][mode]["gc_runs"] = process[mode]["gc_runs"]
    on, off = result["modes"]["on"], result["modes"]["off"]
    result["delta_p50_ms"] = on["p50_ms"] - off["p50_ms"]
    result["delta_p95_ms"] = on["p95_ms"] - off["p95_ms"]
    result["delta_p99_ms"] = on["p99_ms"] - off["p99_ms"]
    result["paired_block_p50_delta_ms"] = {
        mode: statistics.median([(a - b) * 1e3 for a, b in zip(block_p50[mode], block_p50["off"])])
        for mode in modes}
    return result


def _cpu(m: dict[str, Any], key: str) -> str:
    return f"{m[key]:.2f}" if key in m else "n/a"


def markdown(result: dict[str, Any]) -> str:
    modes, off = result["modes"], result["modes"]["off"]
    paired = result["paired_block_p50_delta_ms"]
    lines = [
        f"POST /optimizations, {result['requests_per_mode']} requests per mode, alternating blocks; "
        f"/metrics of every observed server but off and no-scrape scraped each second ({result['scrapes']} scrapes). "
        "CPU and GC are the server process's (all threads, scrapes included) per measured request"
        + ("; every server ran gc.freeze() after start-up:" if result.get("settings", {}).get("gc_freeze") else ":"),
        "",
        "| mode | p50 ms | p95 ms | p99 ms | mean ms | Δp50 vs off | Δp95 vs off | paired Δ block median | "
        "CPU ms/req | GC ms/req |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, m in modes.items():
        lines.append(f"| {LABELS[mode]} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} | {m['p99_ms']:.2f} | "
                     f"{m['mean_ms']:.2f} | {m['p50_ms'] - off['p50_ms']:+.2f} | {m['p95_ms'] - off['p95_ms']:+.2f} | "
                     f"{paired[mode]:+.2f} | {_cpu(m, 'cpu_ms_per_request')} | {_cpu(m, 'gc_ms_per_request')} |")
    parts = [mode for mode in modes if mode not in ("on", "off")]
    if parts:
        on = modes["on"]
        lines += ["", ("Share of each part (full minus the mode without it). One run's noise is about ±1.5 ms on the paired "
                   "median and several ms on p95: read small or negative shares as zero, and repeat before trusting one:"), "",
                  "| part | paired Δ block median ms | Δp95 ms | Δ CPU ms/req |", "| --- | --- | --- | --- |"]
        for mode in parts + ["off"]:
            m = modes[mode]
            cpu = (f"{on['cpu_ms_per_request'] - m['cpu_ms_per_request']:+.2f}"
                   if "cpu_ms_per_request" in m and "cpu_ms_per_request" in on else "n/a")
            name = "everything" if mode == "off" else LABELS[mode].split(", ", 1)[1]
            lines.append(f"| {name} | {paired['on'] - paired[mode]:+.2f} | {on['p95_ms'] - m['p95_ms']:+.2f} | {cpu} |")
    backends = result["backends_after_shutdown"]
    lines += [
        "",
        f"Received by the stand-ins (from every observed server): {backends.get('spans', 0):,} spans in "
        f"{backends.get('otlp_requests', 0)} OTLP exports, "
        f"{backends.get('loki_entries', 0):,} log lines in "
        f"{backends.get('loki_pushes', 0)} gzip pushes.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--block", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--modes", default=",".join(DEFAULT_MODES), help=f"comma-separated among {', '.join(MODES)}")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() in every server after start-up")
    ap.add_argument("--dremio-in-process", action="store_true",
                    help="each server starts its own Dremio stand-in in-process (as before 2026-11-27)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    ap.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--otlp", help=argparse.SUPPRESS)
    ap.add_argument("--loki", help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    ap.add_argument("--dremio", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.db, args.otlp, args.loki, args.stats, args.gc_freeze, args.dremio)
        return 0
    if args.quick:
        args.rounds, args.block, args.warmup = 2, 5, 3
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    if "on" not in modes or "off" not in modes or any(m not in MODES for m in modes):
        raise SystemExit(f"--modes must include on and off, among {', '.join(MODES)}")
    result = measure(args.rounds, args.block, args.warmup, modes, args.gc_freeze, args.dremio_in_process)
    result["date"] = dt.datetime.now().isoformat(timespec="seconds")
    result["settings"] = {"rounds": args.rounds, "block": args.block, "warmup": args.warmup, "modes": list(modes),
                          "gc_freeze": args.gc_freeze, "dremio_in_process": args.dremio_in_process}
    table = markdown(result)
    met = result["delta_p95_ms"] <= TARGET_P95_MS
    verdict = (f"p95 difference {result['delta_p95_ms']:+.2f} ms, target <= {TARGET_P95_MS} ms: "
               + ("met" if met else f"NOT met (by {result['delta_p95_ms'] - TARGET_P95_MS:.2f} ms)"))
    publish("e2e_service.py", result, table, verdict, args.json, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
