"""What an LLM call's result adds to its run: tokens (reported or counted offline), cost, and
the span attributes of the response.

Kept apart from the observer so the token/cost arithmetic can be read and tested alone.
"""

from __future__ import annotations

from typing import Any

from agent_obs import extract
from agent_obs import semconv as sc
from agent_obs.runs import Run


def apply_result(run: Run, response: Any, prices: Any) -> extract.Usage:
    """Fill in tokens, model, finish reasons and cost on ``run``; returns the reported usage."""
    usage = extract.usage(response)
    if usage.reported:
        run.input_tokens = usage.input_tokens
        run.output_tokens = usage.output_tokens
    else:
        from agent_obs import tokens

        # Never waits for a vocabulary: until it is loaded (off-thread) the count is the
        # character estimate, and the estimator says so.
        run.input_tokens, run.output_tokens, run.usage_estimator = tokens.count_usage_nowait(
            run.prompt, extract.output_text(response), run.model)
        run.usage_estimated = True
    run.prompt = None
    response_model = extract.response_model(response)
    if not run.model and response_model:
        run.model = response_model
    run.finish_reasons = extract.finish_reasons(response)
    run.cost_usd = _cost(run, response_model, usage, prices)
    run.response_model = response_model
    return usage


def _cost(run: Run, response_model: str | None, usage: extract.Usage, prices: Any) -> float | None:
    if run.input_tokens is None and run.output_tokens is None:
        return None
    args = (run.input_tokens or 0, run.output_tokens or 0, usage.cache_read or 0, usage.cache_creation or 0)
    # The response names the exact model (with its date) when the request used an alias.
    cost = prices.cost(response_model, *args) if response_model else None
    if cost is None and run.model and run.model != response_model:
        cost = prices.cost(run.model, *args)
    return cost


def response_attributes(run: Run, response: Any, usage: extract.Usage) -> dict[str, Any]:
    """Span attributes of a finished LLM call (only computed when the span is recording)."""
    attributes: dict[str, Any] = {}
    if run.response_model:
        attributes[sc.GEN_AI_RESPONSE_MODEL] = run.response_model
    response_id = extract.response_id(response)
    if response_id:
        attributes[sc.GEN_AI_RESPONSE_ID] = response_id
    tier = extract.service_tier(response)
    if tier:
        attributes[sc.OPENAI_RESPONSE_SERVICE_TIER] = tier
    if run.input_tokens is not None:
        attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = run.input_tokens
    if run.output_tokens is not None:
        attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = run.output_tokens
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
    if run.first_chunk_mono:
        attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = run.first_chunk_mono - run.start_mono
    if run.cost_usd is not None:
        attributes[sc.COST_USD] = run.cost_usd
    else:
        attributes[sc.COST_UNKNOWN_MODEL] = True
    return attributes


def content_attributes(key: str, text: str, original_length: int) -> dict[str, Any]:
    """A captured content attribute, with ``<key>.original_length`` when it was truncated."""
    attributes: dict[str, Any] = {key: text}
    if original_length > len(text):
        attributes[key + sc.CONTENT_TRUNCATED_SUFFIX] = original_length
    return attributes
