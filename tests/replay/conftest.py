"""Fixtures for the replay tests: real recorded runs of a real LangGraph agent.

``record`` runs the tool-calling agent of ``replay_graphs`` under a real ``AgentObserver``
(content capture on) with the shared in-memory exporter *and* the trace-file exporter, so a
test can compare what was written to disk with what the SDK saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agent_obs.otlp_json import OtlpJsonFileExporter

import replay_graphs


class Recorder:
    def __init__(self, tracer_provider: Any, span_exporter: Any, registry: Any, path: Path) -> None:
        self.tracer_provider = tracer_provider
        self.span_exporter = span_exporter
        self.registry = registry
        self.path = path
        self.file_exporter = OtlpJsonFileExporter(path)
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.file_exporter))

    def run(
        self,
        *,
        capture_content: bool = True,
        model: Any = None,
        tools: list[Callable[..., Any]] | None = None,
        inputs: Any = None,
    ) -> Any:
        from agent_obs.observer import AgentObserver

        observer = AgentObserver(
            tracer_provider=self.tracer_provider, registry=self.registry, capture_content=capture_content
        )
        graph = replay_graphs.build_graph(model or replay_graphs.scripted_model(), tools)
        try:
            return graph.invoke(inputs or replay_graphs.inputs(), config={"callbacks": [observer]})
        except Exception as exc:  # noqa: BLE001 - error runs are recorded on purpose
            return exc


@pytest.fixture
def recorder(tracer_provider, span_exporter, registry, tmp_path) -> Recorder:
    return Recorder(tracer_provider, span_exporter, registry, tmp_path / "telemetry" / "traces.jsonl")
