"""Fixtures shared by every test: fresh exporters, registries and log sinks, and a leak guard.

Each test gets its own TracerProvider + InMemorySpanExporter (SimpleSpanProcessor, so spans
are exported synchronously), its own CollectorRegistry and a list sink on loguru. The leak
guard fails a test that changes the global tracer provider, prometheus_client's global
REGISTRY or loguru's handlers without undoing it.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from loguru import logger as loguru_logger
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY, CollectorRegistry

from polling import wait_for  # noqa: F401 - re-exported for tests that import it from here


@pytest.fixture(scope="session", autouse=True)
def quiet_loguru():
    """Drop loguru's default stderr handler for the session: tests add the sinks they read."""
    try:
        loguru_logger.remove(0)
    except ValueError:
        pass
    yield


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def log_records() -> list[dict[str, Any]]:
    """Every loguru record emitted during the test, as dicts (level name, message, extra)."""
    records: list[dict[str, Any]] = []

    def sink(message: Any) -> None:
        record = message.record
        records.append(
            {"level": record["level"].name, "message": record["message"], "extra": dict(record["extra"])}
        )

    handler_id = loguru_logger.add(sink, level="TRACE", format="{message}")
    yield records
    loguru_logger.remove(handler_id)


class _DetachFailureCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "Failed to detach context" in text:
            self.messages.append(text)


@pytest.fixture(autouse=True)
def leak_guard():
    """Globals must be unchanged after each test, and no context detach may fail."""
    provider_before = otel_trace.get_tracer_provider()
    collectors_before = set(REGISTRY._collector_to_names)  # noqa: SLF001 - only way to list them
    handlers_before = set(loguru_logger._core.handlers)  # noqa: SLF001
    catcher = _DetachFailureCatcher()
    logging.getLogger("opentelemetry.context").addHandler(catcher)
    yield
    logging.getLogger("opentelemetry.context").removeHandler(catcher)
    assert not catcher.messages, f"OpenTelemetry failed to detach a context: {catcher.messages}"
    assert otel_trace.get_tracer_provider() is provider_before, "global tracer provider changed"
    assert set(REGISTRY._collector_to_names) == collectors_before, "global REGISTRY changed"  # noqa: SLF001
    assert set(loguru_logger._core.handlers) == handlers_before, "loguru handlers leaked"  # noqa: SLF001
