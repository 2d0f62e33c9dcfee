"""One deadline for all the steps of a shutdown or a flush, and the default it starts from.

``shutdown()`` flushes spans and logs to backends that may be unreachable; each exporter has
its own (longer) timeout, so the steps share one ``Deadline`` and blocking work runs on a
helper thread the caller stops waiting for when the deadline passes:

    deadline = Deadline(timeout)
    spans = deadline.start(provider.shutdown, "span export")
    loki.stop(deadline.remaining())
    finished = deadline.wait(spans)     # False: the deadline passed first

``DEFAULT_SHUTDOWN_TIMEOUT`` (the ``shutdown_timeout`` setting's default) lets an application
exit within a few seconds even when Tempo and Loki do not answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

_log = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_TIMEOUT = 3.0  # seconds


class Deadline:
    """A point in time ``seconds`` from now, shared by several steps."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = max(0.0, seconds)
        self._clock = clock
        self._end = clock() + self.seconds

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self._clock() >= self._end

    def start(self, func: Callable[[], Any], what: str) -> threading.Event:
        """Run ``func`` on a daemon thread (the process may exit without it); the event is set
        when it returns. Its exceptions are logged as ``what`` failing, never raised."""
        done = threading.Event()

        def run() -> None:
            try:
                func()
            except Exception:  # noqa: BLE001 - a failing step must not stop the others
                _log.warning("%s failed", what, exc_info=True)
            finally:
                done.set()

        threading.Thread(target=run, name=f"agent-obs {what}", daemon=True).start()
        return done

    def wait(self, done: threading.Event) -> bool:
        """Wait for ``done`` until the deadline; True if it was set in time."""
        return done.wait(self.remaining())
