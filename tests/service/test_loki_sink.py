"""LokiSink against LokiReceiver (a stand-in for Loki's /loki/api/v1/push, JSON + gzip)."""

from __future__ import annotations

import logging
import time

import pytest
from loguru import logger
from opentelemetry.sdk.trace import TracerProvider

from conftest_helpers import dropped
from polling import wait_for
from service_obs._records import add_trace_context
from service_obs.loki import LokiSink


@pytest.fixture
def patched_logger():
    """A loguru logger bound to the global core, with trace context patched in per record."""
    return logger.patch(add_trace_context)


def _sink(loki, registry, **kwargs) -> LokiSink:
    options = dict(labels={"service": "svc", "environment": "test"}, registry=registry, flush_interval=0.05,
                   min_backoff=0.02, max_backoff=0.2, timeout=2.0)
    options.update(kwargs)
    return LokiSink(loki.url, **options)


def test_push_format_labels_metadata_and_gzip(loki, registry, patched_logger) -> None:
    sink = _sink(loki, registry)
    handler = logger.add(sink, level="DEBUG", format="{message}")
    try:
        provider = TracerProvider()
        with provider.get_tracer("t").start_as_current_span("work") as span:
            patched_logger.bind(job_id="j-1").warning("hello {}", "world")
        patched_logger.debug("no span here")
        wait_for(lambda: len(loki.snapshot()) == 2)
    finally:
        logger.remove(handler)
        sink.stop(2)
    warn, debug = sorted(loki.snapshot(), key=lambda e: e.labels["level"], reverse=True)
    assert warn.labels == {"service": "svc", "environment": "test", "level": "warning"}
    assert debug.labels["level"] == "debug"
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert warn.metadata == {"trace_id": trace_id, "span_id": format(span.get_span_context().span_id, "016x")}
    assert debug.metadata == {}
    body = warn.json
    assert body["message"] == "hello world" and body["job_id"] == "j-1" and body["trace_id"] == trace_id
    assert body["level"] == "WARNING" and body["function"] == "test_push_format_labels_metadata_and_gzip"
    assert all(p["headers"]["content-encoding"] == "gzip" for p in loki.pushes)
    assert abs(warn.ts_ns / 1e9 - time.time()) < 60


def test_batches_by_size(loki, registry) -> None:
    sink = _sink(loki, registry, batch_size=10, flush_interval=30)
    handler = logger.add(sink, format="{message}")
    try:
        for i in range(30):
            logger.info("line {}", i)
        wait_for(lambda: len(loki.snapshot()) == 30)
        assert [p["count"] for p in loki.pushes] == [10, 10, 10]
    finally:
        logger.remove(handler)
        sink.stop(2)


