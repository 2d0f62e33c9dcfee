"""What the Collector's tail-sampling policies see in OTLP JSON traces (the demo's trace file).

A reading of the deterministic policy types that ``collector/otel-collector.yaml`` uses
(``status_code``, ``latency``, ``boolean_attribute``), following the Collector's documented
rules: a policy matches a trace when any one of its spans matches; ``boolean_attribute``
matches only a boolean value (a string "true" does not), on the span or its resource;
``latency`` is the trace's first start to last end. ``probabilistic`` is a hash of the trace id
and is left to the real Collector (tests/stack/test_stack_servers.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DETERMINISTIC = ("status_code", "latency", "boolean_attribute")
_STATUS = {2: "ERROR", "STATUS_CODE_ERROR": "ERROR", 1: "OK", "STATUS_CODE_OK": "OK"}


@dataclass
class Trace:
    trace_id: str
    spans: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)


def load_traces(path: Path) -> dict[str, Trace]:
    """Trace id -> its spans (with their resource attributes), from an OTLP JSON lines file."""
    traces: dict[str, Trace] = defaultdict(lambda: Trace(""))
    for line in path.read_text(encoding="utf-8").splitlines():
        for rs in json.loads(line).get("resourceSpans", []):
            resource = rs.get("resource", {}).get("attributes", [])
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    trace = traces[span["traceId"].lower()]
                    trace.trace_id = span["traceId"].lower()
                    trace.spans.append(span)
                    trace.resources.append({"attributes": resource})
    return dict(traces)


def _status(span: dict[str, Any]) -> str:
    return _STATUS.get(span.get("status", {}).get("code", 0), "UNSET")


def _bool_attribute(attributes: list[dict[str, Any]], key: str) -> bool | None:
    for attr in attributes:
        if attr["key"] == key:
            value = attr["value"]
            return value["boolValue"] if "boolValue" in value else None
    return None


def matches(policy: dict[str, Any], trace: Trace) -> bool:
    """Whether one deterministic policy of the tail_sampling processor keeps ``trace``."""
    kind = policy["type"]
    if kind == "status_code":
        wanted = set(policy["status_code"]["status_codes"])
        return any(_status(span) in wanted for span in trace.spans)
    if kind == "latency":
        start = min(int(s["startTimeUnixNano"]) for s in trace.spans)
        end = max(int(s["endTimeUnixNano"]) for s in trace.spans)
        return (end - start) / 1e6 >= policy["latency"]["threshold_ms"]
    if kind == "boolean_attribute":
        key, value = policy["boolean_attribute"]["key"], policy["boolean_attribute"]["value"]
        return any(_bool_attribute(span.get("attributes", []), key) is value
                   or _bool_attribute(res["attributes"], key) is value
                   for span, res in zip(trace.spans, trace.resources))
    raise ValueError(f"policy type {kind!r} is not read here")


def kept_by(policies: list[dict[str, Any]], trace: Trace) -> set[str]:
    """Names of the deterministic policies that keep ``trace``."""
    return {p["name"] for p in policies if p["type"] in DETERMINISTIC and matches(p, trace)}
