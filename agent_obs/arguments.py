"""Checks of ``AgentObserver``'s constructor arguments: a wrong type fails at construction
with a ``TypeError`` naming the parameter and what it expects, never later inside a callback
(where it would be swallowed) or with a message about something else."""

from __future__ import annotations

import logging
import numbers
from typing import Any


def _fail(name: str, expected: str, value: Any) -> None:
    raise TypeError(f"AgentObserver({name}=...) expects {expected}, got {type(value).__name__} {value!r:.80}")


def _flag(name: str, value: Any, optional: bool = False) -> None:
    if not (isinstance(value, bool) or (optional and value is None)):
        _fail(name, "True or False" + (" or None" if optional else ""), value)


def _integer(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(name, "an int", value)


def check_observer_arguments(tracer_provider: Any, registry: Any, logger: Any, capture_content: Any,
                             agent_name: Any, options: dict[str, Any]) -> None:
    """Raise ``TypeError`` for the first argument of the wrong type."""
    if tracer_provider is not None and not callable(getattr(tracer_provider, "get_tracer", None)):
        _fail("tracer_provider", "an OpenTelemetry TracerProvider (or None for the global one)", tracer_provider)
    if registry is not None:
        from prometheus_client import CollectorRegistry

        if not isinstance(registry, CollectorRegistry):
            _fail("registry", "a prometheus_client CollectorRegistry (or None for prometheus_client.REGISTRY)",
                  registry)
    if logger is not None and (isinstance(logger, logging.Logger)
                               or not callable(getattr(logger, "log", None))
                               or not callable(getattr(logger, "info", None))):
        _fail("logger", "a loguru logger (loguru.logger or logger.bind(...); None for loguru.logger)", logger)
    _flag("capture_content", capture_content, optional=True)
    if agent_name is not None and not isinstance(agent_name, str):
        _fail("agent_name", "a str (or None for the graph's name)", agent_name)
    for name in ("max_content_length", "label_limit", "max_open_runs"):
        _integer(name, options[name])
    ttl = options["run_ttl_seconds"]
    if isinstance(ttl, bool) or not isinstance(ttl, numbers.Real):
        _fail("run_ttl_seconds", "a number of seconds", ttl)
    for name in ("redact", "metrics", "logs"):
        _flag(name, options[name])
    if not callable(options["clock"]):
        _fail("clock", "a callable returning monotonic seconds", options["clock"])
