"""The run table: one small record per open LangChain run, keyed by run id.

LangChain callbacks arrive in many shapes; the observer turns each into a ``Run`` of facts
(kind, names, ids, times, model, usage, outcome, error, captured content) and the dispatcher
hands it to the sinks, which map the facts to telemetry (genai_spans.py for spans, metrics.py,
logs.py) and read nothing else. The span sink keeps its state (span, context, previous
context) in three slots of the run itself, read and written only by spans.py: a separate
table keyed by run would cost a lookup on every callback and every child span start, and
the OpenTelemetry context the run makes current must reach the run's state without one. The table is bounded: runs that never
end (a stream abandoned without being closed, a task killed from outside) are force-ended
after a TTL or when the table passes its cap, so memory stays flat however the agent is used.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from enum import Enum
from typing import Any, Callable, Iterator
from uuid import UUID

from agent_obs import semconv as sc


class RunKind(str, Enum):
    """The kinds of ``semconv`` (the words replay uses for the spans they become)."""

    AGENT = sc.KIND_AGENT
    NODE = sc.KIND_NODE
    LLM = sc.KIND_LLM
    TOOL = sc.KIND_TOOL
    RETRIEVAL = sc.KIND_RETRIEVAL
    CHAIN = sc.KIND_CHAIN  # plumbing: routers, sequences inside a node; never a span


class Run:
    """One open run. Plain slots: this is created on every callback start."""

    __slots__ = (
        "run_id",
        "key",
        "kind",
        "name",
        "parent",
        "root",
        "start_ns",
        "start_mono",
        "end_mono",
        "outcome",
        "error",
        "node",
        "step",
        "checkpoint_ns",
        "attempt",
        "model",
        "provider",
        "operation",
        "input_tokens",
        "output_tokens",
        "usage_estimated",
        "usage_estimator",
        "cost_usd",
        "first_chunk_mono",
        "finish_reasons",
        "thread_id",
        "descendants",
        "steps",
        "interrupted",
        "attempts",
        "prompt",
        "response_model",
        "router",
        "handoff",
        "agent",
        "is_agent",
        # facts only the span shows (genai_spans.py), gathered while it records
        "triggers",
        "temperature",
        "max_tokens",
        "tool_call_id",
        "description",
        "resumed",
        "usage",
        "response_id",
        "service_tier",
        # captured content (capture on, span recording): (text, untruncated length)
        "input_content",
        "input_messages",
        "output_content",
        # the span sink's state, read and written only by spans.py (see its docstring)
        "span",
        "context",
        "previous_context",
    )

    def __init__(self, run_id: UUID, kind: RunKind, name: str, parent: Run | None,
                 now: float) -> None:
        self.run_id = run_id
        self.key = run_id.int if type(run_id) is UUID else run_id  # key_of, inline (per run)
        self.kind = kind
        self.name = name
        self.parent = parent  # nearest ancestor that is not plumbing
        self.root: Run = parent.root if parent is not None else self
        self.start_ns = time.time_ns()
        self.start_mono = now
        self.end_mono = 0.0
        self.outcome = ""  # empty while the run is open: RunContext reads it to know the run ended
        self.error: BaseException | None = None
        self.node: str | None = parent.node if parent is not None else None
        self.step: int | None = parent.step if parent is not None else None
        self.checkpoint_ns: str | None = None
        self.attempt = 1
        self.model: str | None = None
        self.provider: str | None = None
        self.operation: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.usage_estimated = False
        self.usage_estimator: str | None = None  # tokenizer or fallback used when estimated
        self.cost_usd: float | None = None
        self.first_chunk_mono = 0.0
        self.finish_reasons: tuple[str, ...] = ()
        self.thread_id: str | None = parent.thread_id if parent is not None else None
        # Only the root keeps these: open descendants (for cancellation and abandonment),
        # node executions counted as steps, and attempt numbers per LangGraph task.
        self.descendants: dict[Any, Run] | None = None
        self.steps = 0
        # The root: the run was interrupted. Any other run: an interrupt passed up through
        # it from a node below, which is where it was counted.
        self.interrupted = False
        self.attempts: dict[str, int] | None = None
        self.prompt: Any = None  # LLM input kept only for offline token counting
        self.response_model: str | None = None
        self.router = False  # a chain run that may be a router: its output is a route
        self.handoff: tuple[str, ...] = ()  # where this node handed control (Command.PARENT)
        # The agent this run belongs to: the top-level agent, or the named sub-agent whose
        # graph it runs in (see ``graph_runs.sub_agent``); metric labels and log fields use it.
        self.agent: str = parent.agent if parent is not None else name
        self.is_agent = False  # a chain run that is a named sub-agent's graph run
        self.triggers: Any = None  # a node's LangGraph triggers
        self.temperature: Any = None  # an LLM call's request parameters
        self.max_tokens: Any = None
        self.tool_call_id: Any = None
        self.description: Any = None  # a tool's description
        self.resumed = False  # a top-level run resuming an interrupted thread
        self.usage: Any = None  # extract.Usage as the provider reported it (cache, reasoning)
        self.response_id: str | None = None
        self.service_tier: str | None = None
        self.input_content: tuple[str, int] | None = None
        self.input_messages: tuple[str, int] | None = None
        self.output_content: tuple[str, int] | None = None
        self.span: Any = None  # spans.py's: the run's span, its context, the context before it
        self.context: Any = None
        self.previous_context: Any = None

    @property
    def duration(self) -> float:
        return max(self.end_mono - self.start_mono, 0.0)

    @property
    def is_root(self) -> bool:
        return self.parent is None


def key_of(run_id: Any) -> Any:
    """The table key of a run id: its integer (UUID hashing is a Python-level call)."""
    return run_id.int if type(run_id) is UUID else run_id


class RunTable:
    """run_id -> Run for open runs, with the top-level runs in start order for eviction.

    Plumbing runs are stored too (their record points at the span-carrying ancestor), so a
    grandchild always finds its parent. Dict operations are atomic under the GIL; the lock
    guards only eviction, which walks and mutates several entries.
    """

    def __init__(self, *, max_runs: int = 10_000, ttl_seconds: float = 3600.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if max_runs < 1:
            raise ValueError("max_runs must be at least 1")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.max_runs = max_runs
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._runs: dict[Any, Run] = {}
        self._roots: OrderedDict[Any, Run] = OrderedDict()
        self._lock = threading.Lock()
        self._starts_since_sweep = 0

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: UUID | None) -> Run | None:
        if run_id is None:
            return None
        return self._runs.get(run_id.int if type(run_id) is UUID else run_id)  # key_of, inline

    def add(self, run: Run) -> None:
        key = run.key
        self._runs[key] = run
        root = run.root
        if root is run:
            run.descendants = {}
            run.attempts = {}
            self._roots[key] = run
        elif root.descendants is not None:
            root.descendants[key] = run

    def pop(self, run_id: Any) -> Run | None:
        key = run_id.int if type(run_id) is UUID else run_id  # key_of, inline: every end callback
        run = self._runs.pop(key, None)
        if run is None:
            return None
        root = run.root
        if root is run:
            self._roots.pop(key, None)
        elif root.descendants is not None:
            root.descendants.pop(key, None)
        return run

    def open_descendants(self, root: Run) -> list[Run]:
        """Open runs under ``root``, newest first (so children end before their parents)."""
        if not root.descendants:
            return []
        return list(reversed(list(root.descendants.values())))

    def due_for_sweep(self, every: int = 256) -> bool:
        self._starts_since_sweep += 1
        if self._starts_since_sweep >= every or len(self._runs) > self.max_runs:
            self._starts_since_sweep = 0
            return True
        return False

    def evictable(self) -> Iterator[tuple[Run, str]]:
        """Top-level runs to force-end: past the TTL, or the oldest while over the cap."""
        now = self._clock()
        with self._lock:
            # A snapshot: other threads add and remove roots without taking the lock.
            roots = list(self._roots.values())
            victims: list[tuple[Run, str]] = []
            for root in roots:
                if now - root.start_mono > self.ttl_seconds:
                    victims.append((root, sc.ABANDONED_TTL))
                else:
                    break
            # Over the cap, evict down to 90% of it so that sweeps are not needed per start.
            excess = len(self._runs) - self.max_runs
            if excess > 0:
                excess += self.max_runs // 10
                chosen = {id(r) for r, _ in victims}
                for root in roots:
                    if excess <= 0:
                        break
                    if id(root) not in chosen:
                        victims.append((root, sc.ABANDONED_CAP))
                    excess -= 1 + len(root.descendants or ())
        return iter(victims)

    def all_roots(self) -> list[Run]:
        return list(self._roots.values())
