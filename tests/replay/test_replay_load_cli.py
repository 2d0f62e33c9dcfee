"""Loading trace files (good, damaged, wrong) and the ``agent-obs replay`` command."""

from __future__ import annotations

import json

import pytest
from langchain_core.tools import tool

from agent_obs.cli import CliError, main
from agent_obs.replay import ReplayError, load_file, load_trace

import replay_graphs


def test_listing_many_traces_with_agent_start_duration_and_outcome(recorder):
    recorder.run()

    @tool("table_stats")
    def broken(table: str) -> str:
        """Row count and partitioning of a table."""
        raise RuntimeError("catalog down")

    recorder.run(tools=[broken, replay_graphs.explain])
    recorder.run()
    traces = load_file(recorder.path)
    summaries = traces.summaries()
    assert [s.outcome for s in summaries] == ["ok", "error", "ok"]
    assert {s.agent for s in summaries} == {"sql_tuner"}
    assert all(s.duration_ms > 0 and s.span_count > 0 for s in summaries)
    assert summaries[0].start_ns <= summaries[1].start_ns <= summaries[2].start_ns
    assert summaries[0].start.year >= 2024
    assert traces.latest().trace_id == summaries[-1].trace_id
    assert traces.get(summaries[1].trace_id.upper()).outcome == "error"


def test_damaged_file_still_loads_its_good_traces(recorder):
    recorder.run()
    recorder.run()
    lines = recorder.path.read_text().splitlines()
    # cut the last line in half (a crash while writing) and add a foreign line
    damaged = lines[:-1] + ["this is not json"] + [lines[-1][: len(lines[-1]) // 2]]
    recorder.path.write_text("\n".join(damaged) + "\n")
    traces = load_file(recorder.path)
    assert len(traces) >= 1
    assert [n for n, _ in traces.errors] == [len(lines), len(lines) + 1]
    assert all("truncated or not a trace file" in why for _, why in traces.errors)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("hello world\nsecond line\n", "not a trace file (line 1: not JSON"),
        ('{"foo": 1}\n', "not a trace file (line 1: JSON but not an OTLP"),
    ],
)
def test_not_a_trace_file_is_named(tmp_path, content, expected):
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(ReplayError) as info:
        load_file(path)
    assert str(info.value).startswith(f"{path}: {expected}")


def test_missing_file_empty_file_and_directory(tmp_path):
    with pytest.raises(ReplayError, match="no such file"):
        load_file(tmp_path / "nope.jsonl")
    with pytest.raises(ReplayError, match="is a directory"):
        load_file(tmp_path)
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ReplayError, match="holds no traces"):
        load_file(tmp_path / "empty.jsonl").latest()


def test_unknown_and_malformed_trace_ids(recorder):
    recorder.run()
    with pytest.raises(ReplayError, match=r"trace 0{31}1 is not in .* \(1 traces\)"):
        load_trace(recorder.path, "0" * 31 + "1")
    with pytest.raises(ReplayError, match="is not a trace id"):
        load_trace(recorder.path, "xyz")
    assert isinstance(ReplayError("x"), CliError) and isinstance(ReplayError("x"), ValueError)


def test_cli_prints_the_reasoning_tree_and_writes_html(recorder, capsys, tmp_path):
    recorder.run()
    page = tmp_path / "out" / "run.html"
    assert main(["replay", str(recorder.path), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "agent sql_tuner" in out
    assert out.index("node agent") < out.index("tool table_stats") < out.index("tool explain")
    assert "LLM gpt-4o-mini" in out and "120→18 tokens" in out
    assert "→ orders: 1200000 rows, not partitioned" in out
    assert "route → __end__" in out
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_cli_lists_traces(recorder, capsys):
    recorder.run()
    recorder.run()
    trace_ids = list(load_file(recorder.path).traces)
    assert main(["replay", str(recorder.path), "--list"]) == 0
    out = capsys.readouterr().out
    assert all(tid in out for tid in trace_ids)
    assert "sql_tuner" in out and "2 agent runs" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace-id", "f" * 32], "is not in"),
        (["--trace-id", "nothex"], "is not a trace id"),
    ],
)
def test_cli_errors_are_one_line_with_exit_2(recorder, capsys, args, message):
    recorder.run()
    assert main(["replay", str(recorder.path), *args]) == 2
    captured = capsys.readouterr()
    err_lines = captured.err.strip().splitlines()
    assert len(err_lines) == 1 and message in err_lines[0] and err_lines[0].startswith("agent-obs replay: ")
    assert "Traceback" not in captured.err


def test_cli_bad_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("just notes\n")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"agent-obs replay: {path}: not a trace file (line 1: not JSON (Expecting value at column 1); truncated or not a trace file)"]


def test_cli_html_to_unwritable_path_is_one_line(recorder, capsys, tmp_path):
    recorder.run()
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert main(["replay", str(recorder.path), "--html", str(blocker / "run.html")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_file_written_by_a_pretty_printer_is_still_read(recorder, tmp_path):
    recorder.run()
    one = json.loads(recorder.path.read_text().splitlines()[0])
    pretty = tmp_path / "tempo-response.json"
    pretty.write_text(json.dumps({"batches": one["resourceSpans"]}, indent=2))
    assert len(load_file(pretty)) == 1



def test_truncated_line_note_says_at_once(tmp_path):
    """json's "Unterminated string starting at" met our "at column N": the note read "at at"."""
    from agent_obs.otlp_json import read_requests

    path = tmp_path / "traces.jsonl"
    path.write_text('{"resourceSpans": [{"scopeSpans": "trunc\n')
    notes: list[str] = []
    list(read_requests(path, on_error=lambda number, why: notes.append(why)))
    assert len(notes) == 1 and " at at " not in notes[0]
    assert notes[0].startswith("not JSON (Unterminated string starting at column ")
