"""AgentObserver construction: a missing tracer provider is reported, wrong arguments get
clear errors (issue 14 items 8 and 9)."""

from __future__ import annotations

import json
import re
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from agent_obs import AgentObserver

ROOT = Path(__file__).resolve().parents[2]

_NO_PROVIDER = '''
import json, logging
records = []

class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())

logging.getLogger("agent_obs").addHandler(Keep())
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from agent_obs import AgentObserver

observer = AgentObserver(registry=CollectorRegistry(), logs=False)
AgentObserver(registry=CollectorRegistry(), logs=False)  # a second one does not warn again
warnings = list(records)
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # set later: the observer's spans appear
FakeListChatModel(responses=["hi"]).invoke("q", config={"callbacks": [observer]})
print(json.dumps({"warnings": warnings, "spans": [s.name for s in exporter.get_finished_spans()]}))
'''


def test_no_tracer_provider_warns_once_and_spans_appear_once_one_is_set():
    done = subprocess.run([sys.executable, "-c", _NO_PROVIDER], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["warnings"]) == 1
    assert "setup_observability" in out["warnings"][0] and "set_tracer_provider" in out["warnings"][0]
    assert out["spans"] == ["chat FakeListChatModel"]


def test_a_given_provider_does_not_warn(tracer_provider, registry, caplog):
    with caplog.at_level(logging.WARNING, logger="agent_obs"):
        AgentObserver(tracer_provider=tracer_provider, registry=registry)
    assert not [r for r in caplog.records if "tracer provider" in r.getMessage()]


@pytest.mark.parametrize("kwargs, parameter", [
    ({"registry": "x"}, "registry"),
    ({"capture_content": "yes"}, "capture_content"),
    ({"tracer_provider": 42}, "tracer_provider"),
    ({"logger": logging.getLogger("app")}, "logger"),
    ({"logger": "loguru"}, "logger"),
    ({"agent_name": 7}, "agent_name"),
    ({"max_content_length": "100"}, "max_content_length"),
    ({"label_limit": 2.5}, "label_limit"),
    ({"max_open_runs": None}, "max_open_runs"),
    ({"run_ttl_seconds": "1h"}, "run_ttl_seconds"),
    ({"redact": "no"}, "redact"),
    ({"metrics": 1}, "metrics"),
    ({"logs": None}, "logs"),
    ({"clock": 3.0}, "clock"),
])
def test_wrong_argument_types_raise_type_error_naming_the_parameter(kwargs, parameter, tracer_provider):
    """Guards issue 14 item 9 (registry="x" failed with "cannot create weak reference to 'str'
    object", capture_content="yes" was accepted, tracer_provider=42 failed later)."""
    kwargs.setdefault("tracer_provider", tracer_provider)
    kwargs.setdefault("registry", CollectorRegistry())
    with pytest.raises(TypeError, match=rf"AgentObserver\({parameter}=\.\.\.\) expects"):
        AgentObserver(**kwargs)


def test_right_arguments_are_accepted(tracer_provider):
    from loguru import logger

    AgentObserver(tracer_provider=tracer_provider, registry=CollectorRegistry(), logger=logger.bind(app="x"),
                  capture_content=False, agent_name="a", max_content_length=100, label_limit=5,
                  max_open_runs=10, run_ttl_seconds=60, redact=False, metrics=True, logs=True)


def test_self_health_counters_exist_at_zero_from_construction(tracer_provider, registry):
    """Guards issue 14 item 3: the counters had no series before their first increment, so
    increase() never saw it and the alerts missed the first handler error or abandoned run."""
    import inspect

    from agent_obs import observer as observer_module
    from agent_obs.observer import CALLBACKS

    AgentObserver(tracer_provider=tracer_provider, registry=registry)
    for callback in CALLBACKS:
        assert registry.get_sample_value("agent_obs_handler_errors_total", {"callback": callback}) == 0.0
    for kind in ("ttl", "cap"):
        assert registry.get_sample_value("agent_obs_abandoned_runs_total", {"kind": kind}) == 0.0
    # every label the observer can count is one of them
    counted = set(re.findall(r'_handler_error\("(on_\w+)"', inspect.getsource(observer_module)))
    assert counted and counted <= set(CALLBACKS)


def test_metrics_off_touches_no_registry(tracer_provider, registry):
    AgentObserver(tracer_provider=tracer_provider, registry=registry, metrics=False)
    assert list(registry.collect()) == []
