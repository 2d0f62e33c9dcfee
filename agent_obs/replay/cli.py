"""``agent-obs replay SOURCE``: list traces, print a run's reasoning tree, write its HTML page.

Called by ``agent_obs.cli``; user errors raise ``ReplayError`` (a ``CliError``), which the
command prints as one line before exiting with status 2.
"""

from __future__ import annotations

from typing import Any

from agent_obs.replay.load import ReplayError, TempoClient, is_url, load_file


def _console(console: Any) -> Any:
    if console is not None:
        return console
    from rich.console import Console

    console = Console()
    # Piped to a file or a pager: do not squeeze trace ids and messages into 80 columns.
    return console if console.is_terminal else Console(width=160)


def _listing_table(summaries: list[Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("trace id", no_wrap=True, min_width=32)  # users copy it into --trace-id
    for column in ("agent", "start (UTC)", "duration ms", "outcome", "spans"):
        table.add_column(column, justify="right" if column in ("duration ms", "spans") else "left")
    for s in summaries:
        table.add_row(
            s.trace_id, s.agent or s.root_name, s.start.strftime("%Y-%m-%d %H:%M:%S"),
            f"{s.duration_ms:.1f}", s.outcome or "?", str(s.span_count or ""),
        )
    return table


def run_replay(
    source: str,
    *,
    trace_id: str | None = None,
    html: str | None = None,
    list_only: bool = False,
    console: Any = None,
) -> int:
    """The replay command; returns the exit status."""
    from agent_obs.replay.html import write_html
    from agent_obs.replay.tree import reasoning_tree

    out = _console(console)
    if is_url(source):
        client = TempoClient(source)
        if list_only:
            found = sorted(client.search(), key=lambda s: s.start_ns)  # Tempo does not sort them
            out.print(_listing_table(found, f"agent runs in Tempo at {client.base_url}"))
            return 0
        trace = client.get_trace(trace_id or client.latest_trace_id())
    else:
        traces = load_file(source)
        for line_no, why in traces.errors[:3]:
            out.print(f"[yellow]skipped line {line_no} of {source}: {why}[/yellow]")
        if len(traces.errors) > 3:
            out.print(f"[yellow]skipped {len(traces.errors) - 3} more damaged lines[/yellow]")
        if list_only:
            runs = traces.agent_runs()
            shown = [t.summary() for t in runs] if runs else traces.summaries()
            others = len(traces) - len(runs) if runs else 0
            title = f"{len(shown)} {'agent runs' if runs else 'traces'} in {source}"
            out.print(_listing_table(shown, title + (f" ({others} other traces not shown)" if others else "")))
            return 0
        trace = traces.get(trace_id) if trace_id else traces.latest()
    out.print(reasoning_tree(trace))
    if html:
        try:
            path = write_html(trace, html)
        except OSError as exc:
            raise ReplayError(f"cannot write {html}: {exc.strerror or exc}") from None
        out.print(f"wrote {path}")
    return 0
