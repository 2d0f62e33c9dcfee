"""The chat model: a deterministic scripted model by default, OpenAI when a key is set.

``ScriptedChatModel`` behaves like a tool-calling provider so the agent and its telemetry
run with no network and no key: it first asks for the three tools, then answers with JSON
recommendations built from the issues and tool results in the conversation. It reports
``usage_metadata`` (tokens counted as characters / 4, like a rough tokenizer), a
``response_metadata`` with ``model_name`` and ``finish_reason``, and streams through
``_stream`` so time-to-first-chunk is real. ``build_chat_model`` picks langchain-openai's
``ChatOpenAI`` instead when ``OPENAI_API_KEY`` is set; no code changes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from .settings import OptimizerSettings

SCRIPTED_MODEL = "scripted-optimizer-1"
SCRIPTED_PROVIDER = "scripted"

# issue type -> (action, base estimated improvement %, risk)
_PLAYBOOK: dict[str, tuple[str, float, str]] = {
    "full_table_scan": ("Add a filter on the partition column so Dremio can prune partitions", 45.0, "low"),
    "missing_reflection": ("Create an aggregation reflection on the grouped dimensions and measures", 70.0, "medium"),
    "join_explosion": ("Rewrite the join on an equality key instead of a LIKE predicate", 80.0, "high"),
    "data_skew": ("Salt the hot grouping key or pre-aggregate it before the shuffle", 35.0, "medium"),
    "spill_to_disk": ("Route the job to a queue with more memory per node, or reduce the sorted columns", 30.0, "low"),
    "small_files": ("Compact the table with OPTIMIZE TABLE ... REWRITE DATA (target 256 MB files)", 55.0, "medium"),
    "select_star": ("Select only the columns the report uses", 15.0, "low"),
}
_SEVERITY_FACTOR = {"low": 0.6, "medium": 0.8, "high": 1.0, "critical": 1.1}
_JSON_BLOCK = re.compile(r"```json\s*(\{.*?\})\s*```", re.DOTALL)


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


class ScriptedChatModel(BaseChatModel):
    """A deterministic, tool-calling, streaming chat model for the optimizer agent."""

    model_name: str = SCRIPTED_MODEL
    chunk_chars: int = 48

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = SCRIPTED_PROVIDER
        params["ls_model_name"] = self.model_name
        return params

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    # --- generation ---------------------------------------------------------------------
    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        message = self._respond(messages)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        message = self._respond(messages)
        if message.tool_calls:
            for index, call in enumerate(message.tool_calls):
                yield ChatGenerationChunk(message=AIMessageChunk(
                    content="", id=message.id,
                    tool_call_chunks=[{"name": call["name"], "args": json.dumps(call["args"]),
                                       "id": call["id"], "index": index, "type": "tool_call_chunk"}]))
        else:
            text = _text(message)
            for start in range(0, len(text), self.chunk_chars):
                yield ChatGenerationChunk(message=AIMessageChunk(content=text[start:start + self.chunk_chars], id=message.id))
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", id=message.id, usage_metadata=message.usage_metadata,
            response_metadata=dict(message.response_metadata), chunk_position="last"))

    def _respond(self, messages: list[BaseMessage]) -> AIMessage:
        prompt = "\n".join(_text(m) for m in messages)
        request = _request_from(messages)
        turn = _tool_results_since_last_human(messages)
        if turn is None:
            calls = _tool_calls_for(request)
            content, finish = "", "tool_calls"
        else:
            calls = []
            content, finish = json.dumps(_recommendations(request, turn), indent=1), "stop"
        digest = hashlib.sha256((prompt + content).encode()).hexdigest()[:16]
        output_tokens = _tokens(content + json.dumps([c["args"] for c in calls]))
        input_tokens = _tokens(prompt)
        return AIMessage(
            content=content, tool_calls=calls, id=f"scripted-{digest}",
            usage_metadata={"input_tokens": input_tokens, "output_tokens": output_tokens,
                            "total_tokens": input_tokens + output_tokens},
            response_metadata={"model_name": self.model_name, "finish_reason": finish,
                               "model_provider": SCRIPTED_PROVIDER},
        )


def _request_from(messages: list[BaseMessage]) -> dict[str, Any]:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            match = _JSON_BLOCK.search(_text(message))
            if match:
                try:
                    return json.loads(match.group(1))
                except ValueError:
                    break
    return {"job_id": "", "datasets": [], "issues": []}


def _tool_results_since_last_human(messages: list[BaseMessage]) -> list[ToolMessage] | None:
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, ToolMessage):
            results.append(message)
    return results or None


def _tool_calls_for(request: dict[str, Any]) -> list[dict[str, Any]]:
    job_id = request.get("job_id", "")
    datasets = request.get("datasets") or [""]
    main = datasets[0]
    seed = hashlib.sha256(job_id.encode()).hexdigest()[:8]
    return [
        {"name": "table_statistics", "args": {"dataset": main}, "id": f"call_{seed}_stats", "type": "tool_call"},
        {"name": "existing_reflections", "args": {"dataset": main}, "id": f"call_{seed}_refl", "type": "tool_call"},
        {"name": "explain_plan", "args": {"job_id": job_id}, "id": f"call_{seed}_plan", "type": "tool_call"},
    ]


def _recommendations(request: dict[str, Any], tool_results: list[ToolMessage]) -> dict[str, Any]:
    failed = sorted(m.name or "tool" for m in tool_results if m.status == "error")
    stats = next((m for m in tool_results if m.name == "table_statistics" and m.status != "error"), None)
    rows = 0
    if stats is not None:
        try:
            rows = int(json.loads(_text(stats)).get("rowCount") or 0)
        except (ValueError, AttributeError, TypeError):
            rows = 0
    recs = []
    for issue in request.get("issues", []):
        action, base, risk = _PLAYBOOK.get(issue["issue_type"], ("Review the query plan", 10.0, "low"))
        if issue["issue_type"] == "missing_reflection" and rows >= 1_000_000_000:
            risk = "high"  # a reflection over a billion rows costs real storage and refresh time
        estimate = round(min(95.0, base * _SEVERITY_FACTOR.get(issue["severity"], 1.0)), 1)
        if failed:
            estimate = round(estimate * 0.8, 1)  # less evidence, more modest estimate
        recs.append({"issue_type": issue["issue_type"], "title": issue.get("summary", issue["issue_type"]),
                     "action": action, "estimated_improvement_pct": estimate, "risk": risk})
    note = f"Tools unavailable: {', '.join(failed)}; estimates are conservative." if failed else ""
    return {"recommendations": recs, "notes": note}


def build_chat_model(settings: OptimizerSettings) -> BaseChatModel:
    """OpenAI when asked for (or a key is set), else the scripted model."""
    if settings.wants_openai:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=settings.model, temperature=0, stream_usage=True)
    return ScriptedChatModel()
