"""A waterfall of one run as a matplotlib figure, for notebooks.

matplotlib is an optional dependency (the ``notebooks`` extra), imported when a figure is
drawn::

    fig = timeline_figure(trace)   # one bar per span, indented by depth, coloured by kind
"""

from __future__ import annotations

from typing import Any

from agent_obs.replay.model import (
    KIND_AGENT,
    KIND_LLM,
    KIND_NODE,
    KIND_OTHER,
    KIND_RETRIEVAL,
    KIND_TOOL,
    Trace,
)

KIND_COLORS = {
    KIND_AGENT: "#8e44ad",
    KIND_NODE: "#1f8a99",
    KIND_LLM: "#2e9d4f",
    KIND_TOOL: "#e0a100",
    KIND_RETRIEVAL: "#2f6fd1",
    KIND_OTHER: "#9e9e9e",
}
ERROR_COLOR = "#d62728"


def waterfall_rows(trace: Trace) -> list[dict[str, Any]]:
    """One row per span in tree order: label, kind, offset and duration in ms, depth, status."""
    origin = trace.start_ns
    rows = []
    for root in trace.roots:
        for span in root.walk():
            rows.append(
                {
                    "span_id": span.span_id,
                    "label": span.name,
                    "kind": span.kind,
                    "depth": span.depth(),
                    "offset_ms": (span.start_ns - origin) / 1e6,
                    "duration_ms": span.duration_ms,
                    "status": span.status,
                }
            )
    return rows


def timeline_figure(trace: Trace, *, ax: Any = None, max_spans: int = 200) -> Any:
    """Draw the waterfall on ``ax`` (a new figure when None) and return the figure."""
    try:
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("timeline_figure needs matplotlib: pip install 'agent-obs[notebooks]'") from exc

    rows = waterfall_rows(trace)[:max_spans]
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, max(2.0, 0.32 * len(rows) + 1)))
    else:
        fig = ax.figure
    for index, row in enumerate(rows):
        color = ERROR_COLOR if row["status"] == "error" else KIND_COLORS[row["kind"]]
        ax.barh(index, max(row["duration_ms"], 0.01), left=row["offset_ms"], color=color, height=0.7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(["  " * row["depth"] + row["label"] for row in rows], fontsize=8, family="monospace")
    ax.invert_yaxis()
    ax.set_xlabel("ms since trace start")
    ax.set_title(
        f"{trace.agent_name or trace.root.name} · {trace.outcome} · {trace.duration_ms:.1f} ms · "
        f"{trace.input_tokens}→{trace.output_tokens} tokens"
    )
    kinds = sorted({row["kind"] for row in rows})
    ax.legend(handles=[Patch(color=KIND_COLORS[k], label=k) for k in kinds], loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
