"""Replay recorded agent runs from plain OpenTelemetry data (a trace file or Tempo).

::

    from agent_obs.replay import load_file, load_trace, reasoning_tree, rerun
    traces = load_file("telemetry/traces.jsonl")
    trace = traces.latest()
    trace                                  # shows the reasoning tree in Jupyter
    timeline_figure(trace)                 # matplotlib waterfall (notebooks extra)
    write_html(trace, "run.html")          # self-contained page
    aggregate(traces).model_rows()         # tokens and cost by model across runs
    rerun(trace, build_graph).divergences  # deterministic re-run with recorded LLM outputs

Names are imported lazily, so ``import agent_obs.replay`` loads nothing heavy.
"""

from __future__ import annotations

from agent_obs.lazy import lazy_exports

_EXPORTS = {
    "Trace": "model",
    "SpanNode": "model",
    "LLMCall": "model",
    "ToolCall": "model",
    "TraceSummary": "model",
    "ReplayError": "load",
    "TraceFile": "load",
    "TempoClient": "load",
    "load_file": "load",
    "load_trace": "load",
    "reasoning_tree": "tree",
    "tree_text": "tree",
    "tree_html": "tree",
    "timeline_figure": "timeline",
    "render_html": "html",
    "write_html": "html",
    "aggregate": "stats",
    "Aggregates": "stats",
    "HtmlTable": "stats",
    "rows_table": "stats",
    "ReplayChatModel": "rerunner",
    "RerunReport": "rerunner",
    "Divergence": "rerunner",
    "rerun": "rerunner",
    "run_replay": "cli",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _EXPORTS.items()})
