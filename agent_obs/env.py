"""Reading settings from the environment: one set of parsers and one warn-once, for both packages.

``agent_obs`` reads ``AGENT_OBS_CAPTURE_CONTENT`` through here, and ``service_obs.settings``
builds every ``ObservabilitySettings`` field (and its snapshot of the standard ``OTEL_*``
variables) with the same parsers::

    port = from_env(environ, "AGENT_OBS_PORT", parse_number(int, 1, 65535), default=8000)

A parser turns a raw value (a string from the environment, or a value given in code) into a
typed one, or raises ``ValueError`` with a reason that completes "NAME ...". ``from_env``
treats a bad value the way the house style asks: it warns once per (variable, value) and
process, as a ``RuntimeWarning``, and returns the default, so a typo in a deployment manifest
never stops a service from starting. Nothing here reads the environment at import time.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


# --- parsers: raw value -> typed value, or ValueError("must be ...") ------------------------
def parse_bool(value: Any) -> bool:
    """``True``/``False``, or one of 1/0, true/false, yes/no, on/off (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
            return False
    raise ValueError("must be a boolean (true/false)")


def parse_number(kind: type, low: float | None = None, high: float | None = None) -> Callable[[Any], Any]:
    """A parser for ``int`` or ``float`` values within [low, high] (either bound optional)."""

    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"must be a {kind.__name__}")
        try:
            number = kind(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a {kind.__name__}") from None
        if kind is int and isinstance(value, float) and value != number:
            raise ValueError("must be an integer")
        if number != number:  # NaN passes every comparison below
            raise ValueError(f"must be a {kind.__name__}")
        if (low is not None and number < low) or (high is not None and number > high):
            if high is None:
                raise ValueError(f"must be at least {low}")
            raise ValueError(f"must be between {low} and {high}")
        return number

    return parse


def parse_list(value: Any) -> tuple[str, ...]:
    """A sequence of strings, or ``"a,b,c"`` (blank items dropped)."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError("must be a list of strings or 'a,b,c'")


def parse_mapping(value: Any) -> dict[str, str]:
    """A mapping, or ``"k=v,k2=v2"`` (the ``OTEL_EXPORTER_OTLP_HEADERS`` syntax)."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):
        result: dict[str, str] = {}
        for part in value.split(","):
            if not part.strip():
                continue
            key, sep, val = part.partition("=")
            if not sep or not key.strip():
                raise ValueError("must be key=value pairs separated by commas")
            result[key.strip()] = val.strip()
        return result
    raise ValueError("must be a mapping or 'k=v,k2=v2'")


def optional(parse: Callable[[Any], T]) -> Callable[[Any], T | None]:
    """``parse``, with ``None`` and the empty string meaning "not set"."""

    def parse_optional(value: Any) -> T | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return parse(value)

    return parse_optional


# --- the environment -----------------------------------------------------------------------
def from_env(environ: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    """``parse(environ[name])``; ``default`` when unset or bad (a bad value warns once).

    An empty value is handed to ``parse``: for some settings it means "off" (an empty
    ``AGENT_OBS_LOG_FILE`` turns the log file off); wrap the parser in ``optional`` where
    empty should mean unset.
    """
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        warn_once(name, raw, str(exc))
        return default


def warn_once(name: str, raw: str, reason: str) -> None:
    """A ``RuntimeWarning`` that ``name=raw`` is ignored, at most once per process."""
    with _warned_lock:
        if (name, raw) in _warned:
            return
        _warned.add((name, raw))
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    warnings.warn(f"ignoring {name}={shown!r}: {reason}; using the default", RuntimeWarning, stacklevel=3)


def capture_content_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """``AGENT_OBS_CAPTURE_CONTENT`` (``AgentObserver(capture_content=None)``): unset, empty or
    bad means off (a bad value warns once)."""
    import os

    from agent_obs.semconv import ENV_CAPTURE_CONTENT

    value = from_env(os.environ if environ is None else environ, ENV_CAPTURE_CONTENT, optional(parse_bool), None)
    return bool(value)
