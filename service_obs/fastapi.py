"""``instrument_app(app, obs)``: server spans, RED metrics and ``GET /metrics`` for FastAPI.

- Server spans come from opentelemetry-instrumentation-fastapi on ``obs.tracer_provider``
  (one instrumentation of this app object; FastAPI's built-in telemetry sees the contrib
  middleware and stands down, so there is one SERVER span per request). ``/metrics`` and
  health routes are excluded from tracing (``excluded_urls``, comma-separated regexes). The
  ASGI ``http send``/``http receive`` spans (one per message, children of the server span)
  are left out unless ``send_receive_spans`` (default: the ``http_send_receive_spans``
  setting, off) asks for them: they are a tenth of a typical request's spans, and their
  timing is already the server span's.
- RED metrics on ``obs.registry``, labelled with the route template (``/jobs/{job_id}``,
  never the raw path; plain Starlette routes such as ``/metrics``, ``/docs`` and
  ``/openapi.json`` by their path; ``unmatched`` only when no route matched, a 404): ``http_server_requests_total{method,route,
  status_code}`` and ``http_server_request_duration_seconds{method,route,status_code}``, the
  latter with trace exemplars. They are recorded just before the last body message goes to
  the server, so a client that has the whole response (and scrapes ``/metrics`` at once,
  perhaps from another worker) finds its request counted.
- ``GET /metrics`` serves ``obs.registry`` with content negotiation (OpenMetrics with
  exemplars when Prometheus asks for it, classic text otherwise). With several worker
  processes and ``PROMETHEUS_MULTIPROC_DIR`` set, it serves the sum over all workers
  instead (``service_obs.multiprocess``; no exemplars in that mode).
- On the ASGI lifespan shutdown, ``obs.flush()`` runs before the server is told the app has
  stopped: workers of ``uvicorn --workers N`` exit without ``atexit`` handlers, so spans and
  log records still queued would otherwise be lost at every worker stop.

Call it before the app starts serving. ``uninstrument()`` on the returned handle (also run by
``obs.shutdown()``) removes the middleware, the route and the instrumentation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from agent_obs import semconv as sc
from agent_obs.metrics import Children, LabelCap, family
from agent_obs.shortcuts import app_instrumented
from service_obs._records import current_trace_ids
from service_obs.metrics_endpoint import render_metrics
from service_obs.multiprocess import exposition_registry

_log = logging.getLogger(__name__)

DEFAULT_EXCLUDED_URLS = "/metrics$,/health$,/healthz$,/livez$,/readyz$,/ready$"
UNMATCHED_ROUTE = "unmatched"
INTERNAL_SPANS = ("send", "receive")  # the ASGI instrumentation's per-message spans


class _RedMetricsMiddleware:
    """Pure ASGI middleware: request count and duration by method, route template, status;
    and a flush of the telemetry on the lifespan shutdown, before the server reports it done."""

    def __init__(self, app: Any, *, requests: Any, duration: Any, route_limit: int = 200,
                 on_shutdown: Callable[[], Any] | None = None) -> None:
        self.app = app
        self.requests = Children(requests)
        self.duration = Children(duration)
        self.route_cap = LabelCap(route_limit)
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" and self.on_shutdown is not None:
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        root_path = scope.get("root_path", "")  # a Mount rewrites it on the way down
        ids = current_trace_ids()  # the server span's: the tracing middleware wraps this one
        state: dict[str, Any] = {"code": 500, "recorded": False}

        def record() -> None:
            if not state["recorded"]:
                state["recorded"] = True
                self._record(scope, state["code"], time.perf_counter() - start, root_path, ids)

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["code"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Counted before the last byte leaves: a client that has the whole response
                # and scrapes at once (maybe another worker answers) finds it counted.
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            record()  # no complete response (an error, a disconnect): counted as it ends

    def _lifespan_send(self, send: Any) -> Any:
        on_shutdown = self.on_shutdown

        async def lifespan_send(message: dict[str, Any]) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                # A worker of `uvicorn --workers` exits right after this without running
                # atexit: whatever is still queued must leave now.
                try:
                    await asyncio.to_thread(on_shutdown)
                except Exception:  # noqa: BLE001 - the server's shutdown goes on
                    _log.warning("could not flush telemetry on shutdown", exc_info=True)
            await send(message)

        return lifespan_send

    def _record(self, scope: dict[str, Any], status_code: int, seconds: float, root_path: str,
                ids: tuple[str, str] | None) -> None:
        try:
            template = _route_template(scope, root_path)
            label_route = self.route_cap(template) if template else UNMATCHED_ROUTE
            method = scope.get("method", "_OTHER")
            labels = (method, label_route, str(status_code))
            self.requests(*labels).inc()
            exemplar = {"trace_id": ids[0], "span_id": ids[1]} if ids else None
            self.duration(*labels).observe(seconds, exemplar=exemplar)
        except Exception:  # noqa: BLE001 - metrics never break a request
            _log.debug("could not record HTTP server metrics", exc_info=True)


def _route_template(scope: dict[str, Any], root_path: str) -> str | None:
    """The template of the route that served ``scope``; None when no route matched (a 404).

    FastAPI's own routes put themselves in ``scope["route"]``; Starlette routes (``/metrics``,
    ``/docs``, ``/openapi.json``, ``add_route``) do not, so they are matched again against the
    router, the way it matched them (a method mismatch, a 405, still names its route).
    """
    route = scope.get("route")
    if route is None:
        router = scope.get("router")
        if router is None:
            return None
        from starlette.routing import Match

        partial = None
        request_scope = {**scope, "root_path": root_path}
        for candidate in getattr(router, "routes", ()):
            match, _ = candidate.matches(request_scope)
            if match is Match.FULL:
                route = candidate
                break
            if match is Match.PARTIAL and partial is None:
                partial = candidate
        route = route or partial
    return getattr(route, "path_format", None) or getattr(route, "path", None)


class AppInstrumentation:
    """What ``instrument_app`` added to one app; ``uninstrument()`` removes it (idempotent)."""

    def __init__(self, app: Any, middleware: Any, route: Any) -> None:
        self.app = app
        self._middleware = middleware
        self._route = route
        self._done = False

    def uninstrument(self) -> None:
        if self._done:
            return
        self._done = True
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        app = self.app
        try:
            if self._middleware in app.user_middleware:
                app.user_middleware.remove(self._middleware)
            if self._route in app.router.routes:
                app.router.routes.remove(self._route)
            FastAPIInstrumentor.uninstrument_app(app)
        except Exception:  # noqa: BLE001 - shutdown continues
            _log.warning("could not uninstrument the FastAPI app", exc_info=True)


def instrument_app(
    app: Any,
    obs: Any,
    *,
    metrics_path: str | None = "/metrics",
    excluded_urls: str = DEFAULT_EXCLUDED_URLS,
    send_receive_spans: bool | None = None,
) -> AppInstrumentation:
    """Instrument ``app`` with ``obs``'s tracer provider and registry; see the module docstring."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from starlette.middleware import Middleware

    if app_instrumented(app):
        raise RuntimeError("this FastAPI app is already instrumented")
    registry = obs.registry
    requests = family(registry, sc.METRIC_HTTP_SERVER_REQUESTS)
    duration = family(registry, sc.METRIC_HTTP_SERVER_DURATION)
    route = None
    if metrics_path:
        from starlette.responses import Response

        served = exposition_registry(registry)

        async def metrics(request: Any) -> Any:
            body, content_type = render_metrics(served, request.headers.get("accept"))
            return Response(content=body, headers={"Content-Type": content_type})

        app.add_route(metrics_path, metrics, methods=["GET"], include_in_schema=False)
        route = app.router.routes[-1]
    flush = getattr(obs, "flush", None)
    middleware = Middleware(_RedMetricsMiddleware, requests=requests, duration=duration, on_shutdown=flush)
    app.user_middleware.insert(0, middleware)
    app.middleware_stack = None
    if send_receive_spans is None:
        settings = getattr(obs, "settings", None)
        send_receive_spans = bool(getattr(settings, "http_send_receive_spans", False))
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=obs.tracer_provider, excluded_urls=excluded_urls,
        exclude_spans=None if send_receive_spans else list(INTERNAL_SPANS),
    )
    handle = AppInstrumentation(app, middleware, route)
    obs.register_undo(handle.uninstrument)
    return handle
