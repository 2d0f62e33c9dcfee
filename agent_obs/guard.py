"""The guard around every callback: telemetry errors are counted and logged, never raised.

The log goes through stdlib ``logging`` (never through loguru, which may be feeding our own
sinks), at most once a minute per callback so a broken sink cannot flood the logs.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

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


def guarded(callback: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Wrap a callback method: exceptions go to ``self._handler_error(callback, exc)``."""

    def wrap(method: Callable[..., None]) -> Callable[..., None]:
        def guarded_method(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                method(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - telemetry must never break the agent
                self._handler_error(callback, exc)  # noqa: SLF001

        guarded_method.__name__ = method.__name__
        guarded_method.__doc__ = method.__doc__
        return guarded_method

    return wrap
