"""Run facts -> GenAI spans: every span name, kind, attribute and event agent_obs writes.

The observer fills facts on a ``Run`` (runs.py) and never names a span attribute; the span
sink (spans.py) asks this module what to write: ``start(run)`` when the span starts (the
attributes a sampler may read; ``resumed_from`` is its link to an interrupted run),
``input_content(run)`` right after when content is captured,
``end(run)`` and ``failure(run)`` when it ends (response, usage, captured output, outcome), and
``route``/``handoff``/``sub_agent`` for what happens while a run is open. The metric and log
sinks map the same facts in metrics.py (``MetricsSink``) and logs.py (``LogSink``); every
name comes from semconv.py.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Link, SpanKind

from agent_obs import semconv as sc
from agent_obs.errors import error_type
from agent_obs.runs import Run, RunKind

_CLIENT = SpanKind.CLIENT
_INTERNAL = SpanKind.INTERNAL
_DESCRIPTION_LIMIT = 1024
_STATUS_LIMIT = 512
_COMPLETED = (sc.OUTCOME_OK, sc.OUTCOME_INTERRUPTED)


# --- start ---------------------------------------------------------------------------------------
def start(run: Run) -> tuple[str, SpanKind, dict[str, Any]]:
    """The span's name, kind and start attributes (those a sampler may look at)."""
    kind = run.kind
    if kind is RunKind.NODE:
        name = run.name
        attributes: dict[str, Any] = {sc.LANGGRAPH_NODE: name, sc.LANGGRAPH_ATTEMPT: run.attempt}
        if run.step is not None:
            attributes[sc.LANGGRAPH_STEP] = run.step
        if run.triggers:
            attributes[sc.LANGGRAPH_TRIGGERS] = [str(t) for t in run.triggers]
        if run.checkpoint_ns:
            attributes[sc.LANGGRAPH_CHECKPOINT_NS] = run.checkpoint_ns
        return sc.SPAN_NODE.format(node=name), _INTERNAL, attributes
    if kind is RunKind.LLM:
        operation = run.operation or sc.OP_CHAT
        model = run.model
        attributes = {sc.GEN_AI_OPERATION_NAME: operation}
        if run.provider:
            attributes[sc.GEN_AI_PROVIDER_NAME] = run.provider
        if model:
            attributes[sc.GEN_AI_REQUEST_MODEL] = model
        if run.temperature is not None:
            attributes[sc.GEN_AI_REQUEST_TEMPERATURE] = run.temperature
        if run.max_tokens is not None:
            attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] = run.max_tokens
        template = sc.SPAN_CHAT if operation == sc.OP_CHAT else sc.SPAN_TEXT_COMPLETION
        return template.format(model=model or run.name), _CLIENT, attributes
    if kind is RunKind.TOOL:
        name = run.name
        attributes = {sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: name,
                      sc.GEN_AI_TOOL_TYPE: "function"}
        if run.tool_call_id:
            attributes[sc.GEN_AI_TOOL_CALL_ID] = str(run.tool_call_id)
        description = run.description
        if isinstance(description, str) and description:
            attributes[sc.GEN_AI_TOOL_DESCRIPTION] = description[:_DESCRIPTION_LIMIT]
        return sc.SPAN_EXECUTE_TOOL.format(tool=name), _INTERNAL, attributes
    if kind is RunKind.AGENT:
        agent = run.name
        attributes = {sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT, sc.GEN_AI_AGENT_NAME: agent}
        if run.thread_id is not None:
            attributes[sc.GEN_AI_CONVERSATION_ID] = run.thread_id
        if run.resumed:
            attributes[sc.LANGGRAPH_RESUMED] = True
        return sc.SPAN_INVOKE_AGENT.format(agent=agent), _INTERNAL, attributes
    if kind is RunKind.RETRIEVAL:
        name = run.name
        attributes = {sc.GEN_AI_OPERATION_NAME: sc.OP_RETRIEVAL, sc.GEN_AI_DATA_SOURCE_ID: name}
        return sc.SPAN_RETRIEVAL.format(name=name), _INTERNAL, attributes
    raise ValueError(f"a {kind} run has no span")


def resumed_from(interrupted: Any) -> Link:
    """The link from a resumed run's span to the span (context) of the run it resumes."""
    return Link(interrupted, {sc.LINK_TYPE: sc.LINK_RESUMED_FROM})


def input_content(run: Run) -> dict[str, Any]:
    """The captured input of a run (its facts ``input_content`` / ``input_messages``)."""
    attributes: dict[str, Any] = {}
    kind = run.kind
    if run.input_content is not None:
        key = sc.GEN_AI_TOOL_CALL_ARGUMENTS if kind is RunKind.TOOL else (
            sc.GRAPH_INPUT if kind is RunKind.AGENT else sc.GEN_AI_INPUT_MESSAGES)
        _content(attributes, key, run.input_content)
    if run.input_messages is not None:
        _content(attributes, sc.GEN_AI_INPUT_MESSAGES, run.input_messages)
    return attributes


