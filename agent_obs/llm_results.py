"""What an LLM call's result adds to its run: tokens (reported or counted offline), model,
finish reasons, cost, and (for a recording span) the response id and service tier.

The observer calls ``apply_result`` from ``on_llm_end``; it fills facts on the ``Run`` and
writes no telemetry: genai_spans.py, metrics.py and logs.py map those facts. Kept apart from
the observer so the token/cost arithmetic can be read and tested alone.
"""

from __future__ import annotations

from typing import Any

from agent_obs import extract
from agent_obs.runs import Run


def apply_result(run: Run, response: Any, prices: Any, details: bool) -> None:
    """Fill in tokens, model, finish reasons and cost on ``run``; with ``details`` (its span
    records) also the reported usage, response id and service tier only the span shows."""
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
    if details:
        run.usage = usage
        run.response_id = extract.response_id(response)
        run.service_tier = extract.service_tier(response)


def _cost(run: Run, response_model: str | None, usage: extract.Usage, prices: Any) -> float | None:
    if run.input_tokens is None and run.output_tokens is None:
        return None
    args = (run.input_tokens or 0, run.output_tokens or 0, usage.cache_read or 0, usage.cache_creation or 0)
    # The response names the exact model (with its date) when the request used an alias.
    cost = prices.cost(response_model, *args) if response_model else None
    if cost is None and run.model and run.model != response_model:
        cost = prices.cost(run.model, *args)
    return cost