def test_json_fields_only_for_loki_2_and_flush(loki, registry, patched_logger) -> None:
    sink = _sink(loki, registry, structured_metadata=False, flush_interval=30)
    handler = logger.add(sink, format="{message}")
    with TracerProvider().get_tracer("t").start_as_current_span("s") as span:
        patched_logger.info("x")
    assert sink.flush(timeout=5) is True
    logger.remove(handler)
    sink.stop(1)
    (entry,) = loki.snapshot()
    assert entry.metadata == {}
    assert entry.json["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_tenant_and_basic_auth_headers(loki, registry) -> None:
    sink = _sink(loki, registry, tenant_id="team-a", username="u", password="p")
    handler = logger.add(sink, format="{message}")
    logger.info("x")
    wait_for(lambda: loki.pushes)
    logger.remove(handler)
    sink.stop(2)
    headers = loki.pushes[0]["headers"]
    assert headers["x-scope-orgid"] == "team-a"
    assert headers["authorization"] == "Basic dTpw"


def test_bearer_auth_header(loki, registry) -> None:
    sink = _sink(loki, registry, bearer_token="tok")
    sink(_message("x"))
    sink.stop(2)
    assert loki.pushes[0]["headers"]["authorization"] == "Bearer tok"


def test_4xx_is_dropped_not_retried(loki, registry) -> None:
    loki.fail(400)
    sink = _sink(loki, registry, batch_size=3, flush_interval=30)  # one batch of three, whatever the timing
    for i in range(3):
        sink(_message(f"m{i}"))
    wait_for(lambda: dropped(registry, "rejected") == 3)
    rejected_pushes = loki.requests  # one batch or two, as the worker's timer falls
    loki.ok()
    sink(_message("after"))
    assert sink.flush(5)
    sink.stop(1)
    assert [e.json["message"] for e in loki.snapshot()] == ["after"]
    assert loki.requests == rejected_pushes + 1  # no rejected batch was ever sent again


def test_429_retry_after_is_honoured_then_delivered(loki, registry) -> None:
    loki.fail(429, retry_after="1")
    sink = _sink(loki, registry)
    sink(_message("wait for me"))
    # switch to ok only after the retry arrived: the first attempt is then surely a 429
    wait_for(lambda: len(loki.attempt_times) >= 2, timeout=5)
    loki.ok()
    wait_for(lambda: loki.snapshot(), timeout=5)
    first, second = loki.attempt_times[:2]
    assert second - first >= 0.9  # Retry-After: 1 beats the 0.02 s backoff
    assert dropped(registry, "rejected") == 0
    sink.stop(1)


def test_5xx_and_connection_errors_are_retried(loki, registry) -> None:
    loki.fail(503)
    sink = _sink(loki, registry)
    sink(_message("a"))
    wait_for(lambda: loki.requests >= 3)
    loki.down()
    failed = sink.failed_attempts
    wait_for(lambda: sink.failed_attempts >= failed + 2)  # connection refused, retried
    loki.ok()
    loki.up()
    wait_for(lambda: [e.json["message"] for e in loki.snapshot()] == ["a"])
    sink.stop(1)


def test_queue_full_drops_oldest_and_counts(loki, registry) -> None:
    loki.down()
    sink = _sink(loki, registry, queue_size=5, batch_size=1000, flush_interval=30)
    for i in range(12):
        sink(_message(f"m{i}"))
    assert sink.queued == 5
    assert dropped(registry, "queue_full") == 7
    loki.up()
    sink.stop(3)
    assert [e.json["message"] for e in loki.snapshot()] == [f"m{i}" for i in range(7, 12)]


def test_retries_exhausted_are_counted(loki, registry) -> None:
    loki.fail(500)
    sink = _sink(loki, registry, max_retries=2)
    sink(_message("x"))
    wait_for(lambda: dropped(registry, "retries_exhausted") == 1)
    assert loki.requests == 3
    sink.stop(1)


def test_stop_flushes_within_deadline_and_is_idempotent(loki, registry) -> None:
    sink = _sink(loki, registry, flush_interval=30, batch_size=1000)
    for i in range(50):
        sink(_message(f"m{i}"))
    sink.stop(3)
    assert len(loki.snapshot()) == 50
    pushes, dropped_before = loki.requests, dict(sink.dropped)
    sink.stop(3)  # does nothing: nothing sent, nothing counted
    assert loki.requests == pushes and sink.dropped == dropped_before and not sink._thread.is_alive()
    sink(_message("after stop"))
    assert dropped(registry, "shutdown") == 1


def test_stop_with_dead_backend_respects_deadline(loki, registry) -> None:
    loki.slow(30)
    sink = _sink(loki, registry, timeout=30)
    sink(_message("stuck"))
    wait_for(lambda: loki.requests == 1)
    started = time.monotonic()
    sink.stop(0.5)
    assert time.monotonic() - started < 5.0  # not the 30 s the hung push would take


def _drop_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "service_obs.loki" and r.levelno == logging.WARNING and "were not sent" in r.getMessage()]


def test_exhausted_retries_are_reported_with_count_and_reason(loki, registry, caplog) -> None:
    """The retry chatter ("push failed; retrying") must not swallow the report of lost records."""
    caplog.set_level(logging.WARNING, logger="service_obs.loki")
    loki.fail(503)
    sink = _sink(loki, registry, max_retries=2, batch_size=1000, flush_interval=30)
    for i in range(4):
        sink(_message(f"m{i}"))
    sink.flush(0)  # wake the worker: one batch of four
    wait_for(lambda: dropped(registry, "retries_exhausted") == 4)
    wait_for(lambda: _drop_warnings(caplog))
    sink.stop(1)
    (warning,) = _drop_warnings(caplog)
    assert "4 log records were not sent" in warning and "4 given up after exhausted retries" in warning
    assert "HTTP 503" in warning
    assert sink.dropped == {"retries_exhausted": 4}


def test_records_left_at_shutdown_get_one_warning(loki, registry, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="service_obs.loki")
    loki.slow(30)
    sink = _sink(loki, registry, timeout=30, batch_size=2, flush_interval=30)
    for i in range(2):
        sink(_message(f"sending {i}"))
    wait_for(lambda: loki.requests == 1)  # the first batch hangs in the push
    for i in range(3):
        sink(_message(f"queued {i}"))
    sink.stop(0.3)
    sink.stop(0.3)  # a second stop reports nothing new
    (warning,) = _drop_warnings(caplog)
    assert "5 log records were not sent" in warning and "3 left unsent at shutdown" in warning
    assert "2 still being sent at the shutdown deadline" in warning


def _message(text: str):
    """A real loguru message, captured from a throwaway handler."""
    captured = []
    handler = logger.add(captured.append, format="{message}")
    logger.info(text)
    logger.remove(handler)
    return captured[0]
