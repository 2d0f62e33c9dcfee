"""Span-tree helpers for the agent tests: find spans, parents, and render a tree."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = by_name(spans, name)
    assert len(found) == 1, f"expected one {name!r}, got {[s.name for s in spans]}"
    return found[0]


def parent_of(spans: list[ReadableSpan], span: ReadableSpan) -> ReadableSpan | None:
    if span.parent is None:
        return None
    for candidate in spans:
        if candidate.context.span_id == span.parent.span_id:
            return candidate
    return None


def render_tree(spans: list[ReadableSpan], siblings_by_name: bool = False) -> str:
    """Indented span names in start order: the shape a human reads in Tempo.

    ``siblings_by_name`` orders the children of node spans by name instead, for parallel
    tool calls whose start order is up to the thread scheduler.
    """
    ids = {s.context.span_id for s in spans}
    children: dict[Any, list[ReadableSpan]] = {}
    roots = []
    for span in sorted(spans, key=lambda s: (s.start_time, s.name)):
        if span.parent is not None and span.parent.span_id in ids:
            children.setdefault(span.parent.span_id, []).append(span)
        else:
            roots.append(span)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        lines.append("  " * depth + span.name)
        kids = children.get(span.context.span_id, [])
        if siblings_by_name and span.name.startswith("node "):
            kids = sorted(kids, key=lambda s: s.name)
        for child in kids:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)
