"""Importing the packages does no work and pulls in no web/database framework."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys, threading
from opentelemetry import trace
from prometheus_client import REGISTRY
collectors = set(REGISTRY._collector_to_names)
threads = threading.active_count()
import agent_obs, agent_obs.observer, agent_obs.replay, service_obs
from agent_obs import AgentObserver
from service_obs import setup_observability, ObservabilitySettings, traced
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'sqlalchemy', 'starlette', 'uvicorn',
                                                         'matplotlib', 'agent_obs_example', 'service_obs.fastapi'})
assert not heavy, heavy
assert set(REGISTRY._collector_to_names) == collectors, 'registered metrics at import'
assert threading.active_count() == threads, 'started a thread at import'
assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider', 'set a tracer provider at import'
from loguru import logger
assert len(logger._core.handlers) == 1, 'added a loguru sink at import'
print('ok')
"""


def test_import_has_no_side_effects_and_no_framework_imports():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
