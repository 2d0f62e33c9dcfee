"""A loguru logger with no handlers of its own, for runs whose log lines must not reach the terminal.

The demo hands it to ``setup_observability`` (which adds the file and Loki sinks to it), and
re-runs of recorded traces use it bare, so replaying a run never prints or ships log lines.
"""

from __future__ import annotations

from typing import Any

from agent_obs.shortcuts import independent_logger


def private_logger() -> Any:
    """A new loguru logger independent of ``loguru.logger`` and its handlers (the global logger
    when loguru has changed shape: ``agent_obs.shortcuts.independent_logger``)."""
    return independent_logger()
