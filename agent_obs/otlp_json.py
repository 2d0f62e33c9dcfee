"""The trace-file format, written and read in one place.

A trace file holds OTLP JSON: one ``ExportTraceServiceRequest`` in the protobuf-JSON mapping
per line, as the OpenTelemetry Collector's file exporter writes it (camelCase keys, enums as
integers, trace and span ids as lowercase hex, 64-bit integers as strings). Tempo's
``GET /api/traces/{id}`` returns the same shape, with base64 ids and ``batches`` in place of
``resourceSpans``; the reader accepts both, and the pre-1.0 ``instrumentationLibrarySpans``.

Writing::

    provider.add_span_processor(BatchSpanProcessor(OtlpJsonFileExporter("telemetry/traces.jsonl")))

Reading::

    for line_no, request in read_requests("telemetry/traces.jsonl"):
        for span in iter_spans(request):
            print(span.trace_id, span.name, span.attributes)
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agent_obs.errors import TraceFileError
from agent_obs.guard import RateLimitedLog

_logger = logging.getLogger(__name__)

# OTLP enum values (opentelemetry.proto.trace.v1): what the integers in the file mean.
SPAN_KIND_UNSPECIFIED = 0
SPAN_KIND_INTERNAL = 1
SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5
STATUS_CODE_UNSET = 0
STATUS_CODE_OK = 1
STATUS_CODE_ERROR = 2

_KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": SPAN_KIND_UNSPECIFIED,
    "SPAN_KIND_INTERNAL": SPAN_KIND_INTERNAL,
    "SPAN_KIND_SERVER": SPAN_KIND_SERVER,
    "SPAN_KIND_CLIENT": SPAN_KIND_CLIENT,
    "SPAN_KIND_PRODUCER": SPAN_KIND_PRODUCER,
    "SPAN_KIND_CONSUMER": SPAN_KIND_CONSUMER,
}
_STATUS_NAMES = {
    "STATUS_CODE_UNSET": STATUS_CODE_UNSET,
    "STATUS_CODE_OK": STATUS_CODE_OK,
    "STATUS_CODE_ERROR": STATUS_CODE_ERROR,
}

_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")


# --- ids -------------------------------------------------------------------------------


def _parse_id(value: str | bytes | None, size: int, what: str) -> str | None:
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes):
        raw = value
    elif len(value) == size * 2 and _HEX_RE.match(value):
        raw = bytes.fromhex(value)
    else:
        try:
            padded = value + "=" * (-len(value) % 4)
            raw = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            try:
                raw = base64.urlsafe_b64decode(padded)
            except (binascii.Error, ValueError):
                raise ValueError(f"{what} {value!r} is neither hex nor base64") from None
    if len(raw) != size:
        raise ValueError(f"{what} {value!r} is {len(raw)} bytes, expected {size}")
    if raw == bytes(size):
        return None
    return raw.hex()


def parse_trace_id(value: str | bytes | None) -> str | None:
    """A trace id in hex (OTLP/JSON, the Collector) or base64 (Tempo) as 32 lowercase hex.

    Returns None for an empty or all-zero id; raises ValueError for anything else invalid.
    """
    return _parse_id(value, 16, "trace id")


def parse_span_id(value: str | bytes | None) -> str | None:
    """A span id in hex or base64 as 16 lowercase hex; None when empty (a root span)."""
    return _parse_id(value, 8, "span id")


# --- writing ---------------------------------------------------------------------------


def _ids_to_hex(request: dict[str, Any]) -> None:
    for resource_spans in request.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
                for link in span.get("links", ()):
                    for key in ("traceId", "spanId"):
                        if key in link:
                            link[key] = base64.b64decode(link[key]).hex()


def encode_spans_dict(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """SDK spans as one ``ExportTraceServiceRequest`` dict in the Collector's JSON mapping."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    _ids_to_hex(request)
    return request


def encode_spans_json(spans: Sequence[ReadableSpan]) -> str:
    """SDK spans as one line of a trace file (no trailing newline)."""
    return json.dumps(encode_spans_dict(spans), separators=(",", ":"), ensure_ascii=False)


# Why the trace-file exporter drops spans (the ``reason`` of ``agent_obs_dropped_total``).
DROP_SHUTDOWN = "shutdown"
DROP_ENCODE_ERROR = "encode_error"
DROP_WRITE_ERROR = "write_error"
DROP_REASONS = (DROP_SHUTDOWN, DROP_ENCODE_ERROR, DROP_WRITE_ERROR)

