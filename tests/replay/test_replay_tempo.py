"""The Tempo loader, against a local HTTP server that stands in for Tempo's query API.

The stand-in serves bodies shaped exactly like Tempo's: ``GET /api/traces/{id}`` returns the
trace as protobuf JSON with base64 ids, enum names and ``batches``; ``GET /api/v2/traces/{id}``
returns ``{"trace": {"resourceSpans": ...}}``; ``GET /api/search`` returns ``{"traces": [...]}``
with ``traceID`` (leading zeros dropped), ``rootServiceName``, ``rootTraceName``,
``startTimeUnixNano``, ``durationMs`` and ``spanSets``. Unknown ids get 404, as Tempo does.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from agent_obs.cli import main
from agent_obs.replay import ReplayError, TempoClient, load_file, load_trace


class TempoStandIn:
    """Stands in for Tempo's HTTP query API on 127.0.0.1 (see the module docstring)."""

    def __init__(self, *, has_v2: bool = True) -> None:
        self.traces: dict[str, dict[str, Any]] = {}  # hex id -> v1 body
        self.search_body: dict[str, Any] = {"traces": [], "metrics": {"inspectedTraces": 0}}
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.has_v2 = has_v2
        self.fail_with: int | None = None
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urlsplit(self.path)
                stand_in.requests.append((url.path, parse_qs(url.query)))
                if stand_in.fail_with:
                    return self._send(stand_in.fail_with, b"internal error", "text/plain")
                parts = url.path.strip("/").split("/")
                if url.path == "/api/search":
                    return self._json(stand_in.search_body)
                if parts[:2] == ["api", "v2"] and len(parts) == 4 and parts[2] == "traces":
                    if not stand_in.has_v2:
                        return self._send(404, b"404 page not found\n", "text/plain")
                    body = stand_in.traces.get(parts[3].lower())
                    if body is None:
                        return self._send(404, b"trace not found", "text/plain")
                    return self._json({"trace": {"resourceSpans": body["batches"]}})
                if parts[:2] == ["api", "traces"] and len(parts) == 3:
                    body = stand_in.traces.get(parts[2].lower())
                    if body is None:
                        return self._send(404, b"trace not found", "text/plain")
                    return self._json(body)
                return self._send(404, b"404 page not found\n", "text/plain")

            def _json(self, body: Any) -> None:
                self._send(200, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def add_trace(self, spans: list[Any]) -> str:
        """Store SDK spans as Tempo returns them: protobuf JSON, base64 ids, ``batches``."""
        body = MessageToDict(encode_spans(spans))
        trace_id = f"{spans[0].context.trace_id:032x}"
        self.traces[trace_id] = {"batches": body["resourceSpans"]}
        return trace_id

    def __enter__(self) -> TempoStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def tempo():
    with TempoStandIn() as server:
        yield server


def _search_entry(trace_id: str, agent: str, start_ns: int, duration_ms: int) -> dict[str, Any]:
    return {
        "traceID": trace_id.lstrip("0"),
        "rootServiceName": "optimizer-agent",
        "rootTraceName": f"invoke_agent {agent}",
        "startTimeUnixNano": str(start_ns),
        "durationMs": duration_ms,
        "spanSets": [
            {
                "spans": [
                    {
                        "spanID": "563d623c76514f8e",
                        "name": f"invoke_agent {agent}",
                        "startTimeUnixNano": str(start_ns),
                        "durationNanos": str(duration_ms * 1_000_000),
                        "attributes": [{"key": "gen_ai.agent.name", "value": {"stringValue": agent}}],
                    }
                ],
                "matched": 1,
            }
        ],
    }


def test_trace_from_tempo_equals_trace_from_file(recorder, span_exporter, tempo):
    recorder.run()
    from_file = load_file(recorder.path).latest()
    assert tempo.add_trace(list(span_exporter.get_finished_spans())) == from_file.trace_id
    from_tempo = TempoClient(tempo.url).get_trace(from_file.trace_id)
    assert tempo.requests[-1][0] == f"/api/v2/traces/{from_file.trace_id}"
    assert [(s.span_id, s.name, s.attributes, s.start_ns, s.end_ns, s.span.kind, s.span.status_code)
            for s in from_tempo.spans] == [
        (s.span_id, s.name, s.attributes, s.start_ns, s.end_ns, s.span.kind, s.span.status_code)
        for s in from_file.spans
    ]
    assert from_tempo.node_path == from_file.node_path
    assert [(e.name, e.attributes) for s in from_tempo.spans for e in s.events] == [
        (e.name, e.attributes) for s in from_file.spans for e in s.events
    ]


def test_old_tempo_without_v2_falls_back_to_v1(recorder, span_exporter):
    recorder.run()
    with TempoStandIn(has_v2=False) as old:
        trace_id = old.add_trace(list(span_exporter.get_finished_spans()))
        trace = load_trace(old.url, trace_id)
        assert [path for path, _ in old.requests] == [f"/api/v2/traces/{trace_id}", f"/api/traces/{trace_id}"]
    assert trace.agent_name == "sql_tuner" and len(trace.spans) == 11


def test_unknown_trace_id_in_tempo(tempo):
    with pytest.raises(ReplayError, match=f"trace {'a' * 32} was not found in Tempo at {tempo.url}"):
        TempoClient(tempo.url).get_trace("A" * 32)


def test_search_builds_traceql_and_reads_tempo_results(tempo):
    tempo.search_body["traces"] = [
        _search_entry("0" * 4 + "1" * 28, "sql_tuner", 1_700_000_000_000_000_000, 1532),
    ]
    found = TempoClient(tempo.url).search(agent="sql_tuner", outcome="error", min_duration_ms=1000, limit=5,
                                          start=1_699_999_000, end=1_700_001_000)
    path, params = tempo.requests[-1]
    assert path == "/api/search"
    assert params["q"] == [
        '{ span.gen_ai.operation.name = "invoke_agent" && span.gen_ai.agent.name = "sql_tuner" '
        "&& status = error && duration >= 1000ms }"
    ]
    assert params["limit"] == ["5"] and params["start"] == ["1699999000"] and params["end"] == ["1700001000"]
    [summary] = found
    assert summary.trace_id == "0000" + "1" * 28, "Tempo drops leading zeros; we put them back"
    assert (summary.agent, summary.duration_ms, summary.outcome, summary.span_count) == ("sql_tuner", 1532.0, "error", 1)
    assert summary.start_ns == 1_700_000_000_000_000_000


def test_search_rejects_unknown_outcome(tempo):
    with pytest.raises(ReplayError, match="unknown outcome 'weird'"):
        TempoClient(tempo.url).search(outcome="weird")


def test_tempo_unreachable_is_one_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # nothing listens on the port any more
    with pytest.raises(ReplayError, match=rf"Tempo at http://127.0.0.1:{port} is unreachable"):
        TempoClient(f"http://127.0.0.1:{port}", timeout=2).get_trace("1" * 32)


def test_tempo_server_error_is_reported(tempo):
    tempo.fail_with = 500
    with pytest.raises(ReplayError, match="answered /api/v2/traces/.* with HTTP 500"):
        TempoClient(tempo.url).get_trace("1" * 32)


def test_cli_against_tempo(recorder, span_exporter, tempo, capsys, tmp_path):
    recorder.run()
    trace_id = tempo.add_trace(list(span_exporter.get_finished_spans()))
    tempo.search_body["traces"] = [_search_entry(trace_id, "sql_tuner", 1_700_000_000_000_000_000, 12)]
    page = tmp_path / "run.html"
    assert main(["replay", tempo.url, "--html", str(page)]) == 0  # latest run found by search
    out = capsys.readouterr().out
    assert trace_id in out and "tool table_stats" in out
    assert trace_id in page.read_text()
    assert main(["replay", tempo.url, "--list"]) == 0
    assert trace_id in capsys.readouterr().out
    assert main(["replay", tempo.url, "--trace-id", "2" * 32]) == 2
    assert "not found in Tempo" in capsys.readouterr().err


def test_tempo_that_never_answers_times_out_with_a_clear_error():
    """A socket that accepts connections but never replies, like a hung Tempo."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(ReplayError, match=rf"Tempo at {url} is unreachable \(.*timed out"):
            TempoClient(url, timeout=0.2).get_trace("1" * 32)


def test_latest_run_is_the_newest_search_result_whatever_the_order(tempo):
    tempo.search_body["traces"] = [
        _search_entry("a" * 32, "sql_tuner", 1_700_000_000_000_000_000, 10),
        _search_entry("b" * 32, "sql_tuner", 1_700_000_900_000_000_000, 10),
        _search_entry("c" * 32, "sql_tuner", 1_700_000_500_000_000_000, 10),
    ]
    assert TempoClient(tempo.url).latest_trace_id(agent="sql_tuner") == "b" * 32
    assert 'span.gen_ai.agent.name = "sql_tuner"' in tempo.requests[-1][1]["q"][0]
    tempo.search_body["traces"] = []
    with pytest.raises(ReplayError, match="has no agent runs; pass --trace-id"):
        TempoClient(tempo.url).latest_trace_id()
