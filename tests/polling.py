"""Polling for the tests: wait until a condition holds, with a deadline.

Importable as ``polling`` with ``tests/`` on ``sys.path`` (pytest puts it there for
``tests/conftest.py``; ``tests/service/conftest.py`` and ``tests/stack/stack_helpers.py``
also put it there themselves).
"""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01,
             what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy or the deadline passes; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(interval)
