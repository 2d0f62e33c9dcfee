"""``setup_observability()``: tracing, metrics and logging for a whole service in one call.

    obs = setup_observability(ObservabilitySettings(service_name="optimizer-agent"))
    graph.invoke(inputs, config={"callbacks": [obs.observer()]})
    obs.shutdown(timeout=5)

It builds a ``TracerProvider`` (Resource with service name/version/environment, a
parent-based ratio sampler, batch export over OTLP gRPC or HTTP to Tempo, or to the OTLP-JSON
trace file when no endpoint is configured, in batches of at most 64 spans every 0.5 s unless
``OTEL_BSP_*`` say otherwise), a fresh Prometheus ``CollectorRegistry`` with
process, platform and GC collectors (serve it with ``service_obs.fastapi.instrument_app``), loguru sinks (console, rotating JSON file, Loki)
with trace context on every record, and, unless ``instrument_http`` is off, client spans for
``requests`` and ``httpx``. Nothing needs a server to run.

The returned :class:`Observability` handle's ``shutdown(timeout)`` flushes everything within
one deadline (default: the ``shutdown_timeout`` setting, 3 s) and undoes what setup did in
reverse order; a second call does nothing. Setting
the global tracer provider (``set_global=True`` or ``set_global_tracer_provider``) is opt-in
because OpenTelemetry does not allow it to be undone within the process.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased
from prometheus_client import CollectorRegistry

from agent_obs import semconv as sc
from agent_obs.metrics import family
from service_obs.deadline import Deadline
from service_obs.forksafe import PerProcessExporter
from service_obs.logging import LoggingHandle, install_logging
from service_obs.settings import ObservabilitySettings, OtelEnvironment

_log = logging.getLogger(__name__)

# Span batches: smaller and more frequent than the SDK's 512 spans / 5 s. A span that waits in
# the queue outlives the garbage collector's young generations and lands in the old one, so
# large batches make full collections (100+ ms pauses in a service the size of the example)
# come several times sooner. 64 spans / 0.5 s gave the best p95 and p99 in
# bench/e2e_service.py; the median pays a little, as the encoding is spread over many
# requests instead of stalling a few. OTEL_BSP_MAX_EXPORT_BATCH_SIZE and
# OTEL_BSP_SCHEDULE_DELAY still win when set.
SPAN_BATCH_SIZE = 64
SPAN_SCHEDULE_DELAY_MS = 500


class Observability:
    """The handle ``setup_observability`` returns: what it built, and how to undo it."""

    def __init__(self, settings: ObservabilitySettings, tracer_provider: TracerProvider,
                 registry: CollectorRegistry, logger: Any) -> None:
        self.settings = settings
        self.tracer_provider = tracer_provider
        self.registry = registry
        self.logger = logger
        self.logging: LoggingHandle | None = None
        self.http: Any = None
        self.is_global = False
        self._undo: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._shut = False
        self._deadline = Deadline(0.0)  # of the shutdown under way: steps that flush share it

    def __enter__(self) -> Observability:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()

    def remaining(self) -> float:
        """Seconds left of the shutdown deadline (for undo steps that flush)."""
        return self._deadline.remaining()

    def observer(self, **overrides: Any) -> Any:
        """An ``AgentObserver`` wired to this handle's provider, registry and logger."""
        from agent_obs import AgentObserver

        options: dict[str, Any] = {
            "tracer_provider": self.tracer_provider,
            "registry": self.registry,
            "logger": self.logger,
            "capture_content": self.settings.capture_content,
        }
        options.update(overrides)
        return AgentObserver(**options)

    def traced(self, name: Any = None, **options: Any) -> Any:
        """``service_obs.traced`` bound to this handle's tracer provider (not the global one);
        ``@obs.traced`` and ``@obs.traced(...)`` both work."""
        from service_obs.tracing import traced

        options.setdefault("tracer_provider", self.tracer_provider)
        return traced(name, **options)

    def tracer(self, name: str = "service_obs") -> trace.Tracer:
        """A tracer from this handle's provider, for the service's own spans."""
        return self.tracer_provider.get_tracer(name)

    def register_undo(self, undo: Callable[[], None]) -> None:
        """Have ``shutdown`` call ``undo``: steps run in reverse order of registration, so what
        is added later (an app, an engine) is undone before what setup itself did. A step that
        flushes reads ``remaining()`` for its share of the deadline."""
        with self._lock:
            if self._shut:
                raise RuntimeError("observability has been shut down")
            self._undo.append(undo)

    def force_flush(self, timeout: float | None = None) -> bool:
        """Export finished spans and send queued log records now, within ``timeout`` seconds
        (default: the ``shutdown_timeout`` setting).

        The handle stays usable. For the moments a process is about to end without running
        ``atexit`` (a worker of ``uvicorn --workers``): ``instrument_app`` calls it on the ASGI
        lifespan shutdown, ``service_obs.gunicorn_hooks`` at worker exit. True when both
        finished in time; after ``shutdown()`` it does nothing and returns True.
        """
        with self._lock:
            if self._shut:
                return True
        deadline = Deadline(self.settings.shutdown_timeout if timeout is None else timeout)
        spans_done = deadline.start(self.tracer_provider.force_flush, "span flush")
        logs_ok = True
        loki = self.logging.loki if self.logging is not None else None
        if loki is not None:
            logs_ok = loki.flush(deadline.remaining())
        spans_ok = deadline.wait(spans_done)
        if not spans_ok:
            _log.warning("span export did not finish within the %.1f s flush deadline", deadline.seconds)
        return spans_ok and logs_ok

    flush = force_flush  # the name the worker hooks use

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush spans and logs within ``timeout`` seconds in total and undo setup; idempotent.

        ``timeout`` defaults to the ``shutdown_timeout`` setting (3 s), one deadline for every
        step, so an application exits within it even when Tempo and Loki do not answer; what
        is not sent by then is reported (one warning each for spans and log records) and lost.
        Everything is undone through one list, in reverse order of registration: apps and
        engines instrumented later, outbound HTTP, then the span flush (started on a helper
        thread) and the log flush side by side, so one slow backend cannot use up the other's
        share of the deadline.
        """
        with self._lock:
            if self._shut:
                return
            self._shut = True
            undo = list(self._undo)
        _live.discard(self)
        self._deadline = Deadline(self.settings.shutdown_timeout if timeout is None else timeout)
        for step in reversed(undo):
            _guarded(step)
        # set_tracer_provider cannot be undone; a global provider stays, shut down.

    def _undo_setup(self) -> None:
        """Register what setup itself did, in the order that makes shutdown's reverse right."""
        spans_done: list[threading.Event] = []

        def start_span_shutdown() -> None:
            spans_done.append(self._deadline.start(self.tracer_provider.shutdown, "tracer provider shutdown"))

        def wait_for_spans() -> None:
            if spans_done and not self._deadline.wait(spans_done[0]):
                _log.warning("span export did not finish within the %.1f s shutdown deadline; unsent spans are lost",
                             self._deadline.seconds)

        self.register_undo(wait_for_spans)
        if self.logging is not None:
            logging_handle = self.logging
            self.register_undo(lambda: logging_handle.uninstall(self.remaining()))
        self.register_undo(start_span_shutdown)
        if self.http is not None:
            self.register_undo(self.http.uninstrument)


