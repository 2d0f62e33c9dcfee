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
    """Start/stop a server on a fixed port so ``down()``/``up()`` keep the URL stable."""

    port: int

    def __init__(self) -> None:
        self.behaviour = _Behaviour()
        self.requests = 0
        self._count_lock = threading.Lock()

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

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class LokiReceiver(_Listener):
    """Stands in for Loki's ``/loki/api/v1/push`` (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[LokiEntry] = []
        self.pushes: list[dict[str, Any]] = []  # headers (lower-case names) and entry count per push
        self.attempt_times: list[float] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = _free_port()
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                receiver._counted()
                with receiver._lock:
                    receiver.attempt_times.append(time.monotonic())
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                delay, status, retry_after, release = receiver.behaviour.snapshot()
                if delay:
                    release.wait(delay)
                    delay, status, retry_after, _ = receiver.behaviour.snapshot()
                if self.path != PUSH_PATH:
                    self._reply(404, b"404 page not found")
                    return
                if status is not None:
                    headers = {"Retry-After": retry_after} if retry_after else {}
                    self._reply(status, b"injected failure", headers)
                    return
                try:
                    entries = parse_push(body, self.headers.get("Content-Encoding"),
                                         self.headers.get("Content-Type"))
                except (PushError, ValueError, OSError) as exc:
                    self._reply(400, str(exc).encode())
                    return
                with receiver._lock:
                    receiver.entries.extend(entries)
                    receiver.pushes.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                            "count": len(entries)})
                self._reply(204, b"")

            def _reply(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until ``up()``."""
        if self._server is not None:
            self.behaviour.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.ok()
        self.down()

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
        self._lock = threading.Lock()
        self._server: Any = None
        self.port = _free_port()
        self.up()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    url = endpoint

    def up(self) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        receiver = self

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC API
                receiver._counted()
                delay, status, _, release = receiver.behaviour.snapshot()
                if delay:
                    release.wait(delay)
                    _, status, _, _ = receiver.behaviour.snapshot()
                if status is not None:
                    context.abort(_grpc_code(status), "injected failure")
                with receiver._lock:
                    receiver.resource_spans.extend(request.resource_spans)
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

    def close(self) -> None:
        self.ok()
        self.down()

    def spans(self) -> list[Any]:
        """Every received span (protobuf ``Span`` messages)."""
        with self._lock:
            return [span for rs in self.resource_spans for ss in rs.scope_spans for span in ss.spans]

    def resources(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{kv.key: _any_value(kv.value) for kv in rs.resource.attributes} for rs in self.resource_spans]


class OtlpHttpReceiver(_Listener):
    """Stands in for Tempo's OTLP/HTTP receiver: ``POST /v1/traces`` with a protobuf body."""

    def __init__(self) -> None:
        super().__init__()
        self.resource_spans: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = _free_port()
        self.up()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    url = endpoint

    def up(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                receiver._counted()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                delay, status, retry_after, release = receiver.behaviour.snapshot()
                if delay:
                    release.wait(delay)
                    _, status, retry_after, _ = receiver.behaviour.snapshot()
                code, reply = 200, trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                if self.path != "/v1/traces":
                    code, reply = 404, b""
                elif status is not None:
                    code, reply = status, b""
                elif self.headers.get("Content-Type") != "application/x-protobuf":
                    code, reply = 415, b""
                else:
                    if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                        body = gzip.decompress(body)
                    request = trace_service_pb2.ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    with receiver._lock:
                        receiver.resource_spans.extend(request.resource_spans)
                        receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(code)
                if retry_after and status is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self.behaviour.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.ok()
        self.down()

    def spans(self) -> list[Any]:
        with self._lock:
            return [span for rs in self.resource_spans for ss in rs.scope_spans for span in ss.spans]


def _grpc_code(status: int) -> Any:
    import grpc

    # HTTP-ish numbers map to the gRPC codes a collector would use.
    mapping = {429: grpc.StatusCode.RESOURCE_EXHAUSTED, 500: grpc.StatusCode.INTERNAL,
               503: grpc.StatusCode.UNAVAILABLE, 400: grpc.StatusCode.INVALID_ARGUMENT}
    return mapping.get(status, grpc.StatusCode.UNAVAILABLE)


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
