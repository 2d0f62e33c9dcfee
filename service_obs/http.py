"""Outbound HTTP (requests and httpx): client spans, W3C propagation, per-host metrics.

``instrument_http(tracer_provider, registry)`` turns on opentelemetry-instrumentation-requests
and -httpx, which start a CLIENT span per request and inject ``traceparent``, and returns an
``HttpInstrumentation`` whose ``uninstrument()`` undoes it. The instrumentations measure every
request (sampled or not) through an OpenTelemetry meter; a small bridge meter provider turns
those measurements into two Prometheus families on ``registry``:

- ``http_client_request_duration_seconds{host,method,status_code}`` (histogram)
- ``http_client_errors_total{host,error_type}`` (counter): ``error_type`` is the status code
  for responses >= 400, or, for failures without a response, the exception's
  ``agent_obs.errors.error_type`` (``httpx.ConnectError``,
  ``requests.exceptions.ConnectionError``): counted by thin wrappers around the libraries'
  transports, where the exception itself is seen.

``on_error`` (optional) is called with ``(host, error_type)`` for every error, so a service
can keep its own named counter (the example derives ``dremio_api_errors_total``). The host
label is capped: past ``host_limit`` distinct hosts, new ones become ``_other``.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.metrics import Histogram, Meter, MeterProvider, NoOpMeter
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry

from agent_obs import semconv as sc
from agent_obs.errors import error_type
from agent_obs.metrics import Children, LabelCap, family

_log = logging.getLogger(__name__)


# The instrumentations' histograms: new semantic conventions (seconds), old ones (milliseconds).
_DURATION_INSTRUMENTS = {"http.client.request.duration": 1.0, "http.client.duration": 0.001}
_HOST_KEYS = ("server.address", "net.peer.name", "http.host")
_METHOD_KEYS = ("http.request.method", "http.method")
_STATUS_KEYS = ("http.response.status_code", "http.status_code")
# httpx's instrumentation leaves the host out of its old-convention metric attributes; its
# request hook runs in the same context just before the measurement, so it leaves it here.
_httpx_host: contextvars.ContextVar[str | None] = contextvars.ContextVar("agent_obs_httpx_host", default=None)


def _remember_httpx_host(span: Any, request: Any) -> None:
    try:
        _httpx_host.set(getattr(request.url, "host", None) or None)
    except Exception:  # noqa: BLE001 - a hook must never break the request
        pass


async def _remember_httpx_host_async(span: Any, request: Any) -> None:
    _remember_httpx_host(span, request)


class HttpClientMetrics:
    """The two Prometheus families and the error hook; fed by ``record``."""

    def __init__(self, registry: CollectorRegistry, *, host_limit: int = 100,
                 on_error: Callable[[str, str], None] | None = None) -> None:
        self.duration = family(registry, sc.METRIC_HTTP_CLIENT_DURATION)
        self.errors = family(registry, sc.METRIC_HTTP_CLIENT_ERRORS)
        self._host = LabelCap(host_limit)
        self._on_error = on_error
        self._duration = Children(self.duration)

    def record(self, seconds: float, attributes: dict[str, Any]) -> None:
        host = self._host(str(_first(attributes, _HOST_KEYS) or _httpx_host.get() or "unknown"))
        method = str(_first(attributes, _METHOD_KEYS) or "_OTHER")
        status = _first(attributes, _STATUS_KEYS)
        status_text = str(status) if status is not None else ""
        self._duration(host, method, status_text).observe(seconds)
        # Failures without a response are counted by the transport wrappers, which see the
        # exception itself (the instrumentations only pass its short class name).
        if status is not None and int(status) >= 400:
            self._error(host, status_text)

    def record_failure(self, host: str, error_type: str) -> None:
        """A request that ended without a response (httpx reports these separately)."""
        self._error(self._host(host), error_type)

    def _error(self, host: str, error_type: str) -> None:
        self.errors.labels(host, error_type).inc()
        if self._on_error is not None:
            self._on_error(host, error_type)


def _first(attributes: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None


class _BridgeHistogram(Histogram):
    def __init__(self, metrics: HttpClientMetrics, scale: float) -> None:
        super().__init__("bridge")
        self._metrics = metrics
        self._scale = scale

    def record(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        try:
            self._metrics.record(float(amount) * self._scale, dict(attributes or {}))
        except Exception:  # noqa: BLE001 - a metric must never break an HTTP call
            _log.debug("could not record an HTTP client measurement", exc_info=True)


class _BridgeMeter(NoOpMeter):
    def __init__(self, metrics: HttpClientMetrics) -> None:
        super().__init__("service_obs.http")
        self._metrics = metrics

    def create_histogram(self, name: str, unit: str = "", description: str = "", **kwargs: Any) -> Histogram:
        scale = _DURATION_INSTRUMENTS.get(name)
        if scale is None:
            return super().create_histogram(name, unit, description, **kwargs)
        return _BridgeHistogram(self._metrics, scale)


class BridgeMeterProvider(MeterProvider):
    """Hands the HTTP client instrumentations a meter that writes to Prometheus."""

    def __init__(self, metrics: HttpClientMetrics) -> None:
        self._meter = _BridgeMeter(metrics)

    def get_meter(self, name: str, version: str | None = None, schema_url: str | None = None,
                  attributes: Any = None) -> Meter:
        return self._meter


def _wrap_transport_failures(metrics: HttpClientMetrics, libraries: set[str]) -> Callable[[], None] | None:
    """Count failures without a response (``error_type`` = the exception's class name by
    ``agent_obs.errors.error_type``) at the transports of ``libraries`` ("httpx", "requests").

    The transports are below the instrumentations' own wrappers (``Client.send``,
    ``Session.send``), so unwrapping either never removes the other.
    """
    try:
        from wrapt import wrap_function_wrapper
    except ImportError:
        return None

    def host_of(request: Any) -> str:
        url = getattr(request, "url", None)
        host = getattr(url, "host", None)  # httpx.URL
        if host is None and isinstance(url, str):  # requests.PreparedRequest
            from urllib.parse import urlsplit

            host = urlsplit(url).hostname
        return host or "unknown"

    def count(request: Any, exc: BaseException) -> None:
        try:
            metrics.record_failure(host_of(request), error_type(exc))
        except Exception:  # noqa: BLE001
            _log.debug("could not count an HTTP failure", exc_info=True)

    def sync_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            return wrapped(*args, **kwargs)
        except Exception as exc:
            count(args[0] if args else kwargs.get("request"), exc)
            raise

    async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        except Exception as exc:
            count(args[0] if args else kwargs.get("request"), exc)
            raise

    wrapped: list[tuple[Any, str]] = []
    if "httpx" in libraries:
        import httpx

        wrap_function_wrapper(httpx.HTTPTransport, "handle_request", sync_wrapper)
        wrap_function_wrapper(httpx.AsyncHTTPTransport, "handle_async_request", async_wrapper)
        wrapped += [(httpx.HTTPTransport, "handle_request"), (httpx.AsyncHTTPTransport, "handle_async_request")]
    if "requests" in libraries:
        from requests.adapters import HTTPAdapter

        wrap_function_wrapper(HTTPAdapter, "send", sync_wrapper)
        wrapped.append((HTTPAdapter, "send"))

    def undo() -> None:
        from opentelemetry.instrumentation.utils import unwrap

        for owner, name in wrapped:
            unwrap(owner, name)

    return undo


class HttpInstrumentation:
    """What ``instrument_http`` turned on; ``uninstrument()`` turns it off (idempotent)."""

    def __init__(self, instrumentors: list[Any], metrics: HttpClientMetrics,
                 undo: list[Callable[[], None]] | None = None) -> None:
        self.instrumentors = instrumentors
        self.metrics = metrics
        self._undo = undo or []

    def uninstrument(self) -> None:
        while self._undo:
            try:
                self._undo.pop()()
            except Exception:  # noqa: BLE001 - shutdown continues whatever happens
                _log.warning("could not remove an HTTP wrapper", exc_info=True)
        while self.instrumentors:
            instrumentor = self.instrumentors.pop()
            try:
                instrumentor.uninstrument()
            except Exception:  # noqa: BLE001 - shutdown continues whatever happens
                _log.warning("could not uninstrument %s", type(instrumentor).__name__, exc_info=True)


def instrument_http(
    tracer_provider: TracerProvider,
    registry: CollectorRegistry,
    *,
    on_error: Callable[[str, str], None] | None = None,
    host_limit: int = 100,
) -> HttpInstrumentation:
    """Instrument ``requests`` and ``httpx`` (whichever is installed) for this process.

    The instrumentations patch the libraries process-wide; if another component already
    instrumented one of them, it is left as it is and not uninstrumented later.
    """
    metrics = HttpClientMetrics(registry, host_limit=host_limit, on_error=on_error)
    meter_provider = BridgeMeterProvider(metrics)
    instrumentors: list[Any] = []
    httpx_hooks = {"request_hook": _remember_httpx_host, "async_request_hook": _remember_httpx_host_async}
    for module, cls_name, hooks in (
        ("opentelemetry.instrumentation.requests", "RequestsInstrumentor", {}),
        ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor", httpx_hooks),
    ):
        try:
            instrumentor_cls = getattr(__import__(module, fromlist=[cls_name]), cls_name)
        except ImportError:
            continue
        instrumentor = instrumentor_cls()
        if instrumentor.is_instrumented_by_opentelemetry:
            _log.info("%s already instrumented; leaving it alone", cls_name)
            continue
        try:
            instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, **hooks)
        except Exception:  # noqa: BLE001 - e.g. the HTTP library itself is not installed
            _log.warning("could not instrument with %s", cls_name, exc_info=True)
            continue
        instrumentors.append(instrumentor)
    undo: list[Callable[[], None]] = []
    names = {type(i).__name__ for i in instrumentors}
    libraries = {lib for lib, cls in (("httpx", "HTTPXClientInstrumentor"), ("requests", "RequestsInstrumentor"))
                 if cls in names}
    unwrap_transports = _wrap_transport_failures(metrics, libraries) if libraries else None
    if unwrap_transports is not None:
        undo.append(unwrap_transports)
    return HttpInstrumentation(instrumentors, metrics, undo)
