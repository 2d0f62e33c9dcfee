"""Span export batches: at most 64 spans, at least every 0.5 s, unless OTEL_BSP_* say otherwise.

Why small batches: a span waiting in the queue survives the garbage collector's young
generations, so the SDK's 512-span batches filled the old generation and brought 100+ ms full
collections several times sooner in the example service (bench/e2e_service.py).
"""

from __future__ import annotations

import threading

import pytest
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from polling import wait_for
from service_obs.setup import SPAN_BATCH_SIZE


class RecordingExporter(SpanExporter):
    """Keeps the size of every batch it is given."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self._lock = threading.Lock()

    def export(self, spans) -> SpanExportResult:
        with self._lock:
            self.batches.append(len(spans))
        return SpanExportResult.SUCCESS

    def exported(self) -> int:
        with self._lock:
            return sum(self.batches)


def _end_spans(obs, count: int) -> None:
    tracer = obs.tracer("batching-test")
    for i in range(count):
        tracer.start_span(f"s{i}").end()


@pytest.fixture(autouse=True)
def _no_bsp_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"):
        monkeypatch.delenv(name, raising=False)


def test_default_batches_are_small_and_leave_within_the_half_second(make_obs) -> None:
    exporter = RecordingExporter()
    obs = make_obs(span_exporter=exporter)
    _end_spans(obs, 150)
    # The SDK default (5 s) would miss this deadline for the last 22 spans; no flush is asked.
    wait_for(lambda: exporter.exported() == 150, timeout=3.0, what="150 spans exported without a flush")
    assert max(exporter.batches) == SPAN_BATCH_SIZE == 64
    assert len(exporter.batches) >= 3


def test_otel_bsp_variables_still_win(make_obs, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    exporter = RecordingExporter()
    obs = make_obs(span_exporter=exporter)
    _end_spans(obs, 35)
    wait_for(lambda: exporter.exported() == 35, timeout=3.0, what="35 spans exported")
    assert max(exporter.batches) == 10


def test_a_queue_smaller_than_the_batch_caps_the_batch_instead_of_failing_setup(make_obs, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "16")
    exporter = RecordingExporter()
    obs = make_obs(span_exporter=exporter)
    _end_spans(obs, 10)
    wait_for(lambda: exporter.exported() == 10, timeout=3.0, what="10 spans exported")
    assert max(exporter.batches) <= 16
