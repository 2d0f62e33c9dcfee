"""The demo's span tree: read one trace back from the OTLP JSON file and draw it with rich.

``load_trace`` goes through ``agent_obs.otlp_json`` (the same reader the replay tools use),
which also proves the file parses. ``SpanCopy`` is a bounded in-memory copy of recent spans
for when traces went to an OTLP endpoint instead of the file.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode
from rich.tree import Tree

from agent_obs import semconv as sc
from agent_obs.spans import hex_ids

_HIDDEN_SUFFIXES = (" http send", " http receive")  # ASGI plumbing spans add noise, not insight


class SpanCopy(SpanProcessor):
    """Keeps the last ``limit`` finished spans as plain dicts."""

    def __init__(self, limit: int = 20_000) -> None:
        self._spans: deque[dict[str, Any]] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        trace_id, span_id = hex_ids(span.context)
        node = {
            "trace_id": trace_id, "span_id": span_id,
            "parent_id": hex_ids(span.parent)[1] if span.parent else None, "name": span.name,
            "start": span.start_time or 0, "end": span.end_time or 0,
            "error": span.status.status_code is StatusCode.ERROR, "attributes": dict(span.attributes or {}),
        }
        with self._lock:
            self._spans.append(node)

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [s for s in self._spans if s["trace_id"] == trace_id]


def load_trace(path: str | Path, trace_id: str) -> list[dict[str, Any]]:
    """Every span of ``trace_id`` in an OTLP JSON trace file, as plain dicts."""
    from agent_obs.otlp_json import STATUS_CODE_ERROR, iter_spans, read_requests

    found = []
    for _, request in read_requests(path):
        for span in iter_spans(request):
            if span.trace_id == trace_id:
                found.append({"trace_id": span.trace_id, "span_id": span.span_id, "parent_id": span.parent_span_id,
                              "name": span.name, "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                              "error": span.status_code == STATUS_CODE_ERROR, "attributes": span.attributes})
    return found


def render_tree(spans: list[dict[str, Any]], title: str = "trace") -> Tree:
    """A rich Tree: each span with its duration, tokens for LLM calls, and ERROR in red."""
    tree = Tree(f"[bold]{title}[/bold]")
    visible = [s for s in spans if not s["name"].endswith(_HIDDEN_SUFFIXES)]
    ids = {s["span_id"] for s in visible}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in visible:
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children.setdefault(parent, []).append(span)
    for siblings in children.values():
        siblings.sort(key=lambda s: s["start"])

    def add(branch: Tree, parent: str | None) -> None:
        for span in children.get(parent, []):
            add(branch.add(_label(span)), span["span_id"])

    add(tree, None)
    return tree


def _label(span: dict[str, Any]) -> str:
    attrs = span["attributes"]
    millis = max(0, span["end"] - span["start"]) / 1e6
    parts = [f"[cyan]{span['name']}[/cyan]", f"{millis:.1f} ms"]
    if sc.GEN_AI_USAGE_INPUT_TOKENS in attrs:
        parts.append(f"tokens {attrs[sc.GEN_AI_USAGE_INPUT_TOKENS]}→{attrs.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS, 0)}")
    if attrs.get(sc.LANGGRAPH_ATTEMPT, 1) not in (1, None):
        parts.append(f"attempt {attrs[sc.LANGGRAPH_ATTEMPT]}")
    if attrs.get(sc.LANGGRAPH_INTERRUPTED):
        parts.append("[yellow]interrupted[/yellow]")
    if span["error"]:
        parts.append(f"[red]ERROR {attrs.get(sc.ERROR_TYPE, '')}[/red]")
    return "  ".join(parts)
