"""Re-run a recorded optimizer run deterministically, and see what a changed tool does.

A run recorded with content capture on (``agent-obs demo`` records that way) holds what a
re-run needs: every LLM output, which ``agent_obs.replay.ReplayChatModel`` serves back in
order, and the graph input (``agent_obs.graph.input`` on the ``invoke_agent`` span; in older
recordings, the job id on the ``analysis.analyze_query`` span). The nodes and tools run for
real, against the local Dremio stand-in and an in-memory SQLite database that live only for
the re-run, so replaying never touches the service's data::

    from agent_obs.replay import load_file
    from agent_obs_example.replay import rerun_optimizer

    trace = load_file("telemetry/traces.jsonl").latest()
    print(rerun_optimizer(trace))                                   # no divergence
    print(rerun_optimizer(trace, replace_tools=[my_explain_plan]))  # tool_result at explain_plan#1

The lower-level pieces, for a custom re-run (another Dremio, your own tools)::

    with ReplaySandbox(dremio_url=None) as sandbox:
        report = rerun(trace, sandbox.build_graph, inputs=replay_inputs(trace))

A run that resumed an approval (``Command(resume=...)``) starts from a checkpoint that only
the live service had; re-run the run that was interrupted instead (same conversation id).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from opentelemetry import trace as otel_trace
from prometheus_client import CollectorRegistry

from agent_obs import semconv as sc
from agent_obs.replay.load import ReplayError
from agent_obs.replay.model import KIND_AGENT, Trace
from agent_obs.replay.rerunner import RerunReport, rerun

from .agent import AGENT_NAME, AgentDeps, build_graph
from .analysis import ATTR_JOB_ID, SPAN_ANALYZE_QUERY, AnalysisService
from .db import Database
from .dremio import DremioClient
from .events import OptimizerEvents
from .metrics import OptimizerMetrics
from .quietlog import private_logger
from .standin import DremioStandIn
from .tools import make_tools

INPUT_KEYS = ("run_id", "job_id", "trace_id")


class ReplaySandbox:
    """The optimizer's collaborators for re-runs: Dremio (the stand-in unless ``dremio_url``
    is given), a throwaway SQLite database, a private registry and a silent logger.

    ``start()`` (or ``with``) brings them up; ``close()`` is idempotent and releases them.
    Analysis spans go to ``tracer_provider`` (default: none recorded), never to the globals.
    """

    def __init__(self, *, dremio_url: str | None = None, dremio_token: str | None = None,
                 database_url: str = "sqlite://", tracer_provider: Any = None, logger: Any = None,
                 approval_required_risk: str = "high") -> None:
        self._dremio_url = dremio_url
        self._dremio_token = dremio_token
        self._database_url = database_url
        self.tracer_provider = tracer_provider if tracer_provider is not None else otel_trace.NoOpTracerProvider()
        self.logger = logger if logger is not None else private_logger()
        self.approval_required_risk = approval_required_risk
        self.registry = CollectorRegistry()
        self.metrics = OptimizerMetrics(self.registry)
        self.standin: DremioStandIn | None = None
        self.client: DremioClient | None = None
        self.db: Database | None = None

    @property
    def dremio_url(self) -> str:
        if self._dremio_url is not None:
            return self._dremio_url
        if self.standin is None:
            raise RuntimeError("replay sandbox not started")
        return self.standin.url

    def start(self) -> ReplaySandbox:
        if self.client is not None:
            return self
        try:
            if self._dremio_url is None:
                self.standin = DremioStandIn().start()
            self.client = DremioClient(self.dremio_url, token=self._dremio_token, on_error=self.metrics.dremio_error,
                                       on_request=self.metrics.dremio_request)
            self.db = Database(self._database_url)
            self.db.create_schema()
        except Exception:
            self.close()
            raise
        return self

    def close(self) -> None:
        db, self.db = self.db, None
        client, self.client = self.client, None
        standin, self.standin = self.standin, None
        if db is not None:
            db.dispose()
        if client is not None:
            client.close()
        if standin is not None:
            standin.stop()

    def __enter__(self) -> ReplaySandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def build_graph(self, chat_model: BaseChatModel, *, replace_tools: Sequence[BaseTool] = ()) -> Any:
        """The compiled optimizer graph on this sandbox; see ``build_replay_graph``."""
        return build_replay_graph(chat_model, self, replace_tools=replace_tools)


def build_replay_graph(chat_model: BaseChatModel, sandbox: ReplaySandbox, *,
                       replace_tools: Sequence[BaseTool] = ()) -> Any:
    """The optimizer graph wired to ``sandbox`` with an in-memory checkpointer.

    ``replace_tools`` swap stock tools of the same name (``explain_plan``...), so a re-run
    shows what a changed tool would have done to the recorded run.
    """
    from langgraph.checkpoint.memory import InMemorySaver

    if sandbox.client is None or sandbox.db is None:
        raise RuntimeError("start the replay sandbox before building a graph on it")
    tools = _with_replacements(make_tools(sandbox.client), replace_tools)
    deps = AgentDeps(client=sandbox.client, analysis=AnalysisService(sandbox.tracer_provider), model=chat_model,
                     tools=tools, db=sandbox.db, metrics=sandbox.metrics, events=OptimizerEvents(sandbox.logger),
                     approval_required_risk=sandbox.approval_required_risk)
    return build_graph(deps, InMemorySaver())


def _with_replacements(stock: list[BaseTool], replacements: Sequence[BaseTool]) -> list[BaseTool]:
    names = {tool.name for tool in stock}
    unknown = sorted(t.name for t in replacements if t.name not in names)
    if unknown:
        raise ValueError(f"no stock tool named {', '.join(unknown)} (stock tools: {', '.join(sorted(names))})")
    by_name = {tool.name: tool for tool in replacements}
    return [by_name.get(tool.name, tool) for tool in stock]


def replay_inputs(trace: Trace) -> dict[str, Any]:
    """The graph input of a recorded optimizer run: ``run_id``, ``job_id`` and ``trace_id``.

    Raises ``ReplayError`` when the trace is not an optimizer run, resumed an approval, or
    does not say which Dremio job it optimised.
    """
    agents = trace.agent_spans
    if not agents or agents[0].agent_name != AGENT_NAME:
        raise ReplayError(f"trace {trace.trace_id} is not an {AGENT_NAME} run ({trace.agent_name or 'no agent'})")
    agent = agents[0]
    recorded = _recorded_input(agent.attributes)
    if agent.attributes.get(sc.LANGGRAPH_RESUMED) or "resume" in recorded:
        raise ReplayError(f"trace {trace.trace_id} resumes an approval; its checkpoint lived in the service. "
                          f"Re-run the interrupted run of conversation {agent.conversation_id} instead")
    if isinstance(recorded.get("job_id"), str) and recorded["job_id"]:
        return {key: recorded.get(key) for key in INPUT_KEYS}
    job_id = next((s.attributes.get(ATTR_JOB_ID) for s in agent.walk()
                   if s.kind != KIND_AGENT and s.name == SPAN_ANALYZE_QUERY and s.attributes.get(ATTR_JOB_ID)), None)
    if not job_id:
        raise ReplayError(f"trace {trace.trace_id} does not say which Dremio job it optimised "
                          f"(no {sc.GRAPH_INPUT}, no {SPAN_ANALYZE_QUERY} span); record it with content capture on")
    return {"run_id": agent.conversation_id or f"replay-{uuid.uuid4()}", "job_id": str(job_id), "trace_id": None}


def _recorded_input(attributes: dict[str, Any]) -> dict[str, Any]:
    if sc.GRAPH_INPUT + sc.CONTENT_TRUNCATED_SUFFIX in attributes:
        return {}  # truncated JSON does not parse; fall back to the analysis span
    try:
        value = json.loads(attributes.get(sc.GRAPH_INPUT) or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def rerunnable(trace: Trace) -> bool:
    """True when ``rerun_optimizer`` can re-run this trace: an optimizer run that called the
    LLM with content captured, and did not resume an approval."""
    if trace.agent_name != AGENT_NAME or not trace.content_captured:
        return False
    try:
        replay_inputs(trace)
    except ReplayError:
        return False
    return True


def rerun_optimizer(trace: Trace, *, replace_tools: Sequence[BaseTool] = (), dremio_url: str | None = None,
                    logger: Any = None) -> RerunReport:
    """Re-run a recorded optimizer run in a fresh ``ReplaySandbox`` and compare it with the recording.

    Exceptions of the re-run itself are in the report (``report.error``); a trace that cannot
    be re-run raises ``ReplayError``.
    """
    inputs = replay_inputs(trace)
    with ReplaySandbox(dremio_url=dremio_url, logger=logger) as sandbox:
        return rerun(trace, lambda model: sandbox.build_graph(model, replace_tools=replace_tools),
                     inputs=inputs, logger=sandbox.logger)
