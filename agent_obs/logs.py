"""Run records -> loguru records, with the span's trace and span ids as fields.

The dispatcher (dispatch.py) hands ``LogSink`` each started and ended ``Run`` with its span's
ids (``dispatch.Ids``); ``LogSink`` is the one place that maps run facts to the contract's log
events and fields.

The fields go to ``record["extra"]`` (loguru adds keyword arguments there), so a JSON or Loki
sink ships them as structured fields and Grafana can jump from a log line to its span. The
sink never adds loguru handlers: records go to whatever the application configured.
"""

from __future__ import annotations

from typing import Any

from agent_obs import semconv as sc
from agent_obs.dispatch import Ids
from agent_obs.errors import error_type
from agent_obs.runs import Run, RunKind
from agent_obs.shortcuts import LogLevelGate

_LEVEL_NO = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_END_EVENTS = {
    RunKind.NODE: (sc.LOG_NODE_END, "node"),
    RunKind.LLM: (sc.LOG_LLM_END, "llm call"),
    RunKind.TOOL: (sc.LOG_TOOL_END, "tool call"),
}
_ERROR_MESSAGE_LIMIT = 500


def _escape(text: str) -> str:
    # loguru formats the message with the keyword arguments; braces in names must survive.
    return text.replace("{", "{{").replace("}", "}}")


class LogSink:
    """Emits the contract's log events for runs."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger
        self._enabled = LogLevelGate(logger).enabled  # decided before any string is built

    def started(self, run: Run, ids: Ids) -> None:
        if run.parent is not None or not self._enabled(20):  # top-level runs only
            return
        fields = self._base(run, sc.LOG_RUN_START, ids.trace_id, ids.span_id)
        self._logger.info(f"agent {_escape(run.name)} run started", **fields)

    def ended(self, run: Run, ids: Ids) -> None:
        kind = run.kind
        outcome = run.outcome
        if kind is RunKind.AGENT:
            if run.parent is not None:
                return
            level = "INFO"
        elif kind in _END_EVENTS:
            level = "DEBUG"
        else:
            return
        if outcome == sc.OUTCOME_ERROR:
            level = "ERROR"
        elif outcome in (sc.OUTCOME_INTERRUPTED, sc.OUTCOME_CANCELLED):
            level = "WARNING"
        if not self._enabled(_LEVEL_NO[level]):
            return  # decided before any string is built: most end records are DEBUG
        if kind is RunKind.AGENT:
            event, what = sc.LOG_RUN_END, "agent " + run.name + " run"
        else:
            event, label = _END_EVENTS[kind]
            what = f"{label} {run.name}"
        fields = self._base(run, event, ids.trace_id, ids.span_id)
        fields[sc.FIELD_STATUS] = outcome
        fields[sc.FIELD_DURATION_MS] = round(run.duration * 1000.0, 3)
        if kind is RunKind.LLM:
            fields[sc.FIELD_MODEL] = run.model
            if run.input_tokens is not None:
                fields[sc.FIELD_INPUT_TOKENS] = run.input_tokens
            if run.output_tokens is not None:
                fields[sc.FIELD_OUTPUT_TOKENS] = run.output_tokens
            if run.cost_usd is not None:
                fields[sc.FIELD_COST_USD] = run.cost_usd
        elif kind is RunKind.TOOL:
            fields[sc.FIELD_TOOL] = run.name
        elif run.handoff:
            fields[sc.FIELD_HANDOFF_TO] = ",".join(run.handoff)
        elif kind is RunKind.AGENT:
            fields[sc.FIELD_STEP] = run.steps
        if run.error is not None and outcome in (sc.OUTCOME_ERROR, sc.OUTCOME_CANCELLED):
            fields[sc.FIELD_ERROR_TYPE] = error_type(run.error)
            message = str(run.error)
            if len(message) > _ERROR_MESSAGE_LIMIT:
                message = message[:_ERROR_MESSAGE_LIMIT] + "…"
            fields[sc.FIELD_ERROR_MESSAGE] = message
        text = f"{_escape(what)} {outcome} in {fields[sc.FIELD_DURATION_MS]:.1f} ms"
        self._logger.log(level, text, **fields)

    @staticmethod
    def _base(run: Run, event: str, trace_id: str, span_id: str) -> dict[str, Any]:
        fields: dict[str, Any] = {
            sc.FIELD_EVENT: event,
            sc.FIELD_TRACE_ID: trace_id,
            sc.FIELD_SPAN_ID: span_id,
            sc.FIELD_RUN_ID: str(run.run_id),
            sc.FIELD_AGENT: run.agent,
        }
        if run.root is not None and run.agent != run.root.name:
            fields[sc.FIELD_ROOT_AGENT] = run.root.name  # inside a sub-agent
        if run.node is not None:
            fields[sc.FIELD_NODE] = run.node
        if run.step is not None:
            fields[sc.FIELD_STEP] = run.step
        if run.thread_id is not None:
            fields[sc.FIELD_THREAD_ID] = run.thread_id
        return fields
