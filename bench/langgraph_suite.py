"""LangGraph's own test suite with an AgentObserver on every run: a pytest plugin, and its summary.

Why: LangGraph's tests exercise far more graph shapes (subgraphs, ``Send``, interrupts,
``Command.PARENT``, retries, cancellation, every stream mode and the v3 event streams) than
ours. Injected into every LangChain run of that suite, the observer must change no test's
outcome, swallow no callback error, and leave a consistent span tree: no span whose parent
never ends, no run left open that LangGraph ended.

How: the plugin registers the observer as an inheritable handler through langchain-core's
``register_configure_hook``, so every ``CallbackManager.configure`` (every graph run) gets it
without touching the tests. After each test it writes one JSON line: spans by kind, spans
whose parent is not among them, handoff/interrupted/error spans, open runs, swallowed handler
errors and ERROR records of ``agent_obs``/``opentelemetry.context`` (detach errors).
LangGraph's tests come from the PyPI sdist of the installed version (they are not in the
wheel), run in their own venv with their test dependencies; nothing of them is kept here::

    pip download --no-deps --no-binary :all: langgraph==$(pip show langgraph | sed -n 's/^Version: //p')
    tar xzf langgraph-*.tar.gz && cd langgraph-*/
    NO_DOCKER=true python -m pytest -q -o addopts= tests                      # without
    NO_DOCKER=true AGENT_OBS_SUITE_OUT=/tmp/suite.jsonl PYTHONPATH=$REPO/bench \\
        python -m pytest -q -o addopts= -p langgraph_suite tests               # with
    python $REPO/bench/langgraph_suite.py /tmp/suite.jsonl                     # summary
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from contextvars import ContextVar
from typing import Any

_HOOK: ContextVar[Any] = ContextVar("agent_obs_langgraph_suite", default=None)
_state: dict[str, Any] = {}


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def pytest_configure(config: Any) -> None:
    from langchain_core.tracers.context import register_configure_hook
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry

    from agent_obs import AgentObserver

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    registry = CollectorRegistry()
    observer = AgentObserver(tracer_provider=provider, registry=registry, logs=False)
    register_configure_hook(_HOOK, inheritable=True)
    errors = _ErrorRecords()
    for name in ("agent_obs", "opentelemetry.context"):
        logging.getLogger(name).addHandler(errors)
    _state.update(exporter=exporter, registry=registry, observer=observer, errors=errors, ids=set(), parents=[],
                  out=open(os.environ.get("AGENT_OBS_SUITE_OUT", "langgraph-suite.jsonl"), "w"))


def _handler_errors() -> float:
    return sum(sample.value for metric in _state["registry"].collect()
               if metric.name.startswith("agent_obs_handler_errors")
               for sample in metric.samples if sample.name.endswith("_total"))


def pytest_runtest_setup(item: Any) -> None:
    _HOOK.set(_state["observer"])  # async runners may start tests in a copied context
    _state["exporter"].clear()
    _state["errors"].messages.clear()
    _state["handler_errors"] = _handler_errors()


def pytest_runtest_teardown(item: Any) -> None:
    spans = _state["exporter"].get_finished_spans()
    ids = {span.context.span_id for span in spans}
    _state["ids"].update(ids)
    outside = [(item.nodeid, span.name, span.parent.span_id) for span in spans
               if span.parent is not None and span.parent.span_id not in ids]
    _state["parents"].extend(outside)
    row = {
        "test": item.nodeid,
        "spans": len(spans),
        "kinds": dict(Counter(span.name.split(" ", 1)[0] for span in spans)),
        "parent_elsewhere": [name for _, name, _ in outside],
        "handoffs": sum(1 for span in spans if "langgraph.handoff.destination" in span.attributes),
        "interrupted": sum(1 for span in spans if span.attributes.get("langgraph.interrupted")),
        "errors": sum(1 for span in spans if span.status.status_code.name == "ERROR"),
        "open_runs": _state["observer"].open_runs,
        "handler_errors": _handler_errors() - _state["handler_errors"],
        "error_records": list(_state["errors"].messages),
    }
    _state["out"].write(json.dumps(row) + "\n")


def pytest_unconfigure(config: Any) -> None:
    if "out" not in _state:
        return
    import gc

    gc.collect()  # abandoned generators end their runs now
    _state["ids"].update(span.context.span_id for span in _state["exporter"].get_finished_spans())
    orphans = [[test, name] for test, name, parent in _state["parents"] if parent not in _state["ids"]]
    _state["out"].write(json.dumps({"session": True, "orphans": orphans,
                                    "open_runs_at_exit": _state["observer"].open_runs}) + "\n")
    _state["out"].close()


def summarize(path: str) -> dict[str, Any]:
    """Totals over a plugin's JSON lines."""
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    session = next((row for row in rows if row.get("session")), {})
    tests = [row for row in rows if not row.get("session")]
    kinds: Counter[str] = Counter()
    for row in tests:
        kinds.update(row["kinds"])
    opened, previous = [], 0
    for row in tests:
        if row["open_runs"] > previous:
            opened.append(row["test"])
        previous = row["open_runs"]
    return {
        "tests": len(tests),
        "tests_with_spans": sum(1 for row in tests if row["spans"]),
        "spans": sum(row["spans"] for row in tests),
        "kinds": dict(kinds),
        "handoff_spans": sum(row["handoffs"] for row in tests),
        "interrupted_spans": sum(row["interrupted"] for row in tests),
        "handler_errors": sum(row["handler_errors"] for row in tests),
        "error_records": sum(len(row["error_records"]) for row in tests),
        "tests_leaving_a_run_open": opened,
        "orphans": session.get("orphans"),
        "open_runs_at_exit": session.get("open_runs_at_exit"),
    }


if __name__ == "__main__":
    print(json.dumps(summarize(sys.argv[1]), indent=1))
