"""Re-run a recorded run deterministically and report where the new run diverges.

The recorded LLM outputs (captured content) are served in order by ``ReplayChatModel``, so no
LLM is called; the tools and nodes run for real. Comparing the re-run's spans with the
recorded ones shows what a changed tool or prompt did::

    report = rerun(trace, lambda model: build_graph(model), inputs={"messages": [...]})
    report.ok            # True when node path, tool arguments and tool results all match
    report.divergences   # e.g. [Divergence("tool_result", "lookup#1", "'42'", "'43'", ...)]

``build_graph`` receives the replay chat model and returns the compiled graph. ``inputs``
defaults to the recorded graph input (the agent span's input messages, or else the user
messages of the first LLM call) for message-based graphs.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from agent_obs import semconv as sc
from agent_obs.replay.load import ReplayError
from agent_obs.replay.model import KIND_LLM, KIND_NODE, KIND_TOOL, SpanNode, Trace

NEEDS_CONTENT = (
    "re-running needs captured content: record the run with AgentObserver(capture_content=True) "
    "or AGENT_OBS_CAPTURE_CONTENT=true"
)


class ReplayExhausted(RuntimeError):
    """The re-run asked for more LLM responses than the recorded run had."""


def _arguments(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if value in (None, ""):
        return {}
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        raise ReplayError(f"recorded tool-call arguments are not JSON (truncated?): {str(value)[:80]!r}") from None
    return parsed if isinstance(parsed, dict) else {"input": parsed}


def message_from_genai(message: dict[str, Any]) -> BaseMessage:
    """One GenAI-format message (role + parts) as a LangChain message."""
    role = message.get("role")
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    responses: list[tuple[str, Any]] = []
    for part in message.get("parts") or ():
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("content", "")))
        elif kind == "tool_call":
            tool_calls.append(
                {"name": part.get("name", ""), "args": _arguments(part.get("arguments")),
                 "id": part.get("id"), "type": "tool_call"}
            )
        elif kind == "tool_call_response":
            responses.append((str(part.get("id", "")), part.get("response", "")))
    text = "".join(texts)
    if role == "assistant":
        metadata = {"finish_reason": message["finish_reason"]} if message.get("finish_reason") else {}
        return AIMessage(content=text, tool_calls=tool_calls, response_metadata=metadata)
    if role == "system":
        return SystemMessage(content=text)
    if role == "tool" and responses:
        call_id, response = responses[0]
        content = response if isinstance(response, str) else json.dumps(response)
        return ToolMessage(content=content, tool_call_id=call_id)
    return HumanMessage(content=text)


class ReplayChatModel(BaseChatModel):
    """A chat model that answers with recorded responses, in order, and never calls an LLM.

    ``bind_tools`` returns the model itself: the tool calls are already in the recording.
    Asking for more responses than were recorded raises ``ReplayExhausted``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responses: list[AIMessage] = Field(default_factory=list)
    models: list[str | None] = Field(default_factory=list)
    model_name: str = "replay"
    _index: int = PrivateAttr(default=0)
    _requested: int = PrivateAttr(default=0)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def from_trace(cls, trace: Trace) -> ReplayChatModel:
        """The recorded outputs of every LLM call of the trace's first agent run."""
        calls = [s for s in trace.root.walk() if s.kind == KIND_LLM]
        calls.sort(key=lambda s: s.start_ns)
        if not calls:
            raise ReplayError(f"trace {trace.trace_id} has no LLM calls to replay")
        responses: list[AIMessage] = []
        for span in calls:
            if sc.GEN_AI_OUTPUT_MESSAGES not in span.attributes:
                raise ReplayError(NEEDS_CONTENT)
            if sc.GEN_AI_OUTPUT_MESSAGES + sc.CONTENT_TRUNCATED_SUFFIX in span.attributes:
                raise ReplayError(
                    f"the output of {span.name} was truncated when recorded; raise max_content_length to re-run"
                )
            messages = span.output_messages or []
            first = message_from_genai(messages[0]) if messages else AIMessage(content="")
            if not isinstance(first, AIMessage):
                first = AIMessage(content=str(first.content))
            first.usage_metadata = {
                "input_tokens": span.input_tokens,
                "output_tokens": span.output_tokens,
                "total_tokens": span.input_tokens + span.output_tokens,
            }
            if span.model:
                first.response_metadata = {**first.response_metadata, "model_name": span.model}
            responses.append(first)
        return cls(responses=responses, models=[s.model for s in calls], model_name=calls[0].model or "replay")

    @property
    def _llm_type(self) -> str:
        return "replay"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    @property
    def used(self) -> int:
        """How many recorded responses have been served."""
        return self._index

    @property
    def requested(self) -> int:
        """How many responses the re-run asked for (more than recorded means it diverged)."""
        return self._requested

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ReplayChatModel:  # type: ignore[override]
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            self._requested += 1
            if self._index >= len(self.responses):
                raise ReplayExhausted(
                    f"the re-run asked for LLM response {self._index + 1}; the recording has {len(self.responses)}"
                )
            recorded = self.responses[self._index]
            self._index += 1
        message = recorded.model_copy(deep=True)
        message.id = f"replay-{uuid.uuid4().hex[:12]}"
        return ChatResult(generations=[ChatGeneration(message=message)])


