"""The trace-file format: SDK spans -> OTLP JSON lines -> read back unchanged."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from agent_obs import semconv as sc
from agent_obs.otlp_json import (
    OtlpJsonFileExporter,
    TraceFileError,
    encode_spans_json,
    iter_spans,
    parse_span_id,
    parse_trace_id,
    read_requests,
)


def _make_spans(tracer_provider: TracerProvider):
    tracer = tracer_provider.get_tracer(sc.SCOPE_NAME, "1.2.3")
    with tracer.start_as_current_span("invoke_agent demo", attributes={sc.GEN_AI_AGENT_NAME: "demo"}) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            kind=SpanKind.CLIENT,
            attributes={
                sc.GEN_AI_USAGE_INPUT_TOKENS: 12,
                sc.COST_USD: 0.00025,
                sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop", "length"),
                sc.USAGE_ESTIMATED: True,
                "ints": (1, 2, 3),
            },
            links=[Link(root.get_span_context(), {"why": "test"})],
        ) as llm:
            llm.add_event(sc.EVENT_ROUTE, {sc.ROUTE_DESTINATIONS: ("tools",)})
        try:
            with tracer.start_as_current_span("execute_tool boom"):
                raise KeyError("nope")
        except KeyError:
            pass
        root.set_status(Status(StatusCode.OK))


def _attrs(mapping) -> dict:
    return {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in dict(mapping or {}).items()}


def test_round_trip_through_file_keeps_every_field(tmp_path, tracer_provider, span_exporter):
    _make_spans(tracer_provider)
    sdk_spans = span_exporter.get_finished_spans()
    path = tmp_path / "nested" / "dir" / "traces.jsonl"
    exporter = OtlpJsonFileExporter(path)
    assert not path.parent.exists(), "the folder is created on first export, not at construction"
    assert exporter.export(sdk_spans[:1]) is SpanExportResult.SUCCESS
    assert exporter.export(sdk_spans[1:]) is SpanExportResult.SUCCESS
    exporter.shutdown()

    lines = path.read_text().splitlines()
    assert len(lines) == 2, "one line per export call"
    raw = json.loads(lines[1])
    raw_span = raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(raw_span["traceId"]) == 32 and raw_span["traceId"] == raw_span["traceId"].lower()
    assert isinstance(raw_span["kind"], int), "enums as integers, as the Collector writes them"

    read = [span for _, request in read_requests(path) for span in iter_spans(request)]
    assert len(read) == len(sdk_spans) == 3
    by_id = {s.span_id: s for s in read}
    for sdk in sdk_spans:
        ctx = sdk.get_span_context()
        got = by_id[f"{ctx.span_id:016x}"]
        assert got.trace_id == f"{ctx.trace_id:032x}"
        assert got.name == sdk.name
        assert got.parent_span_id == (f"{sdk.parent.span_id:016x}" if sdk.parent else None)
        assert got.kind == sdk.kind.value + 1  # SDK enum is 0-based INTERNAL; OTLP is 1-based
        assert got.start_time_unix_nano == sdk.start_time
        assert got.end_time_unix_nano == sdk.end_time
        assert got.attributes == _attrs(sdk.attributes)
        assert got.status_code == sdk.status.status_code.value
        assert got.status_message == (sdk.status.description or "")
        assert [(e.name, e.time_unix_nano, e.attributes) for e in got.events] == [
            (e.name, e.timestamp, _attrs(e.attributes)) for e in sdk.events
        ]
        assert [(link.trace_id, link.span_id, link.attributes) for link in got.links] == [
            (f"{lk.context.trace_id:032x}", f"{lk.context.span_id:016x}", _attrs(lk.attributes))
            for lk in sdk.links
        ]
        assert got.scope_name == sc.SCOPE_NAME and got.scope_version == "1.2.3"
        assert got.resource["service.name"] == sdk.resource.attributes["service.name"]
    tool = next(s for s in read if s.name == "execute_tool boom")
    assert tool.status_code == 2 and tool.events[0].name == "exception"
    assert tool.events[0].attributes["exception.type"] == "KeyError"


def test_ids_accept_hex_and_base64():
    trace_hex = "0af7651916cd43dd8448eb211c80319c"
    span_hex = "b7ad6b7169203331"
    assert parse_trace_id(trace_hex.upper()) == trace_hex
    assert parse_trace_id(base64.b64encode(bytes.fromhex(trace_hex)).decode()) == trace_hex
    assert parse_span_id(base64.b64encode(bytes.fromhex(span_hex)).decode()) == span_hex
    assert parse_span_id(span_hex) == span_hex
    assert parse_span_id("") is None and parse_span_id(None) is None
    assert parse_span_id("0" * 16) is None
    with pytest.raises(ValueError, match="span id"):
        parse_span_id("xyz!")
    with pytest.raises(ValueError, match="expected 16"):
        parse_trace_id(span_hex)


def test_reader_accepts_tempo_v1_shape_string_enums_and_old_scope_key():
    """Tempo's /api/traces/{id}: base64 ids, ``batches``, enum names; pre-1.0 scope key."""
    body = {
        "batches": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "instrumentationLibrarySpans": [
                    {
                        "instrumentationLibrary": {"name": "agent_obs"},
                        "spans": [
                            {
                                "traceId": base64.b64encode(bytes(range(1, 17))).decode(),
                                "spanId": base64.b64encode(bytes(range(1, 9))).decode(),
                                "parentSpanId": "",
                                "name": "invoke_agent x",
                                "kind": "SPAN_KIND_CLIENT",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001000000000",
                                "attributes": [
                                    {"key": "i", "value": {"intValue": "123"}},
                                    {"key": "d", "value": {"doubleValue": 1.5}},
                                    {"key": "b", "value": {"boolValue": True}},
                                    {"key": "a", "value": {"arrayValue": {"values": [{"stringValue": "x"}]}}},
                                    {"key": "kv", "value": {"kvlistValue": {"values": [
                                        {"key": "k", "value": {"intValue": "7"}}]}}},
                                ],
                                "status": {"code": "STATUS_CODE_ERROR", "message": "bad"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    text = json.dumps(body, indent=2)  # a saved response body, pretty-printed
    [(line_no, request)] = list(read_requests(io.StringIO(text)))
    [span] = list(iter_spans(request))
    assert line_no == 1
    assert span.trace_id == bytes(range(1, 17)).hex() and span.span_id == bytes(range(1, 9)).hex()
    assert span.parent_span_id is None and span.kind == 3 and span.status_code == 2
    assert span.attributes == {"i": 123, "d": 1.5, "b": True, "a": ("x",), "kv": {"k": 7}}
    assert span.resource == {"service.name": "svc"} and span.scope_name == "agent_obs"
    [(_, v2)] = list(read_requests(io.BytesIO(json.dumps({"trace": {"resourceSpans": body["batches"]}}).encode())))
    assert [s.span_id for s in iter_spans(v2)] == [span.span_id]


def test_damaged_lines_are_reported_and_good_lines_still_load(tmp_path, tracer_provider, span_exporter):
    _make_spans(tracer_provider)
    good = encode_spans_json(span_exporter.get_finished_spans())
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([good, '{"hello": 1}', "", good, good[: len(good) // 2]]))
    errors: list[tuple[int, str]] = []
    got = [n for n, _ in read_requests(path, on_error=lambda n, why: errors.append((n, why)))]
    assert got == [1, 4]
    assert [n for n, _ in errors] == [2, 5]
    assert "not an OTLP" in errors[0][1] and "truncated" in errors[1][1]


def test_malformed_span_id_raises_trace_file_error():
    request = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "1", "name": "s"}]}]}]}
    with pytest.raises(TraceFileError, match="'s'"):
        list(iter_spans(request))


def test_exporter_never_raises_and_counts_drops(tmp_path, tracer_provider, span_exporter, caplog):
    _make_spans(tracer_provider)
    spans = span_exporter.get_finished_spans()
    blocker = tmp_path / "file"
    blocker.write_text("")
    drops: list[tuple[str, int]] = []
    exporter = OtlpJsonFileExporter(blocker / "sub" / "t.jsonl", on_drop=lambda r, n: drops.append((r, n)))
    with caplog.at_level(logging.WARNING, logger="agent_obs.otlp_json"):
        assert exporter.export(spans) is SpanExportResult.FAILURE
        assert exporter.export(spans) is SpanExportResult.FAILURE
    assert exporter.dropped_spans == 2 * len(spans)
    assert drops == [("write_error", len(spans))] * 2
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1, "rate-limited"
    assert exporter.force_flush() is True
    exporter.shutdown()
    assert exporter.export(spans) is SpanExportResult.FAILURE


def test_exporter_rotates_at_max_bytes_and_is_thread_safe(tmp_path, tracer_provider, span_exporter):
    _make_spans(tracer_provider)
    spans = span_exporter.get_finished_spans()
    one = len((encode_spans_json(spans) + "\n").encode())
    path = tmp_path / "t.jsonl"
    exporter = OtlpJsonFileExporter(path, max_bytes=one * 5)
    threads = [threading.Thread(target=lambda: [exporter.export(spans) for _ in range(4)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    exporter.shutdown()
    backup = path.with_name("t.jsonl.1")
    assert path.stat().st_size <= one * 5 and backup.stat().st_size <= one * 5
    lines = path.read_text().splitlines() + backup.read_text().splitlines()
    assert all(json.loads(line)["resourceSpans"] for line in lines), "no interleaved writes"
    # 16 lines of equal size, 5 per file: three rotations, the last one kept as the backup
    assert len(path.read_text().splitlines()) == 1 and len(backup.read_text().splitlines()) == 5


def test_exporter_works_behind_the_sdk_processor(tmp_path):
    path = tmp_path / "t.jsonl"
    provider = TracerProvider(resource=Resource.create({"service.name": "unit"}))
    provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(path)))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("outer"):
        with provider.get_tracer("t").start_as_current_span("inner"):
            pass
    provider.shutdown()
    read = [s for _, r in read_requests(path) for s in iter_spans(r)]
    assert [s.name for s in read] == [s.name for s in memory.get_finished_spans()] == ["inner", "outer"]
    assert read[0].resource["service.name"] == "unit"


def test_a_failing_on_drop_callback_does_not_escape(tmp_path, tracer_provider, span_exporter):
    _make_spans(tracer_provider)
    blocker = tmp_path / "file"
    blocker.write_text("")

    def explode(reason: str, count: int) -> None:
        raise RuntimeError("metrics are broken too")

    exporter = OtlpJsonFileExporter(blocker / "t.jsonl", on_drop=explode)
    assert exporter.export(span_exporter.get_finished_spans()) is SpanExportResult.FAILURE
    assert exporter.dropped_spans == 3


def test_max_bytes_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="max_bytes"):
        OtlpJsonFileExporter(tmp_path / "t.jsonl", max_bytes=0)
