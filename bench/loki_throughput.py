#!/usr/bin/env python3
"""What the Loki sink costs the caller per record, and how many records per second it ships.

``service_obs.loki.LokiSink`` promises that a log call only serialises the record and appends
it to a bounded queue, while a daemon thread batches, gzips and POSTs to Loki. Measured here
against the Loki stand-in (``tests/receivers.py`` in a child process, speaking
``POST /loki/api/v1/push`` with gzip like Loki):

1. Caller cost of the sink alone: ``sink(message)`` on real loguru messages shaped like
   agent_obs's records (event, trace_id, span_id, run_id, agent, node, status, duration_ms).
2. Caller cost of a whole ``logger.info(...)`` with the Loki sink attached vs with a sink
   that discards the message: what the sink adds to a log call.
3. Throughput: N records pushed through the sink as fast as its queue accepts them (the
   producer waits when the queue is nearly full, so nothing is dropped), timed from the first
   record to the stand-in holding all N; records/s, pushes, and drop counters.

    .venv/bin/python bench/loki_throughput.py [--records 100000] [--quick] [--json PATH] [--md PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from bench_agent_obs import private_logger
from report import publish

TARGET_RECORDS_PER_S = 20_000


def _fields(i: int) -> dict[str, Any]:
    return {"event": "agent.node.end", "trace_id": f"{i:032x}", "span_id": f"{i:016x}",
            "run_id": f"00000000-0000-4000-8000-{i:012d}", "agent": "optimizer_agent", "node": "recommend",
            "step": 3, "status": "ok", "duration_ms": 12.345}


def make_messages(count: int) -> list[Any]:
    """Real loguru ``Message`` objects (a str with ``.record``), as a sink receives them."""
    captured: list[Any] = []
    log = private_logger(None)
    log.add(captured.append, level="DEBUG", format="{message}")
    for i in range(count):
        log.info("node recommend ok in 12.3 ms", **_fields(i))
    return captured


def _dropped(registry: Any) -> float:
    total = 0.0
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "agent_obs_dropped_total":
                total += sample.value
    return total


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def sink_call_cost(url: str, messages: list[Any], repeats: int) -> dict[str, float]:
    from prometheus_client import CollectorRegistry

    from service_obs.loki import LokiSink

    sink = LokiSink(url, labels={"service": "bench"}, registry=CollectorRegistry(),
                    queue_size=len(messages) + 1)
    per: list[float] = []
    try:
        for _ in range(repeats):
            start = time.perf_counter_ns()
            for message in messages:
                sink(message)
            per.append((time.perf_counter_ns() - start) / len(messages) / 1e3)
            sink.flush(30)
    finally:
        sink.stop(10)
    return {"us_per_record_median": statistics.median(per), "us_per_record_min": min(per)}


def log_call_cost(url: str, count: int, rounds: int) -> dict[str, float]:
    """``logger.info`` with the Loki sink vs with a discarding sink, ABAB rounds."""
    from prometheus_client import CollectorRegistry

    from service_obs.loki import LokiSink

    sink = LokiSink(url, labels={"service": "bench"}, registry=CollectorRegistry(), queue_size=count + 1)
    with_loki = private_logger(None)
    with_loki.add(sink, level="INFO", format="{message}", catch=True)
    with_null = private_logger("INFO")
    fields = _fields(7)
    per: dict[str, list[float]] = {"loki": [], "null": []}
    try:
        for r in range(rounds):
            for name, log in (("loki", with_loki), ("null", with_null))[:: 1 if r % 2 == 0 else -1]:
                start = time.perf_counter_ns()
                for _ in range(count):
                    log.info("node recommend ok in 12.3 ms", **fields)
                per[name].append((time.perf_counter_ns() - start) / count / 1e3)
                sink.flush(30)
    finally:
        sink.stop(10)
    loki, null = statistics.median(per["loki"]), statistics.median(per["null"])
    return {"us_per_log_call_loki": loki, "us_per_log_call_null": null, "us_added_by_loki_sink": loki - null}


def throughput(backends: Any, messages: list[Any], batch_size: int, queue_size: int) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from service_obs.loki import LokiSink

    registry = CollectorRegistry()
    before = backends.stats()["loki_entries"]
    sink = LokiSink(backends.loki_url, labels={"service": "bench"}, registry=registry, batch_size=batch_size,
                    queue_size=queue_size)
    waits = 0
    high_water = queue_size - batch_size
    try:
        start = time.perf_counter()
        for message in messages:
            while sink.queued >= high_water:
                waits += 1
                time.sleep(0.0002)
            sink(message)
        enqueued = time.perf_counter()
        n = len(messages)
        arrived = _wait(lambda: backends.stats()["loki_entries"] - before >= n, 120)
        done = time.perf_counter()
    finally:
        sink.stop(10)
    stats = backends.stats()
    return {
        "records": len(messages), "batch_size": batch_size, "queue_size": queue_size,
        "all_arrived": arrived, "received": stats["loki_entries"] - before,
        "seconds": done - start, "records_per_s": len(messages) / (done - start),
        "enqueue_seconds": enqueued - start, "producer_waits": waits,
        "sent_records": sink.sent_records, "failed_attempts": sink.failed_attempts,
        "dropped": _dropped(registry), "pushes_total": stats["loki_pushes"], "gzip_pushes_total": stats["loki_gzip_pushes"],
    }


def markdown(result: dict[str, Any]) -> str:
    call, log, tp = result["sink_call"], result["log_call"], result["throughput"]
    return "\n".join([
        "| measure | value |",
        "| --- | --- |",
        f"| caller cost of `sink(message)` (enqueue; the worker serialises) | {call['us_per_record_median']:.1f} µs/record |",
        f"| `logger.info` with the Loki sink | {log['us_per_log_call_loki']:.1f} µs |",
        f"| `logger.info` with a discarding sink | {log['us_per_log_call_null']:.1f} µs |",
        f"| added by the Loki sink per log call | {log['us_added_by_loki_sink']:.1f} µs |",
        f"| shipped to the Loki stand-in (batch {tp['batch_size']}, gzip) | {tp['records_per_s']:,.0f} records/s "
        f"({tp['received']:,} of {tp['records']:,} in {tp['seconds']:.2f} s) |",
        f"| dropped / failed pushes | {tp['dropped']:.0f} / {tp['failed_attempts']} |",
    ]) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--batch-size", type=int, default=500, help="the sink's default")
    ap.add_argument("--queue-size", type=int, default=10_000, help="the sink's default")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.records = 10_000
    from stand_ins import StandIns

    messages = make_messages(args.records)
    with StandIns(otlp=False, loki=True) as backends:
        result: dict[str, Any] = {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "sink_call": sink_call_cost(backends.loki_url, messages[:5000], 3 if args.quick else 7),
            "log_call": log_call_cost(backends.loki_url, 2000 if args.quick else 5000, 3 if args.quick else 7),
            "throughput": throughput(backends, messages, args.batch_size, args.queue_size),
        }
    table = markdown(result)
    rate = result["throughput"]["records_per_s"]
    verdict = (f"{rate:,.0f} records/s, target >= {TARGET_RECORDS_PER_S:,}: "
               + ("met" if rate >= TARGET_RECORDS_PER_S and result["throughput"]["all_arrived"] else "NOT met"))
    publish("loki_throughput.py", result, table, verdict, args.json, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
