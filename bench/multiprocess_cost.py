#!/usr/bin/env python3
"""What prometheus_client's multiprocess mode costs per observation, and per agent run.

Why: a service with several workers sets ``PROMETHEUS_MULTIPROC_DIR`` so that ``/metrics``
is exact (docs/getting-started.md, "Several workers"). Every counter increment, gauge change
and histogram observation then writes to a memory-mapped file under one process-wide lock
instead of a float under a per-value lock. This prices that: the same primitives and the
primitives with single-process values (A) and with mmap'd values in a temporary directory (B),
alternated in rounds in one process, best of each round's repeats (noise only ever adds
time); then how many values one agent invoke of overhead.py's workload writes, which turns
the per-write price into a per-invoke one.

    .venv/bin/python bench/multiprocess_cost.py [--quick] [--md PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def mmap_values(path: str) -> Iterator[None]:
    """Metrics (and label children) made inside this block keep their values in mmap'd files.

    prometheus_client picks its value class once, at import, from the environment; swapping
    it while the metrics are built gives both kinds of values in one process, for a same-run
    A/B. Values never change class after they are made.
    """
    from prometheus_client import values

    saved, saved_env = values.ValueClass, os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path  # read when each value opens its file
    values.ValueClass = values.MultiProcessValue()
    try:
        yield
    finally:
        values.ValueClass = saved
        if saved_env is None:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved_env


def primitives(mode: str, path: str) -> dict[str, Callable[[], Any]]:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    from agent_obs import semconv as sc

    with (mmap_values(path) if mode == "mmap" else contextlib.nullcontext()):
        registry = CollectorRegistry()
        counter = Counter(f"c_{mode}", "c", ["a"], registry=registry).labels("x")
        gauge = Gauge(f"g_{mode}", "g", ["a"], registry=registry, multiprocess_mode="livesum").labels("x")
        hist = Histogram(f"h_{mode}", "h", ["a"], registry=registry, buckets=sc.SERVICE_METRIC_BUCKETS[sc.METRIC_HTTP_SERVER_DURATION]).labels("x")
    assert type(counter._value).__name__ == ("MmapedValue" if mode == "mmap" else "MutexValue")  # noqa: SLF001
    return {"counter inc": counter.inc, "gauge inc": gauge.inc, "histogram observe": lambda: hist.observe(0.07)}


def writes_per_invoke(path: str) -> int:
    """How many mmap'd values one agent invoke writes (AgentObserver with metrics on)."""
    import workload
    from bench_agent_obs import private_logger
    from opentelemetry.sdk.trace import TracerProvider
    from prometheus_client import CollectorRegistry
    from prometheus_client.mmap_dict import MmapedDict

    from agent_obs import AgentObserver

    observer = AgentObserver(tracer_provider=TracerProvider(shutdown_on_exit=False),
                             registry=CollectorRegistry(), logger=private_logger(None))
    graph = workload.build_graph()
    config = {"callbacks": [observer]}
    count = 0
    original = MmapedDict.write_value

    def counting(self: Any, key: str, value: float, timestamp: float) -> None:
        nonlocal count
        count += 1
        original(self, key, value, timestamp)

    with mmap_values(path):
        graph.invoke(workload.graph_input(), config=config)  # label children made here
        MmapedDict.write_value = counting  # type: ignore[method-assign]
        try:
            graph.invoke(workload.graph_input(), config=config)
        finally:
            MmapedDict.write_value = original  # type: ignore[method-assign]
    return count


def best_us(func: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def run(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 7
    number, repeat = (5_000, 3) if quick else (50_000, 5)
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as path:
        prims = {mode: primitives(mode, path) for mode in ("mutex", "mmap")}
        samples: dict[str, dict[str, list[float]]] = {}
        for _ in range(rounds):
            for mode in ("mutex", "mmap"):  # alternated: drift hits both sides alike
                for name, func in prims[mode].items():
                    samples.setdefault(name, {}).setdefault(mode, []).append(best_us(func, number, repeat))
        writes = writes_per_invoke(path)
    result = {}
    for name, by_mode in samples.items():
        a, b = statistics.median(by_mode["mutex"]), statistics.median(by_mode["mmap"])
        result[name] = {"single_process_us": round(a, 3), "multiprocess_us": round(b, 3),
                        "extra_us": round(b - a, 3)}
    per_write = result["counter inc"]["extra_us"]  # one mmap write, the unit every operation pays
    return {"rounds": rounds, "python": sys.version.split()[0], "results": result,
            "writes_per_invoke": writes, "extra_us_per_invoke": round(writes * per_write, 1)}


def markdown(result: dict[str, Any]) -> str:
    lines = ["| operation | single process (µs) | multiprocess mode (µs) | extra (µs) |",
             "| --- | ---: | ---: | ---: |"]
    for name, r in result["results"].items():
        lines.append(f"| {name} | {r['single_process_us']:.3f} | {r['multiprocess_us']:.3f} | {r['extra_us']:+.3f} |")
    return "\n".join(lines) + (
        f"\n\nOne agent invoke of the workload (25 spans) writes {result['writes_per_invoke']} mmap'd values: "
        f"about {result['extra_us_per_invoke']:.0f} µs more per invoke in multiprocess mode.\n"
        f"Median over {result['rounds']} alternated rounds, Python {result['python']}.\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for a smoke run")
    parser.add_argument("--md", help="write the markdown table here")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    result = run(args.quick)
    table = markdown(result)
    print(table)
    if args.md:
        with open(args.md, "w", encoding="utf-8") as f:
            f.write(table)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
