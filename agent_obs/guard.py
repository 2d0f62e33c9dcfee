"""Logging of errors inside callbacks: counted and logged, never raised.

Every callback of ``AgentObserver`` catches its own exceptions inline (a decorator would
cost one more Python call on each of the ~60 callbacks of an agent run) and hands them to
``_handler_error``, which counts them and logs through ``RateLimitedLog``.

The log goes through stdlib ``logging`` (never through loguru, which may be feeding our own
sinks), at most once a minute per callback so a broken sink cannot flood the logs.
"""

from __future__ import annotations

import logging
import time

_log = logging.getLogger("agent_obs")


class RateLimitedLog:
    """At most one stdlib log line per callback name per interval."""

    def __init__(self, interval: float = 60.0) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, callback: str, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._last.get(callback, -self._interval) >= self._interval:
            self._last[callback] = now
            _log.warning("agent_obs: error in %s callback (ignored): %r", callback, error, exc_info=error)
