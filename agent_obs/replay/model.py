"""The in-memory model of a recorded run: a tree of spans with typed access to what they mean.

Both loaders (trace file, Tempo) build it from plain OTLP data via ``agent_obs.otlp_json``, so
everything downstream (tree, timeline, HTML page, aggregates, re-run) works the same wherever
the trace came from::

    trace = Trace.from_spans(flat_spans)
    trace.agent_name, trace.outcome, trace.duration_ms, trace.node_path
    for call in trace.llm_calls(): call.model, call.input_tokens, call.output_messages
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from agent_obs import semconv as sc
from agent_obs.otlp_json import STATUS_CODE_ERROR, FlatSpan, SpanEvent

KIND_AGENT = sc.KIND_AGENT
KIND_NODE = sc.KIND_NODE
KIND_LLM = sc.KIND_LLM
KIND_TOOL = sc.KIND_TOOL
KIND_RETRIEVAL = sc.KIND_RETRIEVAL
KIND_OTHER = sc.KIND_OTHER

_OPERATION_KINDS = {
    sc.OP_INVOKE_AGENT: KIND_AGENT,
    sc.OP_CHAT: KIND_LLM,
    sc.OP_TEXT_COMPLETION: KIND_LLM,
    sc.OP_EXECUTE_TOOL: KIND_TOOL,
    sc.OP_RETRIEVAL: KIND_RETRIEVAL,
}


def _json_or_none(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


@dataclass(eq=False)
class SpanNode:
    """One span in the tree, with accessors named after what the attributes mean."""

    span: FlatSpan
    parent: SpanNode | None = None
    children: list[SpanNode] = field(default_factory=list)

    # --- generic ---------------------------------------------------------------------
    @property
    def span_id(self) -> str:
        return self.span.span_id

    @property
    def name(self) -> str:
        return self.span.name

    @property
    def attributes(self) -> dict[str, Any]:
        return self.span.attributes

    @property
    def events(self) -> tuple[SpanEvent, ...]:
        return self.span.events

    @property
    def start_ns(self) -> int:
        return self.span.start_time_unix_nano

    @property
    def end_ns(self) -> int:
        return self.span.end_time_unix_nano

    @property
    def duration_ms(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e6

    @property
    def kind(self) -> str:
        """agent, node, llm, tool, retrieval or other (an HTTP, SQL or user span)."""
        op = self.attributes.get(sc.GEN_AI_OPERATION_NAME)
        if op in _OPERATION_KINDS:
            return _OPERATION_KINDS[op]
        if sc.LANGGRAPH_NODE in self.attributes:
            return KIND_NODE
        return KIND_OTHER

    @property
    def is_error(self) -> bool:
        return self.span.status_code == STATUS_CODE_ERROR

    @property
    def status(self) -> str:
        """The outcome vocabulary: ok, error, interrupted or cancelled."""
        explicit = self.attributes.get(sc.OUTCOME)
        if explicit in sc.OUTCOMES:
            return explicit
        if self.is_error:
            return sc.OUTCOME_ERROR
        if self.attributes.get(sc.LANGGRAPH_INTERRUPTED):
            return sc.OUTCOME_INTERRUPTED
        return sc.OUTCOME_OK

    @property
    def error_type(self) -> str | None:
        return self.attributes.get(sc.ERROR_TYPE)

    @property
    def exception(self) -> tuple[str, str] | None:
        """(type, message) of the first recorded exception event."""
        for event in self.events:
            if event.name == "exception":
                return (
                    str(event.attributes.get("exception.type", "")),
                    str(event.attributes.get("exception.message", "")),
                )
        return None

    # --- agent and node ------------------------------------------------------------------
    @property
    def agent_name(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_AGENT_NAME)

    @property
    def conversation_id(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_CONVERSATION_ID)

    @property
    def node(self) -> str | None:
        return self.attributes.get(sc.LANGGRAPH_NODE)

    @property
    def step(self) -> int | None:
        return self.attributes.get(sc.LANGGRAPH_STEP)

    @property
    def attempt(self) -> int:
        return int(self.attributes.get(sc.LANGGRAPH_ATTEMPT, 1) or 1)

    @property
    def interrupted(self) -> bool:
        return bool(self.attributes.get(sc.LANGGRAPH_INTERRUPTED))

    @property
    def routes(self) -> list[tuple[str, ...]]:
        """Router decisions recorded on this node: the destinations of each."""
        return [
            tuple(e.attributes.get(sc.ROUTE_DESTINATIONS, ()) or ())
            for e in self.events
            if e.name == sc.EVENT_ROUTE
        ]

    @property
    def handoffs(self) -> list[tuple[str, ...]]:
        """Handoffs (``Command(graph=Command.PARENT)``) made by this node: their destinations."""
        return [
            tuple(e.attributes.get(sc.HANDOFF_DESTINATIONS, ()) or ())
            for e in self.events
            if e.name == sc.EVENT_HANDOFF
        ]

    # --- LLM -----------------------------------------------------------------------------
    @property
    def model(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_RESPONSE_MODEL) or self.attributes.get(sc.GEN_AI_REQUEST_MODEL)

    @property
    def request_model(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_REQUEST_MODEL)

    @property
    def provider(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_PROVIDER_NAME)

    @property
    def input_tokens(self) -> int:
        return int(self.attributes.get(sc.GEN_AI_USAGE_INPUT_TOKENS, 0) or 0)

    @property
    def output_tokens(self) -> int:
        return int(self.attributes.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS, 0) or 0)

    @property
    def cost_usd(self) -> float | None:
        value = self.attributes.get(sc.COST_USD)
        return float(value) if value is not None else None

    @property
    def ttft_s(self) -> float | None:
        value = self.attributes.get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        return float(value) if value is not None else None

    @property
    def finish_reasons(self) -> tuple[str, ...]:
        return tuple(self.attributes.get(sc.GEN_AI_RESPONSE_FINISH_REASONS, ()) or ())

    @property
    def input_messages(self) -> list[dict[str, Any]] | None:
        """The captured prompt in GenAI message format, or None when not captured."""
        return _json_or_none(self.attributes.get(sc.GEN_AI_INPUT_MESSAGES))

    @property
    def output_messages(self) -> list[dict[str, Any]] | None:
        return _json_or_none(self.attributes.get(sc.GEN_AI_OUTPUT_MESSAGES))

    # --- tool ----------------------------------------------------------------------------
    @property
    def tool_name(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_TOOL_NAME)

    @property
    def tool_call_id(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_TOOL_CALL_ID)

    @property
    def tool_arguments(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_TOOL_CALL_ARGUMENTS)

    @property
    def tool_result(self) -> str | None:
        return self.attributes.get(sc.GEN_AI_TOOL_CALL_RESULT)

    @property
    def content_truncated(self) -> bool:
        return any(key.endswith(sc.CONTENT_TRUNCATED_SUFFIX) for key in self.attributes)

    # --- tree ----------------------------------------------------------------------------
    def walk(self) -> Iterator[SpanNode]:
        """This span and its descendants, depth first, children in start order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def depth(self) -> int:
        depth, node = 0, self.parent
        while node is not None:
            depth, node = depth + 1, node.parent
        return depth

    def __repr__(self) -> str:
        return f"SpanNode({self.name!r}, kind={self.kind}, status={self.status}, {self.duration_ms:.1f} ms)"