class OtlpJsonFileExporter(SpanExporter):
    """Appends one OTLP JSON line per export call to a trace file.

    Each line is written with a single ``write()`` to a file opened in append mode, so
    several processes may share one trace file (worker processes of one service): lines
    never interleave.

    Use it behind a ``BatchSpanProcessor`` so file I/O happens off the caller's thread. The
    parent folder is created on the first export, not at construction. With ``max_bytes``,
    a file that would grow past it is renamed to ``<path>.1`` (replacing an older one) and a
    new file is started, so disk use stays below about twice ``max_bytes``. Failures never
    reach the SDK: ``export`` returns FAILURE, counts the spans in ``dropped_spans`` (and
    tells ``on_drop(reason, count)`` when given) and logs through stdlib logging at most
    once a minute.
    """

    _LOG_INTERVAL_S = 60.0

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        on_drop: Callable[[str, int], None] | None = None,
    ) -> None:
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.dropped_spans = 0
        self._on_drop = on_drop
        self._lock = threading.Lock()
        self._file: int | None = None  # a file descriptor opened with O_APPEND
        self._shutdown = False
        self._log = RateLimitedLog(_logger, self._LOG_INTERVAL_S)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        if self._shutdown:
            self._drop(DROP_SHUTDOWN, len(spans), None)
            return SpanExportResult.FAILURE
        try:
            line = encode_spans_json(spans) + "\n"
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the SDK
            self._drop(DROP_ENCODE_ERROR, len(spans), exc)
            return SpanExportResult.FAILURE
        try:
            with self._lock:
                self._write(line)
        except Exception as exc:  # noqa: BLE001
            self._drop(DROP_WRITE_ERROR, len(spans), exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _write(self, line: str) -> None:
        # One write() per batch on a file opened with O_APPEND: the kernel appends each call
        # whole at the end of the file, so worker processes sharing the file (several
        # workers, or a fork after set-up) never interleave or overwrite each other's lines.
        data = line.encode("utf-8")
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = _open_append(self.path)
        if self.max_bytes is not None:
            self._rotate_if_needed(len(data))
        view = memoryview(data)
        while view:
            written = os.write(self._file, view)
            view = view[written:]

    def _rotate_if_needed(self, incoming: int) -> None:
        assert self._file is not None
        stat = os.fstat(self._file)
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        if current is None or (current.st_ino, current.st_dev) != (stat.st_ino, stat.st_dev):
            os.close(self._file)  # another process rotated the file: follow it
            self._file = _open_append(self.path)
            stat = os.fstat(self._file)
        if stat.st_size > 0 and stat.st_size + incoming > self.max_bytes:  # type: ignore[operator]
            os.close(self._file)
            self._file = None
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            self._file = _open_append(self.path)

    def _drop(self, reason: str, count: int, exc: BaseException | None) -> None:
        self.dropped_spans += count
        if self._on_drop is not None:
            try:
                self._on_drop(reason, count)
            except Exception:  # noqa: BLE001
                pass
        self._log.warning("drop", "agent_obs: dropped %d spans for %s (%s): %s", count, self.path, reason, exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is written through (unbuffered) before it returns

    def shutdown(self) -> None:
        with self._lock:
            self._shutdown = True
            if self._file is not None:
                try:
                    os.close(self._file)
                except OSError:
                    pass
                self._file = None


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)


# --- reading ---------------------------------------------------------------------------


def read_requests(
    source: str | os.PathLike[str] | IO[str] | IO[bytes],
    *,
    on_error: Callable[[int, str], None] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, request)`` for each good line of a trace file.

    Tolerant: blank lines are skipped; a line that is not JSON (for example the truncated
    last line of a file still being written) or has no ``resourceSpans``/``batches`` is
    reported to ``on_error(line_number, reason)`` (or logged at DEBUG) and skipped, so a
    partly damaged file still yields its good lines. A whole Tempo response body pretty-
    printed over many lines is also accepted. A missing file raises ``FileNotFoundError``.
    """
    report = on_error or (lambda n, why: _logger.debug("trace file line %d skipped: %s", n, why))
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            yield from _read_lines(handle, report)
    else:
        yield from _read_lines(source, report)


def _read_lines(handle: IO[Any], report: Callable[[int, str], None]) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(handle.read(0), bytes):
        handle = io.TextIOWrapper(handle, encoding="utf-8", errors="replace")  # type: ignore[arg-type]
    first = handle.readline()
    if first.lstrip().startswith("{") and not _is_json(first):
        # Maybe one JSON document spread over several lines (a saved Tempo response).
        rest = handle.read()
        try:
            doc = json.loads(first + rest)
        except ValueError:
            lines: Iterator[str] = iter((first + rest).splitlines())
        else:
            request = as_request(doc) if isinstance(doc, dict) else None
            if request is None:
                report(1, "JSON document has no resourceSpans or batches")
            else:
                yield 1, request
            return
    else:
        lines = _chain_first(first, handle)
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            # json's own messages may end in "at" ("Unterminated string starting at"): say it once.
            what = exc.msg.removesuffix(" at")
            report(number, f"not JSON ({what} at column {exc.colno}); truncated or not a trace file")
            continue
        request = as_request(doc) if isinstance(doc, dict) else None
        if request is None:
            report(number, "JSON but not an OTLP ExportTraceServiceRequest (no resourceSpans)")
            continue
        yield number, request


def _chain_first(first: str, handle: IO[str]) -> Iterator[str]:
    if first:
        yield first
        yield from handle


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def as_request(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request inside a line or a Tempo response body (``resourceSpans``, ``batches`` or
    ``{"trace": ...}``) as ``{"resourceSpans": [...]}``; None when it is none of those."""
    if isinstance(doc.get("trace"), dict):  # Tempo /api/v2/traces/{id}
        doc = doc["trace"]
    if "resourceSpans" in doc and isinstance(doc["resourceSpans"], list):
        return dict(doc)
    if "batches" in doc and isinstance(doc["batches"], list):  # Tempo /api/traces/{id}
        return {"resourceSpans": doc["batches"]}
    if doc == {}:  # the Collector writes {} for an empty export
        return {"resourceSpans": []}
    return None


def any_value(value: Mapping[str, Any] | None) -> Any:
    """An OTLP ``AnyValue`` as a Python value (int64 strings become ints, bytes are decoded)."""
    if not value:
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])  # also "NaN", "Infinity", "-Infinity"
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values", ())]
    if "kvlistValue" in value:
        return attributes_dict((value["kvlistValue"] or {}).get("values", ()))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None


