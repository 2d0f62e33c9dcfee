"""AgentObserver configurations for the shared peer rig (``--extra bench/bench_agent_obs.py:NAME``).

The rig calls a factory with the keyword arguments it declares (``tracer_provider``,
``span_exporter``) and times whatever callbacks it returns. Every configuration sends
metrics to a private ``CollectorRegistry`` and logs to a private loguru logger whose only
sink discards the message, so neither a scrape nor a file write is timed, just as the peers'
exporters do no I/O. Factories:

- ``full``: spans + metrics + logs (null sink at INFO), content capture off: the default.
- ``spans``: spans + metrics, logging disabled (a logger with no sink: loguru's min level is
  infinite, so ``LogSink`` skips every record). AgentObserver has no switch to turn metrics
  off, so this is as close to "spans only" as the public API gets.
- ``content``: like ``full`` with ``capture_content=True`` (prompts, completions, tool
  arguments and results serialised onto the spans).
- ``sampled10``: like ``full`` on its own ``TracerProvider`` with
  ``ParentBased(TraceIdRatioBased(0.1))`` in front of the rig's counting exporter (through a
  ``SimpleSpanProcessor``, so the rig's tree capture sees the spans without a flush hook).

Run from the repository root, in the bench venv (see bench/README.md)::

    .venv-bench/bin/python ../shared/bench/peer_overhead.py --configs all \\
        --extra bench/bench_agent_obs.py:full --extra bench/bench_agent_obs.py:content ...
"""

from __future__ import annotations

from typing import Any


def private_logger(level: str | None = "INFO") -> Any:
    """An independent loguru logger: a null sink at ``level``, or no sink at all when None.

    Loguru has no public constructor for a second logger; this builds one the way loguru
    builds its global one (loguru 0.7), so the rig's other configurations and loguru's
    global handlers are untouched.
    """
    from loguru._logger import Core, Logger

    log = Logger(core=Core(), exception=None, depth=0, record=False, lazy=False, colors=False,
                 raw=False, capture=True, patchers=[], extra={})
    if level is not None:
        log.add(_discard, level=level, format="{message}")
    return log


def _discard(_message: Any) -> None:
    return None


def make_observer(tracer_provider: Any, *, logs: str | None = "INFO", capture_content: bool = False) -> Any:
    from prometheus_client import CollectorRegistry

    from agent_obs import AgentObserver

    return AgentObserver(tracer_provider=tracer_provider, registry=CollectorRegistry(),
                         logger=private_logger(logs), capture_content=capture_content)


def full(tracer_provider: Any) -> list[Any]:
    """Spans + metrics + logs, content capture off."""
    return [make_observer(tracer_provider)]


def spans(tracer_provider: Any) -> list[Any]:
    """Spans + metrics, no log sink (see the module docstring)."""
    return [make_observer(tracer_provider, logs=None)]


def content(tracer_provider: Any) -> list[Any]:
    """Spans + metrics + logs with content capture on."""
    return [make_observer(tracer_provider, capture_content=True)]


def sampled_provider(span_exporter: Any, ratio: float = 0.1) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(resource=Resource.create({"service.name": "bench-agent-obs-sampled"}),
                              sampler=ParentBased(TraceIdRatioBased(ratio)), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    return provider


def sampled10(span_exporter: Any) -> dict[str, Any]:
    """Spans + metrics + logs with a 10% head sampler on the observer's own provider."""
    provider = sampled_provider(span_exporter, 0.1)
    return {"callbacks": [make_observer(provider)], "shutdown": provider.shutdown}


factory = full
