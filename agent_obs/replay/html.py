"""A self-contained HTML page for one run: waterfall, span details on click, totals.

Everything is inline (CSS, script, data), so the page opens from disk with no network. The
waterfall rows are plain HTML, readable without script; the script only fills the details
panel from the span data embedded as JSON. All content is escaped::

    write_html(trace, "run.html")
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from agent_obs.replay.model import Trace
from agent_obs.replay.timeline import KIND_COLORS, ERROR_COLOR, waterfall_rows
from agent_obs.replay.tree import describe, routes

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.2em;margin:0 0 .3em}
.totals{display:flex;gap:1.5em;flex-wrap:wrap;margin:.5em 0 1em;font-size:.95em}
.totals div{background:#f4f4f6;border-radius:6px;padding:.4em .8em}
.wf{border-top:1px solid #ddd}
.row{display:flex;align-items:center;border-bottom:1px solid #f0f0f0;cursor:pointer;height:22px}
.row:hover,.row.sel{background:#eef5ff}
.label{width:38%;min-width:260px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font:12px monospace}
.track{position:relative;flex:1;height:14px}
.bar{position:absolute;height:14px;border-radius:2px;min-width:2px}
.dur{width:7em;text-align:right;font:11px monospace;color:#555}
#details{margin-top:1em;padding:.8em;background:#fafafa;border:1px solid #ddd;border-radius:6px}
#details pre{white-space:pre-wrap;word-break:break-word;font-size:12px}
table.attrs{border-collapse:collapse;font-size:12px}
table.attrs td{border-bottom:1px solid #eee;padding:2px 8px;vertical-align:top}
table.attrs td:first-child{font-family:monospace;color:#555}
.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em;border-radius:2px}
"""

_JS = """
(function(){
  var data = JSON.parse(document.getElementById('span-data').textContent);
  var panel = document.getElementById('details');
  function esc(s){return String(s).replace(/[&<>"']/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c];});}
  function show(id){
    var s = data[id]; if(!s){return;}
    var rows = Object.keys(s.attributes).sort().map(function(k){
      var v = s.attributes[k]; if(typeof v !== 'string'){v = JSON.stringify(v);}
      return '<tr><td>'+esc(k)+'</td><td><pre>'+esc(v)+'</pre></td></tr>';}).join('');
    var events = s.events.map(function(e){return '<li>'+esc(e.name)+' '+esc(JSON.stringify(e.attributes))+'</li>';}).join('');
    panel.innerHTML = '<h2>'+esc(s.name)+'</h2><p>'+esc(s.headline)+'</p>'
      + (s.details.length ? '<ul>'+s.details.map(function(d){return '<li>'+esc(d)+'</li>';}).join('')+'</ul>' : '')
      + '<p>span '+esc(s.span_id)+(s.parent ? ' · parent '+esc(s.parent) : '')+' · status '+esc(s.status)+'</p>'
      + '<table class="attrs">'+rows+'</table>'
      + (events ? '<h3>events</h3><ul>'+events+'</ul>' : '');
    var rowsEl = document.querySelectorAll('.row');
    for (var i=0;i<rowsEl.length;i++){rowsEl[i].classList.toggle('sel', rowsEl[i].getAttribute('data-span-id')===id);}
  }
  var all = document.querySelectorAll('.row');
  for (var i=0;i<all.length;i++){all[i].addEventListener('click', function(){show(this.getAttribute('data-span-id'));});}
})();
"""


def _json_for_script(value: Any) -> str:
    """JSON safe inside <script>: no '</script>', '<!--' or '&' can end or confuse it."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _span_data(trace: Trace) -> dict[str, Any]:
    data = {}
    for span in trace.spans:
        headline, details = describe(span)
        data[span.span_id] = {
            "span_id": span.span_id,
            "parent": span.parent.span_id if span.parent else span.span.parent_span_id,
            "name": span.name,
            "kind": span.kind,
            "status": span.status,
            "headline": headline,
            "details": details + routes(span),
            "attributes": {k: list(v) if isinstance(v, tuple) else v for k, v in span.attributes.items()},
            "events": [{"name": e.name, "attributes": e.attributes} for e in span.events],
        }
    return data


def render_html(trace: Trace, *, title: str | None = None) -> str:
    """The whole page as a string."""
    esc = html.escape
    rows = waterfall_rows(trace)
    total_ms = max((trace.end_ns - trace.start_ns) / 1e6, 1e-6)
    lines = []
    for row in rows:
        color = ERROR_COLOR if row["status"] == "error" else KIND_COLORS[row["kind"]]
        left = 100 * row["offset_ms"] / total_ms
        width = max(100 * row["duration_ms"] / total_ms, 0.2)
        lines.append(
            f'<div class="row" data-span-id="{esc(row["span_id"])}" title="{esc(row["label"])}">'
            f'<div class="label" style="padding-left:{row["depth"] * 14}px">{esc(row["label"])}</div>'
            f'<div class="track"><div class="bar kind-{esc(row["kind"])}" '
            f'style="left:{left:.3f}%;width:{min(width, 100 - left):.3f}%;background:{color}"></div></div>'
            f'<div class="dur">{row["duration_ms"]:.1f} ms</div></div>'
        )
    calls = trace.llm_calls()
    models = sorted({c.model or "" for c in calls})
    totals = [
        ("agent", trace.agent_name or trace.root.name),
        ("outcome", trace.outcome),
        ("duration", f"{trace.duration_ms:.1f} ms"),
        ("spans", str(len(trace.spans))),
        ("LLM calls", str(len(calls))),
        ("tool calls", str(len(trace.tool_calls()))),
        ("input tokens", str(trace.input_tokens)),
        ("output tokens", str(trace.output_tokens)),
        ("cost", f"${trace.cost_usd:.6f}"),
        ("models", ", ".join(models) or "none"),
    ]
    legend = "".join(f'<span style="background:{c}"></span>{esc(k)}' for k, c in KIND_COLORS.items())
    page_title = title or f"agent-obs run {trace.trace_id}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(page_title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(page_title)}</h1>"
        f'<div class="totals">{"".join(f"<div><b>{esc(k)}</b> {esc(v)}</div>" for k, v in totals)}</div>'
        f'<div class="legend">{legend}</div>'
        f'<div class="wf">{"".join(lines)}</div>'
        '<div id="details"><i>Click a span to see its details.</i></div>'
        f'<script type="application/json" id="span-data">{_json_for_script(_span_data(trace))}</script>'
        f"<script>{_JS}</script></body></html>\n"
    )


def write_html(trace: Trace, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write the page (creating the folder) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(trace, title=title), encoding="utf-8")
    return target