_live: "weakref.WeakSet[Observability]" = weakref.WeakSet()


def live_handles() -> list[Observability]:
    """The handles ``setup_observability`` made in this process that are not shut down yet."""
    return list(_live)


def _overall(handles: list[Observability], timeout: float | None) -> Deadline:
    """One deadline for several handles: ``timeout``, else the longest ``shutdown_timeout``."""
    if timeout is None:
        timeout = max((h.settings.shutdown_timeout for h in handles), default=0.0)
    return Deadline(timeout)


def flush_all(timeout: float | None = None) -> bool:
    """``flush()`` every live handle of this process within one deadline (default: the
    longest ``shutdown_timeout`` setting among them)."""
    handles = live_handles()
    deadline = _overall(handles, timeout)
    ok = True
    for handle in handles:
        ok = handle.flush(deadline.remaining()) and ok
    return ok


def shutdown_all(timeout: float | None = None) -> None:
    """``shutdown()`` every live handle of this process within one deadline (default: the
    longest ``shutdown_timeout`` setting among them)."""
    handles = live_handles()
    deadline = _overall(handles, timeout)
    for handle in handles:
        handle.shutdown(deadline.remaining())


def _guarded(step: Callable[[], Any]) -> None:
    try:
        step()
    except Exception:  # noqa: BLE001 - every later shutdown step still runs
        _log.warning("observability shutdown step failed", exc_info=True)


