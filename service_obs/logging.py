"""Loguru sinks for a service: console, a rotating JSON-lines file, and Loki.

``install_logging(settings, logger=..., registry=...)`` adds the sinks the settings ask for
and a patcher that copies the current span's ``trace_id``/``span_id`` into every record's
``extra`` (unless the record already has them, as agent_obs's own records do). It returns a
``LoggingHandle`` whose ``uninstall(timeout)`` removes exactly those sinks, restores the
previous patcher and flushes the Loki sink within the timeout.

With ``log_to_console`` on, the setup owns the console: loguru's default stderr handler (id 0,
level DEBUG, no ``trace_id``) is removed while the handle lives, so every line is printed once
and nothing below ``log_level`` leaks; ``uninstall`` puts a default handler back when the last
setup that owned the console goes. Other handlers an application added are left alone.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry

from agent_obs import semconv as sc
from agent_obs import env
from agent_obs.shortcuts import LoguruHandlers, PatcherAccess
from service_obs._records import PRIVATE_KEY, add_trace_context, record_to_json
from service_obs.loki import LokiSink
from service_obs.settings import ObservabilitySettings

_CONSOLE_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{name}</cyan>:<cyan>{function}</cyan>:<cyan>{line}</cyan> - <level>{message}</level>"
)


def _console_format(record: dict[str, Any]) -> str:
    trace_id = record["extra"].get(sc.FIELD_TRACE_ID)
    suffix = " <dim>trace_id={extra[trace_id]}</dim>" if trace_id else ""
    return _CONSOLE_FORMAT + suffix + "\n{exception}"


def _json_format(record: dict[str, Any]) -> str:
    # loguru expands the returned format string against a copy of the record made after this
    # call, so the JSON line rides in a private top-level key: its braces are never parsed
    # and ``extra``, which other sinks see, stays untouched.
    record[PRIVATE_KEY] = record_to_json(record)
    return "{" + PRIVATE_KEY + "}\n"


LOGURU_DEFAULT_HANDLER_ID = 0  # the stderr handler loguru adds when it is imported

_console_lock = threading.Lock()
_console_owners: dict[int, list[Any]] = {}  # LoguruHandlers.key -> [owners, removed the default?]
_default_ids: dict[int, int] = {}  # LoguruHandlers.key -> id of the default handler we put back


def _own_console(logger: Any, handlers: LoguruHandlers) -> None:
    """Remove loguru's default stderr handler (if still there) for as long as we own the console."""
    with _console_lock:
        entry = _console_owners.setdefault(handlers.key, [0, False])
        entry[0] += 1
        default_id = _default_ids.get(handlers.key, LOGURU_DEFAULT_HANDLER_ID)
        is_stderr = handlers.is_stderr(default_id)
        if is_stderr is None:
            # Public path: loguru never reuses a handler id, so id 0 is its own stderr handler
            # when it added one at import (LOGURU_AUTOINIT), and any other id is one we put back.
            is_stderr = default_id != LOGURU_DEFAULT_HANDLER_ID or _loguru_autoinit()
        if is_stderr:
            try:
                logger.remove(default_id)
                entry[1] = True
            except ValueError:
                pass  # removed by the application meanwhile


def _loguru_autoinit() -> bool:
    return os.environ.get("LOGURU_AUTOINIT", "").strip().lower() not in env.FALSE_WORDS


def _release_console(logger: Any, handlers: LoguruHandlers) -> None:
    """The last owner of the console puts a default stderr handler back if one was removed."""
    key = handlers.key
    with _console_lock:
        entry = _console_owners.get(key)
        if entry is None:
            return
        entry[0] -= 1
        if entry[0] > 0:
            return
        del _console_owners[key]
        if entry[1]:
            _default_ids[key] = logger.add(sys.stderr)  # loguru's defaults (LOGURU_LEVEL...)


