"""Fixtures for the worked example: an observability handle wired to the test's exporter, and the app.

The Dremio stand-in (``agent_obs_example.standin``) plays Dremio's REST API on 127.0.0.1;
the scripted chat model plays the LLM. Everything else is real: LangGraph, SQLite through
SQLAlchemy, FastAPI, the OpenTelemetry SDK and prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_obs_example.app import create_app
from agent_obs_example.settings import OptimizerSettings


@pytest.fixture
def obs(tmp_path: Path, span_exporter: InMemorySpanExporter, registry: Any) -> Iterator[Any]:
    from service_obs import ObservabilitySettings, setup_observability

    settings = ObservabilitySettings(service_name="optimizer-test", trace_file=str(tmp_path / "traces.jsonl"),
                                     log_file=None, log_to_console=False, capture_content=True,
                                     log_level="DEBUG")
    handle = setup_observability(settings, registry=registry, span_processors=[SimpleSpanProcessor(span_exporter)],
                                 span_exporter=InMemorySpanExporter())
    yield handle
    handle.shutdown(5)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'optimizer.db'}"


@pytest.fixture
def client(obs: Any, database_url: str) -> Iterator[TestClient]:
    app = create_app(OptimizerSettings(database_url=database_url), obs=obs)
    with TestClient(app) as test_client:
        yield test_client


class Jobs:
    """The sample jobs by the behaviour each one exercises."""

    JOB_FULL_SCAN = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b001"    # needs approval (reflection on 1.2B rows)
    JOB_JOIN = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b002"         # needs approval (join rewrite)
    JOB_SKEW = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b003"         # completes without approval
    JOB_SMALL_FILES = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b004"  # completes, three issues
    JOB_HEALTHY = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b006"      # no issues: no LLM call
    JOB_FLAKY = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b007"        # stand-in answers 503 first: fetch_job retries
    JOB_EXPLAIN_FAILS = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b008"  # explain_plan tool fails


@pytest.fixture
def jobs() -> type[Jobs]:
    return Jobs