def setup_observability(
    settings: ObservabilitySettings | None = None,
    *,
    set_global: bool | None = None,
    registry: CollectorRegistry | None = None,
    logger: Any = None,
    span_processors: Iterable[SpanProcessor] = (),
    span_exporter: SpanExporter | None = None,
    on_http_error: Callable[[str, str], None] | None = None,
) -> Observability:
    """Set up tracing, metrics and logging; see the module docstring.

    ``registry`` (default: a new ``CollectorRegistry``), ``logger`` (default: loguru's) and
    ``span_exporter`` (default: OTLP or the trace file, from the settings) are injectable;
    ``span_processors`` are added to the provider as they are (e.g. an in-memory exporter).
    ``on_http_error(host, error_type)`` is called for each failed outbound HTTP request, for
    services that keep their own per-API error counter.
    """
    settings = settings if settings is not None else ObservabilitySettings()
    if logger is None:
        from loguru import logger as loguru_logger

        logger = loguru_logger
    registry = registry if registry is not None else CollectorRegistry()
    _add_runtime_collectors(registry)
    provider = _tracer_provider(settings)
    obs = Observability(settings, provider, registry, logger)
    try:
        if settings.enable_tracing:
            exporter = span_exporter if span_exporter is not None else PerProcessExporter(
                lambda: _default_exporter(settings, registry))
            provider.add_span_processor(_batch_processor(exporter, settings.otel))
        for processor in span_processors:
            provider.add_span_processor(processor)
        obs.logging = install_logging(settings, logger=logger, registry=registry)
        if settings.instrument_http:
            from service_obs.http import instrument_http

            obs.http = instrument_http(provider, registry, on_error=on_http_error)
        if set_global if set_global is not None else settings.set_global_tracer_provider:
            trace.set_tracer_provider(provider)
            obs.is_global = trace.get_tracer_provider() is provider
    except Exception:
        obs._undo_setup()  # noqa: SLF001
        obs.shutdown(0.0)
        raise
    obs._undo_setup()  # noqa: SLF001
    _live.add(obs)
    return obs


def _add_runtime_collectors(registry: CollectorRegistry) -> None:
    """Process (memory, CPU, fds), platform and GC metrics, as the global REGISTRY has them.

    The Performance dashboard's memory and CPU panels read ``process_*``; a registry that
    already has them (prometheus_client's global one, or one set up twice) is left alone.
    """
    from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        try:
            collector(registry=registry)
        except ValueError:  # prometheus_client refuses a second collector of the same names
            pass


def _batch_processor(exporter: SpanExporter, otel: OtelEnvironment) -> BatchSpanProcessor:
    """A BatchSpanProcessor with this module's batch defaults where ``OTEL_BSP_*`` are unset.

    The values come from the settings' one reading of the environment (``settings.otel``)
    and are passed explicitly, so the SDK does not read the variables a second time.
    """
    queue_size = otel.bsp_max_queue_size or 2048
    return BatchSpanProcessor(
        exporter,
        max_queue_size=queue_size,
        schedule_delay_millis=otel.bsp_schedule_delay_ms if otel.bsp_schedule_delay_ms is not None
        else SPAN_SCHEDULE_DELAY_MS,
        max_export_batch_size=min(otel.bsp_max_export_batch_size or SPAN_BATCH_SIZE, queue_size),
    )


def _tracer_provider(settings: ObservabilitySettings) -> TracerProvider:
    resource = Resource.create({
        "service.name": settings.service_name,
        "service.version": settings.service_version,
        "deployment.environment.name": settings.environment,
        "deployment.environment": settings.environment,
    })
    sampler = ParentBased(TraceIdRatioBased(settings.trace_sample_rate)) if settings.enable_tracing else ALWAYS_OFF
    return TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=False)


def _default_exporter(settings: ObservabilitySettings, registry: CollectorRegistry) -> SpanExporter:
    endpoint = settings.tempo_endpoint
    if endpoint is None and settings.otel.traces_endpoint is None:
        from agent_obs.otlp_json import OtlpJsonFileExporter

        from agent_obs.otlp_json import DROP_REASONS

        dropped = family(registry, sc.METRIC_DROPPED)
        for reason in DROP_REASONS:  # exported at 0 from the start, so increase() sees the first drop
            dropped.labels("traces", reason)
        return OtlpJsonFileExporter(
            settings.trace_file or sc.DEFAULT_TRACE_FILE,
            on_drop=lambda reason, count: dropped.labels("traces", reason).inc(count),
        )
    protocol = settings.otlp_protocol or settings.otel.protocol or "grpc"
    headers = settings.otlp_headers or None
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        url = None
        if endpoint is not None:
            url = endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"
        return HttpExporter(endpoint=url, headers=headers, timeout=settings.otlp_timeout)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

    insecure = settings.otlp_insecure
    if insecure is None and endpoint is not None:
        insecure = endpoint.startswith("http://")
    return GrpcExporter(endpoint=endpoint, insecure=insecure, headers=headers, timeout=settings.otlp_timeout)
