"""Aggregates across many runs: tokens and cost by model, latency by node and tool, outcomes.

::

    stats = aggregate(load_file("telemetry/traces.jsonl"))
    stats.by_model     # {model: ModelStats(calls, input_tokens, output_tokens, cost_usd, ...)}
    stats.by_node      # {node: LatencyStats(count, errors, p50_ms, p95_ms, max_ms, ...)}
    stats.outcomes     # Counter({"ok": 18, "error": 2})
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from agent_obs.replay.model import KIND_LLM, KIND_NODE, KIND_TOOL, Trace


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LatencyStats:
    durations_ms: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.durations_ms)

    @property
    def mean_ms(self) -> float:
        return sum(self.durations_ms) / len(self.durations_ms) if self.durations_ms else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.durations_ms, 50) if self.durations_ms else 0.0

    @property
    def p95_ms(self) -> float:
        return percentile(self.durations_ms, 95) if self.durations_ms else 0.0

    @property
    def max_ms(self) -> float:
        return max(self.durations_ms, default=0.0)

    def as_row(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "errors": self.errors,
            "mean_ms": round(self.mean_ms, 3),
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "max_ms": round(self.max_ms, 3),
        }


@dataclass
class ModelStats(LatencyStats):
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True

    def as_row(self) -> dict[str, Any]:
        return {
            "calls": self.count,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 8) if self.cost_known else None,
            **{k: v for k, v in super().as_row().items() if k != "count"},
        }


@dataclass
class Aggregates:
    runs: int = 0
    outcomes: Counter = field(default_factory=Counter)
    by_model: dict[str, ModelStats] = field(default_factory=dict)
    by_node: dict[str, LatencyStats] = field(default_factory=dict)
    by_tool: dict[str, LatencyStats] = field(default_factory=dict)
    by_agent: dict[str, LatencyStats] = field(default_factory=dict)

    @property
    def input_tokens(self) -> int:
        return sum(m.input_tokens for m in self.by_model.values())

    @property
    def output_tokens(self) -> int:
        return sum(m.output_tokens for m in self.by_model.values())

    @property
    def cost_usd(self) -> float:
        return sum(m.cost_usd for m in self.by_model.values())

    def model_rows(self) -> list[dict[str, Any]]:
        return [{"model": name, **s.as_row()} for name, s in sorted(self.by_model.items())]

    def node_rows(self) -> list[dict[str, Any]]:
        return [{"node": name, **s.as_row()} for name, s in sorted(self.by_node.items())]

    def tool_rows(self) -> list[dict[str, Any]]:
        return [{"tool": name, **s.as_row()} for name, s in sorted(self.by_tool.items())]


def aggregate(traces: Iterable[Trace]) -> Aggregates:
    """Fold every agent run of ``traces`` (traces without one are skipped)."""
    out = Aggregates()
    for trace in traces:
        if not trace.agent_spans:
            continue
        out.runs += 1
        for agent_span in trace.agent_spans:
            out.outcomes[agent_span.status] += 1
            stats = out.by_agent.setdefault(agent_span.agent_name or "", LatencyStats())
            stats.durations_ms.append(agent_span.duration_ms)
            stats.errors += agent_span.status == "error"
        for span in trace.spans:
            kind = span.kind
            if kind == KIND_LLM:
                model = out.by_model.setdefault(span.model or span.name, ModelStats())
                model.durations_ms.append(span.duration_ms)
                model.errors += span.is_error
                model.input_tokens += span.input_tokens
                model.output_tokens += span.output_tokens
                if span.cost_usd is None:
                    model.cost_known = False
                else:
                    model.cost_usd += span.cost_usd
            elif kind == KIND_NODE:
                node = out.by_node.setdefault(span.node or "", LatencyStats())
                node.durations_ms.append(span.duration_ms)
                node.errors += span.is_error
            elif kind == KIND_TOOL:
                tool = out.by_tool.setdefault(span.tool_name or span.name, LatencyStats())
                tool.durations_ms.append(span.duration_ms)
                tool.errors += span.is_error
    return out


def rows_table(rows: list[dict[str, Any]], title: str = "") -> Any:
    """A rich Table of dict rows (also what the CLI prints)."""
    from rich.table import Table

    table = Table(title=title or None)
    if not rows:
        return table
    for key in rows[0]:
        table.add_column(key, justify="right" if isinstance(rows[0][key], (int, float)) else "left")
    for row in rows:
        table.add_row(*("" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in row.values()))
    return table


class HtmlTable:
    """Dict rows that Jupyter shows as an HTML table (no pandas needed)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def _repr_html_(self) -> str:
        import html

        if not self.rows:
            return "<i>no rows</i>"
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in self.rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row.values()) + "</tr>"
            for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        return "\n".join(str(row) for row in self.rows)
