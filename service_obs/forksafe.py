"""Telemetry that survives a fork: exporters built again in each process.

Servers that fork workers after the application was loaded (gunicorn ``--preload``, or any
``os.fork()`` after ``setup_observability``) hand every child a copy of the parent's
objects, but not its threads, and sockets or gRPC channels that must not be shared. What
each part does about it:

- The span batch processor: the OpenTelemetry SDK re-creates its worker thread in the child
  (``os.register_at_fork``), and drops the parent's queued spans there (the parent exports them).
- The span exporter ``setup_observability`` builds (OTLP gRPC or HTTP, or the trace file) is
  wrapped in :class:`PerProcessExporter`: the first export in a new process builds a fresh one,
  so a child never writes through the parent's channel, connection pool or file handle.
- The Loki sink re-creates its worker thread, locks and an empty queue in the child
  (``service_obs.loki``).
- prometheus_client's multiprocess values notice the new pid and open their own files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class PerProcessExporter(SpanExporter):
    """A span exporter made by ``factory`` once per process (again after a fork).

    Calls arrive from the batch processor's single worker thread (and its flushes, which it
    serialises), so the pid check needs no lock; a lock held by a parent thread at fork time
    would stay held forever in the child.
    """

    def __init__(self, factory: Callable[[], SpanExporter]) -> None:
        self._factory = factory
        self._pid = os.getpid()
        self._exporter = factory()
        # A parent's exporter is never used, shut down or garbage-collected in a child:
        # closing a gRPC channel or a pooled socket there would close it for the parent.
        self._inherited: list[SpanExporter] = []

    @property
    def exporter(self) -> SpanExporter:
        """The exporter of the calling process."""
        pid = os.getpid()
        if pid != self._pid:
            self._inherited.append(self._exporter)
            self._exporter = self._factory()
            self._pid = pid
        return self._exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export(spans)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def __getattr__(self, name: str) -> Any:
        # What the wrapped exporter offers besides the SpanExporter API (e.g. a file path).
        if name.startswith("__") or name in ("_factory", "_pid", "_exporter", "_inherited"):
            raise AttributeError(name)
        return getattr(self.exporter, name)