@dataclass(frozen=True)
class Divergence:
    """One difference between the recorded run and the re-run."""

    kind: str  # node_path, tool_arguments, tool_result, tool_error, tool_call_missing, tool_call_extra, llm_calls
    where: str
    recorded: Any
    replayed: Any

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}: recorded {self.recorded!r}, re-run {self.replayed!r}"


@dataclass
class RerunReport:
    recorded: Trace
    replayed: Trace | None
    divergences: list[Divergence] = field(default_factory=list)
    error: BaseException | None = None
    output: Any = None

    @property
    def ok(self) -> bool:
        return not self.divergences and self.error is None

    @property
    def node_path(self) -> list[str]:
        return _node_path(self.replayed.root) if self.replayed is not None else []

    def __str__(self) -> str:
        if self.ok:
            return f"re-run matches the recording ({len(self.node_path)} node runs, no divergence)"
        lines = [f"{len(self.divergences)} divergence(s):"] + [f"  - {d}" for d in self.divergences]
        if self.error is not None:
            lines.append(f"  re-run raised {type(self.error).__name__}: {self.error}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(str(self)) + "</pre>"


def _of_kind(root: SpanNode, kind: str) -> list[SpanNode]:
    return sorted((s for s in root.walk() if s.kind == kind), key=lambda s: s.start_ns)


def _node_path(root: SpanNode) -> list[str]:
    return [s.node or "" for s in _of_kind(root, KIND_NODE)]


def recorded_inputs(trace: Trace) -> dict[str, Any]:
    """The graph input of a message-based graph, rebuilt from captured content."""
    agent = trace.root
    messages = agent.input_messages
    if not messages:
        llm = _of_kind(agent, KIND_LLM)
        if not llm or llm[0].input_messages is None:
            raise ReplayError(NEEDS_CONTENT)
        messages = [m for m in llm[0].input_messages if m.get("role") != "system"]
        leading = []
        for message in messages:
            if message.get("role") != "user":
                break
            leading.append(message)
        messages = leading
    if not messages:
        raise ReplayError("cannot tell the graph input from the recording; pass inputs=")
    return {"messages": [message_from_genai(m) for m in messages]}


def _same_arguments(a: str | None, b: str | None) -> bool:
    if a == b:
        return True
    try:
        return json.loads(a or "null") == json.loads(b or "null")
    except ValueError:
        return False


def compare(recorded: SpanNode, replayed: SpanNode, *, llm_used: int | None = None,
            llm_recorded: int | None = None) -> list[Divergence]:
    """Divergences between two agent runs: node path, then each tool call, then LLM calls."""
    out: list[Divergence] = []
    old_path, new_path = _node_path(recorded), _node_path(replayed)
    if old_path != new_path:
        index = next((i for i, (a, b) in enumerate(zip(old_path, new_path)) if a != b), min(len(old_path), len(new_path)))
        out.append(Divergence("node_path", f"node run {index + 1}", old_path[index:], new_path[index:]))
    old_tools, new_tools = _of_kind(recorded, KIND_TOOL), _of_kind(replayed, KIND_TOOL)
    unmatched = list(new_tools)
    seen: dict[str, int] = {}
    for old in old_tools:
        name = old.tool_name or old.name
        seen[name] = seen.get(name, 0) + 1
        where = f"{name}#{seen[name]}"
        match = next((n for n in unmatched if old.tool_call_id and n.tool_call_id == old.tool_call_id), None)
        if match is None:
            match = next((n for n in unmatched if (n.tool_name or n.name) == name), None)
        if match is None:
            out.append(Divergence("tool_call_missing", where, old.tool_arguments, None))
            continue
        unmatched.remove(match)
        if not _same_arguments(old.tool_arguments, match.tool_arguments):
            out.append(Divergence("tool_arguments", where, old.tool_arguments, match.tool_arguments))
        elif old.is_error != match.is_error:
            out.append(Divergence("tool_error", where, old.exception or old.status, match.exception or match.status))
        elif old.tool_result != match.tool_result:
            out.append(Divergence("tool_result", where, old.tool_result, match.tool_result))
    for new in unmatched:
        out.append(Divergence("tool_call_extra", new.tool_name or new.name, None, new.tool_arguments))
    if llm_used is not None and llm_recorded is not None and llm_used != llm_recorded:
        out.append(Divergence("llm_calls", "run", llm_recorded, llm_used))
    return out


def rerun(
    trace: Trace,
    build_graph: Callable[[BaseChatModel], Any],
    *,
    inputs: Any = None,
    config: dict[str, Any] | None = None,
    logger: Any = None,
) -> RerunReport:
    """Run ``build_graph(replay_model)`` on the recorded input and compare it with ``trace``.

    Telemetry of the re-run goes to a private tracer provider and registry, never to the
    globals; ``logger`` (default loguru's) receives its log records. Exceptions of the
    re-run are returned in the report, not raised.
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry

    from agent_obs.observer import AgentObserver
    from agent_obs.otlp_json import encode_spans_dict, iter_spans

    if not trace.agent_spans:
        raise ReplayError(f"trace {trace.trace_id} holds no agent run")
    model = ReplayChatModel.from_trace(trace)
    graph_input = inputs if inputs is not None else recorded_inputs(trace)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = AgentObserver(
        tracer_provider=provider,
        registry=CollectorRegistry(),
        logger=logger,
        capture_content=True,
        agent_name=trace.agent_name or None,
    )
    run_config = dict(config or {})
    run_config["callbacks"] = [*run_config.get("callbacks", []), observer]
    # A graph with a checkpointer needs a thread; a fresh one keeps the re-run from resuming
    # (or polluting) a real conversation.
    configurable = dict(run_config.get("configurable") or {})
    configurable.setdefault("thread_id", f"replay-{uuid.uuid4().hex[:12]}")
    run_config["configurable"] = configurable
    report_error: BaseException | None = None
    output = None
    try:
        graph = build_graph(model)
        output = graph.invoke(graph_input, config=run_config)
    except Exception as exc:  # noqa: BLE001 - the report carries it
        report_error = exc
    finally:
        provider.force_flush()
        spans = exporter.get_finished_spans()
        provider.shutdown()
    replayed = None
    divergences: list[Divergence] = []
    if spans:
        flat = list(iter_spans(encode_spans_dict(spans)))
        replayed = Trace.from_spans(flat)
    if replayed is not None and replayed.agent_spans:
        divergences = compare(trace.root, replayed.root, llm_used=model.requested, llm_recorded=len(model.responses))
    return RerunReport(recorded=trace, replayed=replayed, divergences=divergences, error=report_error, output=output)