@dataclass(frozen=True)
class LLMCall:
    """One chat/completion call, for tables and re-runs."""

    span: SpanNode
    node: str | None
    model: str | None
    provider: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    ttft_s: float | None
    duration_ms: float
    finish_reasons: tuple[str, ...]
    input_messages: list[dict[str, Any]] | None
    output_messages: list[dict[str, Any]] | None

    def as_row(self) -> dict[str, Any]:
        return {
            "node": self.node or "",
            "model": self.model or "",
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "ttft_s": self.ttft_s,
            "duration_ms": round(self.duration_ms, 3),
            "finish_reasons": ",".join(self.finish_reasons),
            "status": self.span.status,
        }


@dataclass(frozen=True)
class ToolCall:
    span: SpanNode
    node: str | None
    name: str
    call_id: str | None
    arguments: str | None
    result: str | None
    error: tuple[str, str] | None
    duration_ms: float

    @property
    def parsed_arguments(self) -> Any:
        return _json_or_none(self.arguments)


@dataclass(frozen=True)
class TraceSummary:
    """One line of a trace listing (from a file or from Tempo's search)."""

    trace_id: str
    agent: str
    start_ns: int
    duration_ms: float
    outcome: str
    span_count: int = 0
    root_name: str = ""

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ns / 1e9, tz=timezone.utc)


def _enclosing_node(span: SpanNode) -> str | None:
    node = span.parent
    while node is not None:
        if node.kind == KIND_NODE:
            return node.node
        node = node.parent
    return None


