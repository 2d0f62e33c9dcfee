"""Faithful local stand-ins for Loki and Tempo, for tests, benchmarks and the example.

Loki and Tempo cannot be installed here, so these speak their wire protocols on 127.0.0.1:

- ``LokiReceiver`` stands in for Loki's push API, ``POST /loki/api/v1/push``: it decodes the
  JSON body as Loki does (optional ``Content-Encoding: gzip``; ``streams`` of ``stream``
  label maps and ``values`` of ``[ts_ns_string, line]`` or ``[ts, line, {structured
  metadata}]``), answers 204, and rejects malformed pushes with 400 like Loki.
- ``OtlpGrpcReceiver`` stands in for Tempo's OTLP gRPC receiver: a real
  ``opentelemetry.proto.collector.trace.v1.TraceService`` gRPC server storing ResourceSpans.
- ``OtlpHttpReceiver`` stands in for Tempo's OTLP/HTTP receiver (``POST /v1/traces``,
  protobuf body, optional gzip).

Both are context managers with ``.url``/``.endpoint`` and can be told to misbehave:
``slow(seconds)``, ``fail(status, retry_after=None)``, ``down()`` (stop listening; ``up()``
listens again on the same port) and ``ok()``.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PUSH_PATH = "/loki/api/v1/push"


@dataclass
class LokiEntry:
    labels: dict[str, str]
    ts_ns: int
    line: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.line)


class PushError(ValueError):
    """A push body Loki would reject with 400."""


def parse_push(body: bytes, content_encoding: str | None, content_type: str | None) -> list[LokiEntry]:
    """Decode a Loki JSON push body exactly as far as Loki validates it."""
    if content_encoding:
        if content_encoding.lower() != "gzip":
            raise PushError(f"unsupported Content-Encoding {content_encoding}")
        body = gzip.decompress(body)
    if content_type and not content_type.split(";")[0].strip() == "application/json":
        raise PushError(f"only application/json pushes are understood here, got {content_type}")
    doc = json.loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list):
        raise PushError("body must be an object with a 'streams' array")
    entries: list[LokiEntry] = []
    for stream in doc["streams"]:
        labels = stream.get("stream")
        if not isinstance(labels, dict) or not labels:
            raise PushError("each stream needs a non-empty 'stream' label object")
        for key, value in labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise PushError("label names and values must be strings")
            if not (key[:1].isalpha() or key[:1] == "_") or not all(c.isalnum() or c == "_" for c in key):
                raise PushError(f"invalid label name {key!r}")
        values = stream.get("values")
        if not isinstance(values, list):
            raise PushError("each stream needs a 'values' array")
        for value in values:
            if not isinstance(value, list) or len(value) not in (2, 3):
                raise PushError("each value must be [ts, line] or [ts, line, metadata]")
            ts, line = value[0], value[1]
            if not isinstance(ts, str) or not ts.isdigit():
                raise PushError("timestamps must be strings of integer nanoseconds")
            if not isinstance(line, str):
                raise PushError("log lines must be strings")
            metadata: dict[str, str] = {}
            if len(value) == 3:
                if not isinstance(value[2], dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value[2].items()
                ):
                    raise PushError("structured metadata must map strings to strings")
                metadata = dict(value[2])
            entries.append(LokiEntry(dict(labels), int(ts), line, metadata))
    return entries


class _Behaviour:
    """How a receiver answers right now; changed by the test while it runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.delay = 0.0
        self.status: int | None = None
        self.retry_after: str | None = None
        self.release = threading.Event()

    def snapshot(self) -> tuple[float, int | None, str | None, threading.Event]:
        with self.lock:
            return self.delay, self.status, self.retry_after, self.release


