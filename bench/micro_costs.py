#!/usr/bin/env python3
"""Prices of the primitive operations an observer callback is made of, in µs per call.

Why: the profile says where time goes; this says what each building block costs on this
machine, so a proposed hot-path change can be priced before it is written. Each line is the
best of several timeit repeats (noise only ever adds time).

    .venv/bin/python bench/micro_costs.py [--md PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
import uuid
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def best_us(func: Callable[[], Any], number: int = 20_000, repeat: int = 5) -> float:
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def cases() -> list[tuple[str, Callable[[], Any]]]:
    import time

    import workload
    from bench_agent_obs import private_logger
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind
    from prometheus_client import CollectorRegistry, Histogram

    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(workload.CountingExporter(), max_queue_size=1 << 20))
    tracer = provider.get_tracer("bench")
    parent = tracer.start_span("parent")
    parent_ctx = trace.set_span_in_context(parent)
    attrs3 = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather", "gen_ai.tool.type": "function"}
    attrs5 = {"langgraph.node": "agent", "langgraph.attempt": 1, "langgraph.step": 3,
              "langgraph.triggers": ["branch:to:agent"], "langgraph.checkpoint_ns": "agent:1f0c-aa"}
    registry = CollectorRegistry()
    family = Histogram("bench_seconds", "bench", ["a", "b", "c"], registry=registry)
    hist = family.labels("x", "y", "")
    exemplar = {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}
    span = tracer.start_span("s", context=parent_ctx)
    ctx = span.get_span_context()
    run_id = uuid.uuid4()
    info_logger = private_logger("INFO")
    silent_logger = private_logger(None)
    fields = {"event": "agent.node.end", "trace_id": exemplar["trace_id"], "span_id": exemplar["span_id"],
              "run_id": str(run_id), "agent": "trip-planner", "node": "agent", "step": 3}

    def start_end(attributes: dict[str, Any] | None) -> Callable[[], None]:
        def run() -> None:
            tracer.start_span("node agent", context=parent_ctx, kind=SpanKind.INTERNAL, attributes=attributes,
                              record_exception=False, set_status_on_exception=False).end()
        return run

    def start_end_with_time() -> None:
        tracer.start_span("node agent", context=parent_ctx, attributes=attrs5, start_time=time.time_ns()).end()

    def attach_detach() -> None:
        token = otel_context.attach(parent_ctx)
        otel_context.detach(token)

    def hex_ids() -> tuple[str, str]:
        c = span.get_span_context()
        return format(c.trace_id, "032x"), format(c.span_id, "016x")

    def log_disabled() -> None:
        if 10 >= silent_logger._core.min_level:
            silent_logger.debug("x", **fields)

    return [
        ("start_span + end, no attributes", start_end(None)),
        ("start_span + end, 3 attributes", start_end(attrs3)),
        ("start_span + end, 5 attributes", start_end(attrs5)),
        ("start_span + end, 5 attributes, explicit start_time", start_end_with_time),
        ("span.set_attributes (3 keys) on a recording span", lambda: span.set_attributes(attrs3)),
        ("span.is_recording()", span.is_recording),
        ("span.get_span_context().trace_flags.sampled", lambda: span.get_span_context().trace_flags.sampled),
        ("trace_id/span_id to hex (2x format)", hex_ids),
        ("trace.set_span_in_context", lambda: trace.set_span_in_context(span, parent_ctx)),
        ("context attach + detach", attach_detach),
        ("context.get_current()", otel_context.get_current),
        ("Histogram child observe(v)", lambda: hist.observe(0.01)),
        ("Histogram child observe(v, exemplar)", lambda: hist.observe(0.01, exemplar)),
        ("Histogram family .labels(3 values) (uncached child lookup)", lambda: family.labels("x", "y", "")),
        ("str(uuid)", lambda: str(run_id)),
        ("time.time_ns()", time.time_ns),
        ("time.perf_counter()", time.perf_counter),
        ("loguru info, 7 extra fields, null sink", lambda: info_logger.info("agent trip-planner run started", **fields)),
        ("loguru debug below min level (LogSink's check)", log_disabled),
        ("valid context check ctx.is_valid", lambda: ctx.is_valid),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--md", default=None)
    ap.add_argument("--number", type=int, default=20_000)
    args = ap.parse_args(argv)
    lines = ["| operation | µs/call |", "| --- | --- |"]
    for name, func in cases():
        lines.append(f"| {name} | {best_us(func, args.number):.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.md:
        with open(args.md, "w") as f:
            f.write("# bench/micro_costs.py\n\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