class Trace:
    """One trace: every span of it as a tree, and the agent run(s) inside it."""

    def __init__(self, trace_id: str, spans: list[SpanNode]) -> None:
        self.trace_id = trace_id
        self.spans = sorted(spans, key=lambda s: (s.start_ns, s.depth()))
        self.roots = [s for s in self.spans if s.parent is None]

    @classmethod
    def from_spans(cls, spans: Iterable[FlatSpan]) -> Trace:
        """Build the tree; duplicates (same span id) keep the first copy."""
        by_id: dict[str, SpanNode] = {}
        trace_id = ""
        for flat in spans:
            trace_id = trace_id or flat.trace_id
            by_id.setdefault(flat.span_id, SpanNode(flat))
        for node in by_id.values():
            parent = by_id.get(node.span.parent_span_id or "")
            if parent is not None and parent is not node:
                node.parent = parent
                parent.children.append(node)
        for node in by_id.values():
            node.children.sort(key=lambda c: c.start_ns)
        return cls(trace_id, list(by_id.values()))

    # --- the agent run -------------------------------------------------------------------
    @property
    def agent_spans(self) -> list[SpanNode]:
        """Top-level agent runs in this trace (usually one)."""
        return [s for s in self.spans if s.kind == KIND_AGENT]

    @property
    def root(self) -> SpanNode:
        """The first agent run's span, or the first root when the trace has no agent run."""
        agents = self.agent_spans
        return agents[0] if agents else self.roots[0]

    @property
    def agent_name(self) -> str:
        agents = self.agent_spans
        return (agents[0].agent_name or "") if agents else ""

    @property
    def start_ns(self) -> int:
        return min(s.start_ns for s in self.spans)

    @property
    def end_ns(self) -> int:
        return max(s.end_ns for s in self.spans)

    @property
    def duration_ms(self) -> float:
        return self.root.duration_ms

    @property
    def outcome(self) -> str:
        return self.root.status

    def of_kind(self, kind: str) -> list[SpanNode]:
        return [s for s in self.spans if s.kind == kind]

    @property
    def node_path(self) -> list[str]:
        """Node names in execution order (retries appear once per attempt)."""
        return [s.node or "" for s in self.of_kind(KIND_NODE)]

    def llm_calls(self) -> list[LLMCall]:
        return [
            LLMCall(
                span=s,
                node=_enclosing_node(s),
                model=s.model,
                provider=s.provider,
                input_tokens=s.input_tokens,
                output_tokens=s.output_tokens,
                cost_usd=s.cost_usd,
                ttft_s=s.ttft_s,
                duration_ms=s.duration_ms,
                finish_reasons=s.finish_reasons,
                input_messages=s.input_messages,
                output_messages=s.output_messages,
            )
            for s in self.of_kind(KIND_LLM)
        ]

    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(
                span=s,
                node=_enclosing_node(s),
                name=s.tool_name or s.name,
                call_id=s.tool_call_id,
                arguments=s.tool_arguments,
                result=s.tool_result,
                error=s.exception if s.is_error else None,
                duration_ms=s.duration_ms,
            )
            for s in self.of_kind(KIND_TOOL)
        ]

    @property
    def content_captured(self) -> bool:
        """True when every LLM call has its output messages (needed to re-run)."""
        calls = self.of_kind(KIND_LLM)
        return bool(calls) and all(sc.GEN_AI_OUTPUT_MESSAGES in c.attributes for c in calls)

    @property
    def input_tokens(self) -> int:
        return sum(s.input_tokens for s in self.of_kind(KIND_LLM))

    @property
    def output_tokens(self) -> int:
        return sum(s.output_tokens for s in self.of_kind(KIND_LLM))

    @property
    def cost_usd(self) -> float:
        return sum(s.cost_usd or 0.0 for s in self.of_kind(KIND_LLM))

    def summary(self) -> TraceSummary:
        return TraceSummary(
            trace_id=self.trace_id,
            agent=self.agent_name,
            start_ns=self.root.start_ns,
            duration_ms=self.duration_ms,
            outcome=self.outcome,
            span_count=len(self.spans),
            root_name=self.roots[0].name if self.roots else "",
        )

    def span(self, span_id: str) -> SpanNode:
        for s in self.spans:
            if s.span_id == span_id:
                return s
        raise KeyError(span_id)

    def __len__(self) -> int:
        return len(self.spans)

    def __repr__(self) -> str:
        return (
            f"Trace({self.trace_id}, agent={self.agent_name!r}, outcome={self.outcome}, "
            f"{len(self.spans)} spans, {self.duration_ms:.1f} ms)"
        )

    def _repr_html_(self) -> str:
        from agent_obs.replay.tree import tree_html

        return tree_html(self)
