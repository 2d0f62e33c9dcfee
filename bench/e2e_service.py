#!/usr/bin/env python3
"""Latency of an optimization request on the example service, with full observability vs off.

Why: the per-callback numbers matter only if the service's users feel nothing. Two copies of
the example service (``examples/optimizer``) run side by side as real uvicorn servers on
127.0.0.1, each in its own process, and one client alternates requests between them in
rounds (A B ... B A ...), so machine drift hits both alike:

- ``on``: ``setup_observability`` with OTLP gRPC export to a Tempo stand-in, the Loki sink to
  a Loki stand-in (both in a third process, ``stand_ins.py``), HTTP client instrumentation,
  the AgentObserver on the graph, and ``/metrics`` scraped every second by a background
  thread of the client process, as Prometheus would (every mode but ``off`` is scraped).
- ``off``: tracing disabled (``enable_tracing=False``: ALWAYS_OFF sampler, no exporter), no
  log sinks, no HTTP client instrumentation, and no observer on the graph. The example app
  has no switch for the last one, so the benchmark empties the service's callback list after
  ``create_app``; FastAPI's RED middleware and the SQLAlchemy hooks that ``create_app``
  always installs stay (their spans are non-recording).

Two more copies split the difference (``--modes``): ``no-observer`` is ``on`` without the
AgentObserver on the graph (its share), ``no-loki`` is ``on`` without the Loki sink.

The request is ``POST /optimizations`` for sample jobs that complete without approval (the
scripted model, the local Dremio stand-in, SQLite): 8 graph nodes, 2 LLM calls, 3 tool calls,
HTTP calls to Dremio and SQL inserts per request.

    .venv/bin/python bench/e2e_service.py [--quick] [--json PATH] [--md PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
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
def serve(mode: str, port: int, db_path: str, otlp: str | None, loki: str | None) -> None:
    sys.path.insert(0, ROOT)
    import uvicorn
    from loguru import logger

    from examples.optimizer.app import create_app
    from examples.optimizer.settings import OptimizerSettings
    from service_obs import ObservabilitySettings, setup_observability

    logger.remove()  # no console handler in either mode: only what the settings add
    common = dict(service_name="optimizer-agent", log_file=None, log_to_console=False, trace_file=None,
                  capture_content=False)
    if mode == "off":
        settings = ObservabilitySettings(**common, enable_tracing=False, log_to_loki=False, instrument_http=False)
    else:
        use_loki = mode != "no-loki"
        settings = ObservabilitySettings(**common, tempo_endpoint=otlp, loki_endpoint=loki if use_loki else None,
                                         log_to_loki=use_loki, log_level="INFO", instrument_http=True)
    obs = setup_observability(settings)
    app = create_app(OptimizerSettings(database_url=f"sqlite:///{db_path}"), obs=obs)
    if mode in ("off", "no-observer"):
        app.state.runtime.service._callbacks = []
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="on")
    try:
        uvicorn.Server(config).run()
    finally:
        obs.shutdown(5)


# --- client side --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, mode: str, folder: str, otlp: str | None, loki: str | None) -> None:
        self.mode = mode
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, os.path.abspath(__file__), "--serve", mode, "--port", str(self.port),
                "--db", os.path.join(folder, f"{mode}.db")]
        if otlp:
            args += ["--otlp", otlp]
        if loki:
            args += ["--loki", loki]
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
                    response = self.client.get(url + "/metrics")
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


MODES = ("off", "on", "no-observer", "no-loki")
LABELS = {"off": "observability off", "on": "full observability", "no-observer": "full, without AgentObserver",
          "no-loki": "full, without the Loki sink"}


def measure(rounds: int, block: int, warmup: int, modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    import httpx
    from stand_ins import StandIns

    folder = tempfile.mkdtemp(prefix="agent-obs-e2e-")
    with StandIns() as backends, httpx.Client(timeout=30.0) as client, \
            httpx.Client(timeout=10.0) as scrape_client:
        servers = {mode: Server(mode, folder, backends.otlp_endpoint, backends.loki_url) for mode in modes}
        scraper = Scraper(scrape_client, [s.url for m, s in servers.items() if m != "off"])
        try:
            for server in servers.values():
                server.wait_ready(client)
            for server in servers.values():
                for i in range(warmup):
                    _request(client, server, JOBS[i % len(JOBS)])
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
    result: dict[str, Any] = {"requests_per_mode": len(times["on"]), "wall_s": wall, "jobs": list(JOBS),
                              "scrapes": scraper.scrapes, "scrape_failures": scraper.failures,
                              "metrics_bytes": scraper.bytes, "backends_during": before_stop,
                              "backends_after_shutdown": after_stop, "modes": {}}
    for mode, values in times.items():
        ms = [v * 1e3 for v in values]
        result["modes"][mode] = {"p50_ms": _quantile(ms, 0.5), "p95_ms": _quantile(ms, 0.95),
                                 "p99_ms": _quantile(ms, 0.99), "mean_ms": statistics.fmean(ms)}
    on, off = result["modes"]["on"], result["modes"]["off"]
    result["delta_p50_ms"] = on["p50_ms"] - off["p50_ms"]
    result["delta_p95_ms"] = on["p95_ms"] - off["p95_ms"]
    result["delta_p99_ms"] = on["p99_ms"] - off["p99_ms"]
    result["paired_block_p50_delta_ms"] = {
        mode: statistics.median([(a - b) * 1e3 for a, b in zip(block_p50[mode], block_p50["off"])])
        for mode in modes}
    return result


def markdown(result: dict[str, Any]) -> str:
    off = result["modes"]["off"]
    lines = [
        f"POST /optimizations, {result['requests_per_mode']} requests per mode, alternating blocks; "
        f"/metrics of every observed server scraped each second ({result['scrapes']} scrapes):",
        "",
        "| mode | p50 ms | p95 ms | p99 ms | mean ms | Δp50 vs off | Δp95 vs off | paired Δ block median |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, m in result["modes"].items():
        lines.append(f"| {LABELS[mode]} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} | {m['p99_ms']:.2f} | "
                     f"{m['mean_ms']:.2f} | {m['p50_ms'] - off['p50_ms']:+.2f} | {m['p95_ms'] - off['p95_ms']:+.2f} | "
                     f"{result['paired_block_p50_delta_ms'][mode]:+.2f} |")
    lines += [
        "",
        f"Received by the stand-ins (from every observed server): {result['backends_after_shutdown'].get('spans', 0):,} spans in "
        f"{result['backends_after_shutdown'].get('otlp_requests', 0)} OTLP exports, "
        f"{result['backends_after_shutdown'].get('loki_entries', 0):,} log lines in "
        f"{result['backends_after_shutdown'].get('loki_pushes', 0)} gzip pushes.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--block", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated among {', '.join(MODES)}")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    ap.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--otlp", help=argparse.SUPPRESS)
    ap.add_argument("--loki", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.db, args.otlp, args.loki)
        return 0
    if args.quick:
        args.rounds, args.block, args.warmup = 2, 5, 3
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    if "on" not in modes or "off" not in modes or any(m not in MODES for m in modes):
        raise SystemExit(f"--modes must include on and off, among {', '.join(MODES)}")
    result = measure(args.rounds, args.block, args.warmup, modes)
    result["date"] = dt.datetime.now().isoformat(timespec="seconds")
    result["settings"] = {"rounds": args.rounds, "block": args.block, "warmup": args.warmup, "modes": list(modes)}
    table = markdown(result)
    met = result["delta_p95_ms"] <= TARGET_P95_MS
    verdict = (f"p95 difference {result['delta_p95_ms']:+.2f} ms, target <= {TARGET_P95_MS} ms: "
               + ("met" if met else f"NOT met (by {result['delta_p95_ms'] - TARGET_P95_MS:.2f} ms)"))
    publish("e2e_service.py", result, table, verdict, args.json, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