# --- end -----------------------------------------------------------------------------------------
def end(run: Run) -> dict[str, Any]:
    """What the span says once its run ended: results, usage, captured output, the outcome."""
    attributes: dict[str, Any] = {}
    kind = run.kind
    outcome = run.outcome
    if kind is RunKind.LLM:
        if outcome == sc.OUTCOME_OK:
            _response(attributes, run)
        if run.first_chunk_mono:
            attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = run.first_chunk_mono - run.start_mono
    elif kind is RunKind.AGENT and outcome in _COMPLETED and run.parent is None:
        attributes[sc.LANGGRAPH_STEPS] = run.steps  # a run that completed or paused, not one cut off
    if run.output_content is not None:
        key = (sc.GEN_AI_TOOL_CALL_RESULT if kind is RunKind.TOOL
               else sc.GRAPH_OUTPUT if kind is RunKind.AGENT else sc.GEN_AI_OUTPUT_MESSAGES)
        _content(attributes, key, run.output_content)
    if outcome == sc.OUTCOME_ERROR:
        if run.error is not None:
            attributes[sc.ERROR_TYPE] = error_type(run.error)
    elif outcome == sc.OUTCOME_INTERRUPTED:
        attributes[sc.LANGGRAPH_INTERRUPTED] = True
    elif outcome == sc.OUTCOME_CANCELLED:
        attributes[sc.OUTCOME] = sc.OUTCOME_CANCELLED
        if run.error is not None:
            attributes[sc.ERROR_TYPE] = error_type(run.error)
    return attributes


def failure(run: Run) -> tuple[BaseException, dict[str, Any], str] | None:
    """For a run that failed: the exception, the exception event's attributes and the span
    status description; None otherwise (interrupts and cancellations are not errors)."""
    error = run.error
    if run.outcome != sc.OUTCOME_ERROR or error is None:
        return None
    text = str(error)
    if len(text) > _STATUS_LIMIT:
        text = text[:_STATUS_LIMIT] + "…"
    return error, {sc.EXCEPTION_TYPE: error_type(error)}, text


def _response(attributes: dict[str, Any], run: Run) -> None:
    if run.response_model:
        attributes[sc.GEN_AI_RESPONSE_MODEL] = run.response_model
    if run.response_id:
        attributes[sc.GEN_AI_RESPONSE_ID] = run.response_id
    if run.service_tier:
        attributes[sc.OPENAI_RESPONSE_SERVICE_TIER] = run.service_tier
    if run.input_tokens is not None:
        attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = run.input_tokens
    if run.output_tokens is not None:
        attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = run.output_tokens
    usage = run.usage
    if usage is not None:
        if usage.cache_read is not None:
            attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read
        if usage.cache_creation is not None:
            attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_creation
        if usage.reasoning is not None:
            attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning
    if run.usage_estimated:
        attributes[sc.USAGE_ESTIMATED] = True
        if run.usage_estimator:
            attributes[sc.USAGE_ESTIMATOR] = run.usage_estimator
    if run.finish_reasons:
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = list(run.finish_reasons)
    if run.cost_usd is not None:
        attributes[sc.COST_USD] = run.cost_usd
    else:
        attributes[sc.COST_UNKNOWN_MODEL] = True


def _content(attributes: dict[str, Any], key: str, captured: tuple[str, int]) -> None:
    """A captured content attribute, with ``<key>.original_length`` when it was truncated."""
    text, original_length = captured
    attributes[key] = text
    if original_length > len(text):
        attributes[key + sc.CONTENT_TRUNCATED_SUFFIX] = original_length


# --- while a run is open -------------------------------------------------------------------------
def route(router: str, destinations: list[str]) -> tuple[str, dict[str, Any]]:
    """The event a router's decision adds to its node's span."""
    return sc.EVENT_ROUTE, {sc.ROUTE_NAME: router, sc.ROUTE_DESTINATIONS: destinations}


def handoff(run: Run) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A node that handed control elsewhere (``run.handoff``): attributes, event name and its
    attributes."""
    destinations = list(run.handoff)
    return ({sc.LANGGRAPH_HANDOFF_DESTINATION: ",".join(destinations)},
            sc.EVENT_HANDOFF, {sc.HANDOFF_DESTINATIONS: destinations})


def sub_agent(host: Run, name: str) -> dict[str, Any]:
    """A node or tool whose body runs the named sub-agent ``name``: its span names the agent."""
    return {sc.GEN_AI_AGENT_NAME: name, sc.AGENT_PARENT: host.agent, sc.AGENT_ROOT: host.root.name}