class LoggingHandle:
    """What ``install_logging`` changed, so that it can be undone."""

    def __init__(self, logger: Any, handler_ids: list[int], previous_patcher: Any,
                 loki: LokiSink | None, owns_console: bool = False, patcher_switch: list[bool] | None = None,
                 patcher_access: PatcherAccess | None = None,
                 loguru_handlers: LoguruHandlers | None = None) -> None:
        self.logger = logger
        self._handlers = loguru_handlers if loguru_handlers is not None else LoguruHandlers(logger)
        self._switch = patcher_switch if patcher_switch is not None else [True]
        self._access = patcher_access if patcher_access is not None else PatcherAccess(logger)
        self.handler_ids = handler_ids
        self.loki = loki
        self.owns_console = owns_console
        self._previous_patcher = previous_patcher
        self._done = False

    def uninstall(self, timeout: float = 5.0) -> None:
        if self._done:
            return
        self._done = True
        deadline = time.monotonic() + timeout
        for handler_id in reversed(self.handler_ids):
            try:
                self.logger.remove(handler_id)
            except ValueError:
                pass  # already removed by the application
        if self.owns_console:
            _release_console(self.logger, self._handlers)
        if self.loki is not None:
            self.loki.stop(max(0.0, deadline - time.monotonic()))
        # loguru cannot unset a patcher publicly (agent_obs.shortcuts.LOGURU_PATCHER); without
        # the shortcut ours stays installed, switched off, and only calls the previous one.
        if not self._access.restore(self._previous_patcher):
            self._switch[0] = False


def install_logging(
    settings: ObservabilitySettings,
    *,
    logger: Any = None,
    registry: CollectorRegistry | None = None,
) -> LoggingHandle:
    """Add the sinks ``settings`` asks for to ``logger`` (default: loguru's logger)."""
    if logger is None:
        from loguru import logger as loguru_logger

        logger = loguru_logger
    access = PatcherAccess(logger)  # decided now: uninstall takes the same paths
    handlers = LoguruHandlers(logger)
    previous = access.current()
    switch = [True]

    def patcher(record: dict[str, Any]) -> None:
        if previous is not None:
            previous(record)
        if not switch[0]:
            return
        try:
            add_trace_context(record)
        except Exception:  # noqa: BLE001 - a log call must never fail because of us
            pass

    logger.configure(patcher=patcher)
    handler_ids: list[int] = []
    loki: LokiSink | None = None
    owns_console = False
    try:
        level = settings.log_level
        if settings.log_to_console:
            handler_ids.append(logger.add(sys.stderr, level=level, format=_console_format,
                                          colorize=None, backtrace=False, diagnose=False))
            _own_console(logger, handlers)
            owns_console = True
        if settings.log_file:
            handler_ids.append(logger.add(
                settings.log_file, level=level, format=_json_format,
                rotation=settings.log_rotation, retention=settings.log_retention,
                encoding="utf-8", backtrace=False, diagnose=False, catch=True,
            ))
        if settings.loki_enabled:
            assert settings.loki_endpoint is not None
            labels = {"service": settings.service_name, "environment": settings.environment,
                      **settings.loki_labels}
            loki = LokiSink(
                settings.loki_endpoint, labels=labels, registry=registry,
                batch_size=settings.loki_batch_size, flush_interval=settings.loki_flush_interval,
                queue_size=settings.loki_queue_size, timeout=settings.loki_timeout,
                max_retries=settings.loki_max_retries, min_backoff=settings.loki_min_backoff,
                max_backoff=settings.loki_max_backoff, tenant_id=settings.loki_tenant_id,
                username=settings.loki_username, password=settings.loki_password,
                bearer_token=settings.loki_bearer_token,
                structured_metadata=settings.loki_structured_metadata,
            )
            handler_ids.append(logger.add(loki, level=level, format="{message}", catch=True,
                                          backtrace=False, diagnose=False))
    except Exception:
        LoggingHandle(logger, handler_ids, previous, loki, owns_console, switch, access, handlers).uninstall(0.0)
        raise
    return LoggingHandle(logger, handler_ids, previous, loki, owns_console, switch, access, handlers)
