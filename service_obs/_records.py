"""One loguru record -> one flat JSON object, shared by the log file and the Loki sink.

The line carries the message, level, logger name, function, line, every ``extra`` field
(``trace_id``/``span_id`` included) and the exception, so LogQL's ``| json`` sees the same
fields in Loki as ``jq`` sees in the file.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from opentelemetry import trace

from agent_obs import semconv as sc
from agent_obs.errors import error_type
from agent_obs.spans import hex_ids

MAX_LINE_CHARS = 64 * 1024
_RESERVED = {"time", "level", "message", "logger", "function", "line", "exception"}
# Set on records (top level, not in extra) by the file sink's formatter.
PRIVATE_KEY = "_agent_obs_json"


def current_trace_ids() -> tuple[str, str] | None:
    """The trace and span id (hex) of the current OpenTelemetry span, if it is valid."""
    ctx = trace.get_current_span().get_span_context()
    return hex_ids(ctx) if ctx.is_valid else None


def add_trace_context(record: dict[str, Any]) -> None:
    """Loguru patcher: fill ``trace_id``/``span_id`` from the current span when not set."""
    extra = record["extra"]
    if sc.FIELD_TRACE_ID in extra:
        return
    ids = current_trace_ids()
    if ids is not None:
        extra[sc.FIELD_TRACE_ID], extra[sc.FIELD_SPAN_ID] = ids


def record_to_dict(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready view of a loguru record."""
    out: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
        "logger": record["name"],
        "function": record["function"],
        "line": record["line"],
    }
    for key, value in record["extra"].items():
        out[f"extra.{key}" if key in _RESERVED else key] = value
    exception = record["exception"]
    if exception is not None and exception.type is not None:
        out["exception"] = {"type": error_type(exception.type), "value": str(exception.value)}
        if exception.traceback is not None:
            out["exception"]["traceback"] = "".join(
                traceback.format_exception(exception.type, exception.value, exception.traceback)
            )[-8192:]
    return out


def record_to_json(record: dict[str, Any]) -> str:
    """``record_to_dict`` as one JSON line (non-JSON values via ``str``), truncated if huge."""
    line = json.dumps(record_to_dict(record), default=str, ensure_ascii=False)
    if len(line) > MAX_LINE_CHARS:
        line = json.dumps(
            {"time": record["time"].isoformat(), "level": record["level"].name,
             "message": record["message"][: MAX_LINE_CHARS // 2], "truncated": True,
             sc.FIELD_TRACE_ID: record["extra"].get(sc.FIELD_TRACE_ID),
             sc.FIELD_SPAN_ID: record["extra"].get(sc.FIELD_SPAN_ID)},
            default=str, ensure_ascii=False,
        )
    return line
