"""Pure functions that read model, provider, usage and finish reasons from LangChain objects.

Integrations report these in different places (invocation params, ``ls_*`` metadata,
``usage_metadata`` on the message, ``llm_output["token_usage"]`` for older ones), so every
lookup tries them in a fixed order and returns ``None`` rather than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MODEL_PARAM_KEYS = ("model", "model_name", "model_id", "deployment_name", "azure_deployment")

# LangChain's ls_provider values -> GenAI semantic-convention provider names.
_PROVIDER_NAMES = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "google_genai": "gcp.gen_ai",
    "google_vertexai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "ollama": "ollama",
}


def request_model(invocation_params: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None,
                  serialized: Mapping[str, Any] | None = None) -> str | None:
    if invocation_params:
        for key in _MODEL_PARAM_KEYS:
            value = invocation_params.get(key)
            if isinstance(value, str) and value:
                return value
    if metadata:
        value = metadata.get("ls_model_name")
        if isinstance(value, str) and value:
            return value
    if serialized:
        kwargs = serialized.get("kwargs")
        if isinstance(kwargs, Mapping):
            for key in _MODEL_PARAM_KEYS:
                value = kwargs.get(key)
                if isinstance(value, str) and value:
                    return value
    return None


def provider(metadata: Mapping[str, Any] | None, invocation_params: Mapping[str, Any] | None) -> str | None:
    raw = None
    if metadata:
        raw = metadata.get("ls_provider")
    if not raw and invocation_params:
        raw = invocation_params.get("_type")
    if not isinstance(raw, str) or not raw:
        return None
    raw = raw.lower()
    if raw in _PROVIDER_NAMES:
        return _PROVIDER_NAMES[raw]
    for key, value in _PROVIDER_NAMES.items():
        if raw.startswith(key):
            return value
    return raw


def request_temperature(invocation_params: Mapping[str, Any] | None,
                        metadata: Mapping[str, Any] | None) -> float | None:
    for source, key in ((invocation_params, "temperature"), (metadata, "ls_temperature")):
        if source:
            value = source.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
    return None


def request_max_tokens(invocation_params: Mapping[str, Any] | None,
                       metadata: Mapping[str, Any] | None) -> int | None:
    for source, key in ((invocation_params, "max_tokens"), (invocation_params, "max_completion_tokens"),
                        (metadata, "ls_max_tokens")):
        if source:
            value = source.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


class Usage:
    """Token usage of one LLM call; ``None`` fields were not reported."""

    __slots__ = ("input_tokens", "output_tokens", "cache_read", "cache_creation", "reasoning")

    def __init__(self) -> None:
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cache_read: int | None = None
        self.cache_creation: int | None = None
        self.reasoning: int | None = None

    @property
    def reported(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _add(total: int | None, value: Any) -> int | None:
    value = _int(value)
    if value is None:
        return total
    return value if total is None else total + value


def _detail(details: Any, name: str) -> int | None:
    """A usage detail and its service-tier variants (langchain-openai files the tokens of a
    ``priority`` or ``flex`` call as ``priority_cache_read``, ``flex_reasoning``...)."""
    if not details or not (type(details) is dict or isinstance(details, Mapping)):  # dict first: no ABC check
        return None
    total = _int(details.get(name))
    suffix = "_" + name
    for key, value in details.items():
        if key.endswith(suffix) and isinstance(key, str):
            total = _add(total, value)
    return total


def _cache_creation(details: Any) -> int | None:
    """Cache writes; langchain-anthropic zeroes ``cache_creation`` when it splits the writes by
    cache lifetime (``ephemeral_5m_input_tokens``, ``ephemeral_1h_input_tokens``)."""
    total = _detail(details, "cache_creation")
    if total or not details or not (type(details) is dict or isinstance(details, Mapping)):
        return total
    by_lifetime = None
    for key, value in details.items():
        if isinstance(key, str) and key.startswith("ephemeral_") and key.endswith("_input_tokens"):
            by_lifetime = _add(by_lifetime, value)
    return by_lifetime if by_lifetime else total


def usage(response: Any) -> Usage:
    """Usage of one call from the generations of an ``LLMResult``; else from ``llm_output``.

    Generations carrying the very same usage are one call's usage copied onto each choice
    (langchain-openai does this for ``n>1``), so it counts once; different usages add up.
    """
    result = Usage()
    seen: list[Any] = []
    for generations in getattr(response, "generations", None) or ():
        for generation in generations:
            message = getattr(generation, "message", None)
            metadata = getattr(message, "usage_metadata", None) if message is not None else None
            if not metadata or metadata in seen:
                continue
            seen.append(metadata)
            result.input_tokens = _add(result.input_tokens, metadata.get("input_tokens"))
            result.output_tokens = _add(result.output_tokens, metadata.get("output_tokens"))
            input_details = metadata.get("input_token_details")
            output_details = metadata.get("output_token_details")
            result.cache_read = _add(result.cache_read, _detail(input_details, "cache_read"))
            result.cache_creation = _add(result.cache_creation, _cache_creation(input_details))
            result.reasoning = _add(result.reasoning, _detail(output_details, "reasoning"))
    if result.reported:
        return result
    llm_output = getattr(response, "llm_output", None)
    if isinstance(llm_output, Mapping):
        token_usage = llm_output.get("token_usage") or llm_output.get("usage")
        if isinstance(token_usage, Mapping):
            result.input_tokens = _int(token_usage.get("prompt_tokens", token_usage.get("input_tokens")))
            result.output_tokens = _int(
                token_usage.get("completion_tokens", token_usage.get("output_tokens"))
            )
            prompt_details = token_usage.get("prompt_tokens_details") or {}
            completion_details = token_usage.get("completion_tokens_details") or {}
            if isinstance(prompt_details, Mapping):
                result.cache_read = _int(prompt_details.get("cached_tokens"))
            if isinstance(completion_details, Mapping):
                result.reasoning = _int(completion_details.get("reasoning_tokens"))
    return result


def response_model(response: Any) -> str | None:
    for generations in getattr(response, "generations", None) or ():
        for generation in generations:
            message = getattr(generation, "message", None)
            metadata = getattr(message, "response_metadata", None) if message is not None else None
            if metadata:
                value = metadata.get("model_name") or metadata.get("model")
                if isinstance(value, str) and value:
                    return value
            info = getattr(generation, "generation_info", None)
            if info:
                value = info.get("model_name") or info.get("model")
                if isinstance(value, str) and value:
                    return value
    llm_output = getattr(response, "llm_output", None)
    if isinstance(llm_output, Mapping):
        value = llm_output.get("model_name") or llm_output.get("model")
        if isinstance(value, str) and value:
            return value
    return None


def response_id(response: Any) -> str | None:
    for generations in getattr(response, "generations", None) or ():
        for generation in generations:
            message = getattr(generation, "message", None)
            value = getattr(message, "id", None) if message is not None else None
            if isinstance(value, str) and value and not value.startswith("run-") \
                    and not value.startswith("lc_run-"):
                return value
            metadata = getattr(message, "response_metadata", None) if message is not None else None
            if metadata and isinstance(metadata.get("id"), str):
                return metadata["id"]
    llm_output = getattr(response, "llm_output", None)  # langchain-openai's non-streamed calls
    if isinstance(llm_output, Mapping) and isinstance(llm_output.get("id"), str) and llm_output["id"]:
        return llm_output["id"]
    return None


def service_tier(response: Any) -> str | None:
    """The service tier the provider says it used (OpenAI's ``service_tier``), when reported."""
    llm_output = getattr(response, "llm_output", None)
    if llm_output and (type(llm_output) is dict or isinstance(llm_output, Mapping)) \
            and isinstance(llm_output.get("service_tier"), str):
        return llm_output["service_tier"] or None
    for generations in getattr(response, "generations", None) or ():
        for generation in generations:
            message = getattr(generation, "message", None)
            for source in (getattr(message, "response_metadata", None), getattr(generation, "generation_info", None)):
                if source and (type(source) is dict or isinstance(source, Mapping)) \
                        and type(tier := source.get("service_tier")) is str:
                    return tier or None
    return None


_FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")


def finish_reasons(response: Any) -> tuple[str, ...]:
    reasons: list[str] = []
    for generations in getattr(response, "generations", None) or ():
        for generation in generations:
            reason = None
            message = getattr(generation, "message", None)
            metadata = getattr(message, "response_metadata", None) if message is not None else None
            if metadata:
                reason = next((metadata[k] for k in _FINISH_KEYS if metadata.get(k)), None)
            if reason is None:
                info = getattr(generation, "generation_info", None)
                if info:
                    reason = next((info[k] for k in _FINISH_KEYS if info.get(k)), None)
            if reason is not None:
                reasons.append(str(reason))
    return tuple(reasons)


def output_text(response: Any) -> str:
    """All generated text of an ``LLMResult`` (content and tool-call arguments), for counting."""
    parts: list[str] = []
    for generations in getattr(response, "generations", None) or ():
        for generation in generations:
            message = getattr(generation, "message", None)
            if message is None:
                parts.append(getattr(generation, "text", "") or "")
                continue
            content = message.content
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                for block in content:
                    if isinstance(block, str):
                        parts.append(block)
                    elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
                        parts.append(block["text"])
            for call in getattr(message, "tool_calls", None) or ():
                parts.append(str(call.get("name", "")))
                parts.append(str(call.get("args", "")))
    return "".join(parts)


def is_bubble_up(error: BaseException) -> bool:
    """LangGraph control flow (interrupts, parent commands): not an error.

    Check ``handoff`` first: a parent command is control flow that ends its runs as ok.
    """
    try:
        from langgraph.errors import GraphBubbleUp
    except ImportError:  # pragma: no cover - langgraph is a dependency
        return False
    return isinstance(error, GraphBubbleUp)


def handoff(error: BaseException) -> list[str] | None:
    """Where a ``Command(graph=Command.PARENT)`` hands control to, or ``None`` for other errors.

    LangGraph raises such a command as ``ParentCommand`` (a ``GraphBubbleUp``) through every
    run between the node that returned it and the graph that applies it. While the node that
    returned it is ending, the command still names ``Command.PARENT``; LangGraph rewrites it to
    the target namespace before it reaches the levels above. So the destinations come back
    only there, and ``[]`` means "a handoff passing through".
    """
    try:
        from langgraph.errors import ParentCommand
    except ImportError:  # pragma: no cover - langgraph is a dependency
        return None
    if not isinstance(error, ParentCommand):
        return None
    command = error.args[0] if error.args else None
    if getattr(command, "graph", None) != getattr(type(command), "PARENT", "__parent__"):
        return []
    return goto_destinations(getattr(command, "goto", None))


def goto_destinations(goto: Any) -> list[str]:
    """Node names of a ``Command.goto``: a name, a ``Send``, or a sequence of those."""
    items = goto if isinstance(goto, (list, tuple)) else [goto]
    destinations: list[str] = []
    for item in items:
        if isinstance(item, str):
            destinations.append(item)
        else:
            node = getattr(item, "node", None)  # langgraph.types.Send
            if isinstance(node, str):
                destinations.append(node)
    return destinations


def is_cancellation(error: BaseException) -> bool:
    import asyncio

    return isinstance(error, (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt))
