"""Showing a run: the reasoning tree, the HTML page, the matplotlib timeline, aggregates."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from langchain_core.tools import tool

from agent_obs.replay import aggregate, load_file, render_html, timeline_figure, tree_html, tree_text
from agent_obs.replay.stats import percentile

import replay_graphs

_VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class _Checker(HTMLParser):
    """Checks that tags nest and close properly; collects rows, scripts and URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.row_ids: list[str] = []
        self.urls: list[str] = []
        self.scripts: dict[str, str] = {}
        self._script_id: str | None = None
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in _VOID:
            self.stack.append(tag)
        if "data-span-id" in attrs:
            self.row_ids.append(attrs["data-span-id"])
        for key in ("src", "href"):
            if key in attrs:
                self.urls.append(attrs[key])
        if tag == "script":
            self._script_id = attrs.get("id") or "inline"

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()
        if tag == "script":
            self._script_id = None

    def handle_data(self, data):
        if self._script_id:
            self.scripts[self._script_id] = self.scripts.get(self._script_id, "") + data
        else:
            self.text.append(data)


def _check(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.doctype
    assert not checker.problems and not checker.stack, (checker.problems, checker.stack)
    return checker


def test_html_page_is_valid_self_contained_and_has_every_span(recorder):
    recorder.run()
    trace = load_file(recorder.path).latest()
    page = render_html(trace)
    checker = _check(page)
    assert sorted(checker.row_ids) == sorted(s.span_id for s in trace.spans)
    assert checker.urls == []
    assert "http://" not in page and "https://" not in page and "@import" not in page
    data = json.loads(checker.scripts["span-data"])
    assert set(data) == {s.span_id for s in trace.spans}
    llm = trace.llm_calls()[0].span
    assert data[llm.span_id]["attributes"]["gen_ai.usage.input_tokens"] == 120
    assert data[llm.span_id]["parent"] == llm.parent.span_id
    text = " ".join(checker.text)
    assert "540" in text and "70" in text, "token totals"
    assert f"${trace.cost_usd:.6f}" in text
    assert "gpt-4o-mini" in text


def test_html_escapes_hostile_content(recorder):
    hostile = "</script><script>alert(1)</script><b onclick=x>&amp;"

    @tool("table_stats")
    def leaky(table: str) -> str:
        """Row count and partitioning of a table."""
        return hostile

    recorder.run(tools=[leaky, replay_graphs.explain])
    trace = load_file(recorder.path).latest()
    page = render_html(trace, title=hostile)
    checker = _check(page)
    assert "<script>alert(1)" not in page
    assert "<b onclick" not in page
    assert set(checker.scripts) == {"span-data", "inline"}
    data = json.loads(checker.scripts["span-data"])
    tool_span = trace.tool_calls()[0].span
    assert data[tool_span.span_id]["attributes"]["gen_ai.tool.call.result"] == hostile
    assert hostile in " ".join(checker.text), "the title shows as text, escaped"
    assert "<script>alert" not in tree_html(trace)


def test_tree_text_shows_steps_in_order_with_llm_and_tool_details(recorder):
    recorder.run()
    text = tree_text(load_file(recorder.path).latest())
    order = [
        "agent sql_tuner",
        "node agent · step 1",
        "LLM gpt-4o-mini · 120→18 tokens",
        "finish tool_calls",
        "prompt: 2 messages; last user: Why is job 42 slow?",
        "→ assistant: tool_call table_stats",
        "route → tools",
        "node tools · step 2",
        'tool table_stats({"table": "orders"})',
        "→ orders: 1200000 rows, not partitioned",
        "node agent · step 3",
        "tool explain",
        "node agent · step 5",
        "→ assistant: Job 42 scans",
        "route → __end__",
    ]
    positions = [text.index(piece) for piece in order]
    assert positions == sorted(positions)


def test_tree_shows_errors_retries_and_interrupts():
    from agent_obs import semconv as sc
    from agent_obs.otlp_json import FlatSpan, SpanEvent
    from agent_obs.replay.model import Trace

    def span(span_id, parent, name, attrs, status=0, events=()):
        start = int(span_id, 16) * 1000
        return FlatSpan("cd" * 16, span_id, parent, name, 1, start, start + 5_000_000, attrs, events, (),
                        status, "", {}, "", "")

    trace = Trace.from_spans([
        span("0000000000000001", None, "invoke_agent a",
             {sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT, sc.GEN_AI_AGENT_NAME: "a",
              sc.LANGGRAPH_INTERRUPTED: True}),
        span("0000000000000002", "0000000000000001", "node fetch",
             {sc.LANGGRAPH_NODE: "fetch", sc.LANGGRAPH_STEP: 1, sc.LANGGRAPH_ATTEMPT: 2}),
        span("0000000000000003", "0000000000000002", "execute_tool get",
             {sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: "get", sc.ERROR_TYPE: "TimeoutError"},
             status=2, events=(SpanEvent("exception", 1, {"exception.type": "TimeoutError",
                                                          "exception.message": "slow"}),)),
        span("0000000000000004", "0000000000000001", "node approve",
             {sc.LANGGRAPH_NODE: "approve", sc.LANGGRAPH_INTERRUPTED: True}),
    ])
    text = tree_text(trace)
    assert "retry: attempt 2" in text
    assert "tool get · 5.0 ms [ERROR]" in text and "error TimeoutError: slow" in text
    assert "node approve" in text and "interrupted (waiting for input)" in text
    assert trace.outcome == "interrupted"


def test_timeline_figure_has_one_bar_per_span(recorder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recorder.run()
    trace = load_file(recorder.path).latest()
    fig = timeline_figure(trace)
    try:
        ax = fig.axes[0]
        assert len(ax.patches) == len(trace.spans)
        labels = [t.get_text().strip() for t in ax.get_yticklabels()]
        assert labels[0] == "invoke_agent sql_tuner" and labels.count("execute_tool table_stats") == 1
        widths = sorted(p.get_width() for p in ax.patches)
        assert widths[-1] == pytest.approx(trace.duration_ms, rel=1e-6)
    finally:
        plt.close(fig)


def test_aggregates_across_runs(recorder):
    @tool("table_stats")
    def broken(table: str) -> str:
        """Row count and partitioning of a table."""
        raise RuntimeError("down")

    recorder.run()
    recorder.run()
    recorder.run(tools=[broken, replay_graphs.explain])
    traces = load_file(recorder.path)
    stats = aggregate(traces)
    assert stats.runs == 3
    assert stats.outcomes == {"ok": 2, "error": 1}
    [row] = stats.model_rows()
    assert row["model"] == "gpt-4o-mini" and row["calls"] == 7
    assert row["input_tokens"] == 2 * 540 + 120 and row["output_tokens"] == 2 * 70 + 18
    assert row["cost_usd"] == pytest.approx(sum(t.cost_usd for t in traces))
    nodes = {r["node"]: r for r in stats.node_rows()}
    assert nodes["agent"]["count"] == 7 and nodes["tools"]["count"] == 5 and nodes["tools"]["errors"] == 1
    tools = {r["tool"]: r for r in stats.tool_rows()}
    assert tools["table_stats"]["count"] == 3 and tools["table_stats"]["errors"] == 1
    assert tools["explain"]["count"] == 2
    assert nodes["agent"]["p50_ms"] <= nodes["agent"]["p95_ms"] <= nodes["agent"]["max_ms"]


def test_percentile_is_nearest_rank():
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == 5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == 10


_DOM_HARNESS = r"""
// A minimal DOM: enough for the page script (getElementById, querySelectorAll, click handlers).
const fs = require('fs');
const [dataText, script, clickId] = JSON.parse(fs.readFileSync(0, 'utf8'));
function el(attrs) {
  return {attrs, handlers: {}, classes: new Set(), innerHTML: '', textContent: attrs.text || '',
    getAttribute(k) { return this.attrs[k]; },
    addEventListener(t, f) { this.handlers[t] = f; },
    classList: {toggle(c, on) { }}};
}
const rows = Object.keys(JSON.parse(dataText)).map(id => el({'data-span-id': id}));
const panel = el({});
const dataEl = el({text: dataText});
global.document = {
  getElementById(id) { return id === 'span-data' ? dataEl : id === 'details' ? panel : null; },
  querySelectorAll(sel) { return rows; },
};
eval(script);
const row = rows.find(r => r.attrs['data-span-id'] === clickId);
row.handlers.click.call(row);
process.stdout.write(panel.innerHTML);
"""


def _click(trace, span_id, tmp_path) -> str:
    """Run the page script under node with a minimal DOM, click a row, return the panel HTML."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page script cannot be executed here")
    checker = _check(render_html(trace))
    harness = tmp_path / "harness.js"
    harness.write_text(_DOM_HARNESS)
    done = subprocess.run(
        [node, str(harness)], input=json.dumps([checker.scripts["span-data"], checker.scripts["inline"], span_id]),
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_clicking_a_span_shows_its_details(recorder, tmp_path):
    recorder.run()
    trace = load_file(recorder.path).latest()
    llm = trace.llm_calls()[0].span
    shown = _click(trace, llm.span_id, tmp_path)
    assert f"<h2>{llm.name}</h2>" in shown
    assert "gen_ai.usage.input_tokens" in shown and "<pre>120</pre>" in shown
    assert f"span {llm.span_id} · parent {llm.parent.span_id}" in shown
    assert "tool_call table_stats" in shown, "the described output message"


def test_details_panel_escapes_what_it_shows(recorder, tmp_path):
    @tool("table_stats")
    def leaky(table: str) -> str:
        """Row count and partitioning of a table."""
        return "<img src=x onerror=alert(1)>"

    recorder.run(tools=[leaky, replay_graphs.explain])
    trace = load_file(recorder.path).latest()
    shown = _click(trace, trace.tool_calls()[0].span.span_id, tmp_path)
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "<img" not in shown