class _Listener:
    """A stand-in on a fixed port, so ``down()``/``up()`` keep the URL stable.

    Subclasses start their server in ``up()`` and stop it in ``down()``; answering requests,
    they call ``_counted()`` and then ``_behave()`` to honour ``slow()``/``fail()``.
    """

    def __init__(self) -> None:
        self.behaviour = _Behaviour()
        self.requests = 0
        self._count_lock = threading.Lock()
        self._lock = threading.Lock()  # guards what the subclass stores
        self.port = _free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ok(self) -> None:
        with self.behaviour.lock:
            self.behaviour.delay, self.behaviour.status, self.behaviour.retry_after = 0.0, None, None
            self.behaviour.release.set()
            self.behaviour.release = threading.Event()

    def slow(self, seconds: float) -> None:
        with self.behaviour.lock:
            self.behaviour.delay = seconds

    def fail(self, status: int, retry_after: str | None = None) -> None:
        with self.behaviour.lock:
            self.behaviour.status, self.behaviour.retry_after = status, retry_after

    def _counted(self) -> None:
        with self._count_lock:
            self.requests += 1

    def _behave(self) -> tuple[int | None, str | None]:
        """Wait out an injected delay (``ok()``/``down()`` cut it short); the injected status
        and Retry-After to answer with, as they are after the wait."""
        delay, status, retry_after, release = self.behaviour.snapshot()
        if delay:
            release.wait(delay)
            _, status, retry_after, _ = self.behaviour.snapshot()
        return status, retry_after

    def up(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def down(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        self.ok()
        self.down()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    stand_in: _HttpStandIn


class _Handler(BaseHTTPRequestHandler):
    """Hands each POST to the stand-in that owns the server."""

    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        self.server.stand_in._counted()
        self.server.stand_in._post(self)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


class _KeepAliveHandler(_Handler):
    """HTTP/1.1: a connection stays open for the next request, as Go servers (Tempo, a
    Collector) keep it, so a client's pooled connection is really in use."""

    protocol_version = "HTTP/1.1"


class _HttpStandIn(_Listener):
    """A ``_Listener`` speaking HTTP: a ThreadingHTTPServer whose POSTs go to ``_post``."""

    handler: type[_Handler] = _Handler

    def __init__(self) -> None:
        super().__init__()
        self._server: _Server | None = None
        self.up()

    def _post(self, request: _Handler) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def up(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), self.handler)
        self._server.stand_in = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections are refused until ``up()``."""
        if self._server is not None:
            self.behaviour.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class LokiReceiver(_HttpStandIn):
    """Stands in for Loki's ``/loki/api/v1/push`` (see the module docstring)."""

    def __init__(self) -> None:
        self.entries: list[LokiEntry] = []
        self.pushes: list[dict[str, Any]] = []  # headers (lower-case names) and entry count per push
        self.attempt_times: list[float] = []
        super().__init__()

    def _post(self, request: _Handler) -> None:
        with self._lock:
            self.attempt_times.append(time.monotonic())
        body = request.body()
        status, retry_after = self._behave()
        if request.path != PUSH_PATH:
            request.reply(404, b"404 page not found")
            return
        if status is not None:
            request.reply(status, b"injected failure", {"Retry-After": retry_after} if retry_after else {})
            return
        try:
            entries = parse_push(body, request.headers.get("Content-Encoding"), request.headers.get("Content-Type"))
        except (PushError, ValueError, OSError) as exc:
            request.reply(400, str(exc).encode())
            return
        with self._lock:
            self.entries.extend(entries)
            self.pushes.append({"headers": {k.lower(): v for k, v in request.headers.items()},
                                "count": len(entries)})
        request.reply(204, b"")

    def snapshot(self) -> list[LokiEntry]:
        with self._lock:
            return list(self.entries)

    def lines(self) -> list[dict[str, Any]]:
        return [entry.json for entry in self.snapshot()]


class OtlpGrpcReceiver(_Listener):
    """Stands in for Tempo's OTLP gRPC receiver (TraceService/Export)."""

    def __init__(self) -> None:
        super().__init__()
        self.resource_spans: list[Any] = []
        self.exports: list[tuple[str, list[Any]]] = []  # (the client's address, its ResourceSpans)
        self._server: Any = None
        self.up()

    @property
    def endpoint(self) -> str:
        return self.url

    def up(self) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        receiver = self

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC API
                receiver._counted()
                status, _ = receiver._behave()
                if status is not None:
                    context.abort(_grpc_code(status), "injected failure")
                with receiver._lock:
                    receiver.resource_spans.extend(request.resource_spans)
                    receiver.exports.append((context.peer(), list(request.resource_spans)))
                return trace_service_pb2.ExportTraceServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Servicer(), server)
        server.add_insecure_port(f"127.0.0.1:{self.port}")
        server.start()
        self._server = server

    def down(self) -> None:
        if self._server is not None:
            self.behaviour.release.set()
            self._server.stop(grace=None).wait(5)
            self._server = None

    def spans(self) -> list[Any]:
        """Every received span (protobuf ``Span`` messages)."""
        with self._lock:
            return _spans(self.resource_spans)

    def resources(self) -> list[dict[str, Any]]:
        with self._lock:
            return [attributes(rs.resource) for rs in self.resource_spans]


class OtlpHttpReceiver(_HttpStandIn):
    """Stands in for Tempo's OTLP/HTTP receiver: ``POST /v1/traces`` with a protobuf body, on
    keep-alive connections (``down()`` stops new connections; open ones stay served)."""

    handler = _KeepAliveHandler

    def __init__(self) -> None:
        self.resource_spans: list[Any] = []
        self.exports: list[tuple[str, list[Any]]] = []  # (the client's address, its ResourceSpans)
        self.headers: list[dict[str, str]] = []
        super().__init__()

    @property
    def endpoint(self) -> str:
        return self.url

    def _post(self, request: _Handler) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        body = request.body()
        status, retry_after = self._behave()
        code, reply = 200, trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        if request.path != "/v1/traces":
            code, reply = 404, b""
        elif status is not None:
            code, reply = status, b""
        elif request.headers.get("Content-Type") != "application/x-protobuf":
            code, reply = 415, b""
        else:
            if (request.headers.get("Content-Encoding") or "").lower() == "gzip":
                body = gzip.decompress(body)
            export = trace_service_pb2.ExportTraceServiceRequest()
            export.ParseFromString(body)
            with self._lock:
                self.resource_spans.extend(export.resource_spans)
                self.exports.append(("%s:%s" % request.client_address[:2], list(export.resource_spans)))
                self.headers.append({k.lower(): v for k, v in request.headers.items()})
        headers = {"Retry-After": retry_after} if retry_after and status is not None else {}
        request.reply(code, reply, {**headers, "Content-Type": "application/x-protobuf"})

    def spans(self) -> list[Any]:
        with self._lock:
            return _spans(self.resource_spans)


def _spans(resource_spans: list[Any]) -> list[Any]:
    return [span for rs in resource_spans for ss in rs.scope_spans for span in ss.spans]


def _grpc_code(status: int) -> Any:
    import grpc

    # HTTP-ish numbers map to the gRPC codes a collector would use.
    mapping = {429: grpc.StatusCode.RESOURCE_EXHAUSTED, 500: grpc.StatusCode.INTERNAL,
               503: grpc.StatusCode.UNAVAILABLE, 400: grpc.StatusCode.INVALID_ARGUMENT}
    return mapping.get(status, grpc.StatusCode.UNAVAILABLE)


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def attributes(message: Any) -> dict[str, Any]:
    """The attributes of a protobuf ``Span`` or ``Resource`` as a plain dict."""
    return {kv.key: _any_value(kv.value) for kv in message.attributes}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
