"""Rate-limited stdlib warnings, for errors telemetry swallows so that the caller never sees them.

Every callback of ``AgentObserver`` catches its own exceptions inline (a decorator would
cost one more Python call on each of the ~60 callbacks of an agent run) and hands them to
``_handler_error``, which counts them and logs through ``RateLimitedLog``. The trace-file
exporter and the Loki sink log their dropped data through it too.

The log goes through stdlib ``logging`` (never through loguru, which may be feeding our own
sinks), at most once per interval (a minute by default) per key, so a broken sink or backend
cannot flood the logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any


class RateLimitedLog:
    """At most one stdlib warning per key per ``interval`` seconds."""

    def __init__(self, logger: logging.Logger | str = "agent_obs", interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: Any, exc_info: Any = None) -> bool:
        """Log ``message % args`` unless ``key`` was logged within the interval; True if logged."""
        now = self._clock()
        with self._lock:
            if now - self._last.get(key, now - self._interval) < self._interval:
                return False
            self._last[key] = now
        self._logger.warning(message, *args, exc_info=exc_info)
        return True

    def __call__(self, callback: str, error: BaseException) -> None:
        """An exception swallowed inside the observer callback ``callback``."""
        self.warning(callback, "agent_obs: error in %s callback (ignored): %r", callback, error, exc_info=error)