def attributes_dict(attributes: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """An OTLP ``KeyValue`` list as a dict; array values become tuples like the SDK's."""
    out: dict[str, Any] = {}
    for item in attributes or ():
        decoded = any_value(item.get("value"))
        out[item.get("key", "")] = tuple(decoded) if isinstance(decoded, list) else decoded
    return out


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SpanLink:
    trace_id: str | None
    span_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlatSpan:
    """One span from a request, with its resource and scope, ids as hex, values decoded."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, Any]
    events: tuple[SpanEvent, ...]
    links: tuple[SpanLink, ...]
    status_code: int
    status_message: str
    resource: dict[str, Any]
    scope_name: str
    scope_version: str


def _enum(value: Any, names: Mapping[str, int]) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and not value.isdigit():
        return names.get(value, 0)
    return int(value)


def iter_spans(request: Mapping[str, Any]) -> Iterator[FlatSpan]:
    """The spans of one request, flattened; raises TraceFileError on a malformed span."""
    for resource_spans in request.get("resourceSpans") or request.get("batches") or ():
        resource = attributes_dict((resource_spans.get("resource") or {}).get("attributes"))
        scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or ()
        for scope_spans in scopes:
            scope = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
            for span in scope_spans.get("spans") or ():
                yield _flat_span(span, resource, scope)


def _flat_span(span: Mapping[str, Any], resource: dict[str, Any], scope: Mapping[str, Any]) -> FlatSpan:
    try:
        trace_id = parse_trace_id(span.get("traceId"))
        span_id = parse_span_id(span.get("spanId"))
    except ValueError as exc:
        raise TraceFileError(f"span {span.get('name')!r}: {exc}") from None
    if trace_id is None or span_id is None:
        raise TraceFileError(f"span {span.get('name')!r} has no trace id or span id")
    try:
        parent = parse_span_id(span.get("parentSpanId"))
    except ValueError as exc:
        raise TraceFileError(f"span {span.get('name')!r}: {exc}") from None
    status = span.get("status") or {}
    events = tuple(
        SpanEvent(
            name=e.get("name", ""),
            time_unix_nano=int(e.get("timeUnixNano", 0) or 0),
            attributes=attributes_dict(e.get("attributes")),
        )
        for e in span.get("events") or ()
    )
    links = tuple(
        SpanLink(
            trace_id=parse_trace_id(link.get("traceId")),
            span_id=parse_span_id(link.get("spanId")),
            attributes=attributes_dict(link.get("attributes")),
        )
        for link in span.get("links") or ()
    )
    return FlatSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=span.get("name", ""),
        kind=_enum(span.get("kind"), _KIND_NAMES),
        start_time_unix_nano=int(span.get("startTimeUnixNano", 0) or 0),
        end_time_unix_nano=int(span.get("endTimeUnixNano", 0) or 0),
        attributes=attributes_dict(span.get("attributes")),
        events=events,
        links=links,
        status_code=_enum(status.get("code"), _STATUS_NAMES),
        status_message=status.get("message", "") or "",
        resource=resource,
        scope_name=scope.get("name", "") or "",
        scope_version=scope.get("version", "") or "",
    )
