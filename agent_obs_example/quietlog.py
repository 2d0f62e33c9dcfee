"""A loguru logger with no handlers of its own, for runs whose log lines must not reach the terminal.

The demo hands it to ``setup_observability`` (which adds the file and Loki sinks to it), and
re-runs of recorded traces use it bare, so replaying a run never prints or ships log lines.
"""

from __future__ import annotations

from typing import Any


def private_logger() -> Any:
    """A new loguru logger independent of ``loguru.logger`` and its handlers.

    Loguru has no public constructor for an independent logger; this mirrors how loguru builds
    its global one (pinned to loguru 0.7), and falls back to the global logger if that changes.
    """
    try:
        from loguru._logger import Core, Logger

        return Logger(core=Core(), exception=None, depth=0, record=False, lazy=False, colors=False, raw=False,
                      capture=True, patchers=[], extra={})
    except Exception:  # noqa: BLE001
        from loguru import logger

        return logger
