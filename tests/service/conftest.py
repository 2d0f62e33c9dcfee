"""Fixtures for service_obs tests: local Loki/Tempo stand-ins and a settings factory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from receivers import LokiReceiver, OtlpGrpcReceiver  # noqa: E402
from service_obs import ObservabilitySettings, setup_observability  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AGENT_OBS_* or OTLP endpoint from the machine leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("AGENT_OBS_") or name.startswith("OTEL_EXPORTER_OTLP") or name == "OTEL_SERVICE_NAME":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def loki() -> Iterator[LokiReceiver]:
    with LokiReceiver() as receiver:
        yield receiver


@pytest.fixture
def tempo() -> Iterator[OtlpGrpcReceiver]:
    with OtlpGrpcReceiver() as receiver:
        yield receiver


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., ObservabilitySettings]:
    """Settings that write only under tmp_path, with no console output and fast Loki retries."""

    def make(**overrides: Any) -> ObservabilitySettings:
        values: dict[str, Any] = {
            "service_name": "svc-test",
            "environment": "test",
            "trace_file": str(tmp_path / "traces.jsonl"),
            "log_file": str(tmp_path / "logs.jsonl"),
            "log_to_console": False,
            "log_level": "DEBUG",
            "loki_flush_interval": 0.05,
            "loki_min_backoff": 0.02,
            "loki_max_backoff": 0.2,
            "loki_timeout": 2.0,
            "otlp_timeout": 5.0,
        }
        values.update(overrides)
        return ObservabilitySettings(**values)

    return make


@pytest.fixture
def make_obs(make_settings: Callable[..., ObservabilitySettings]) -> Iterator[Callable[..., Any]]:
    """setup_observability(...) whose handles are always shut down after the test."""
    handles: list[Any] = []

    def make(settings: ObservabilitySettings | None = None, **kwargs: Any) -> Any:
        obs = setup_observability(settings if settings is not None else make_settings(), **kwargs)
        handles.append(obs)
        return obs

    yield make
    for obs in handles:
        obs.shutdown(timeout=5)
