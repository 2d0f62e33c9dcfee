"""The optimizer agent: a LangGraph graph from a Dremio job to stored recommendations.

    fetch_job -> detect_issues -> recommend <-> tools -> draft_recommendations
              -> [human_approval] -> store_results

``fetch_job`` reads the job, its SQL and its profile (RetryPolicy on transient Dremio
errors), ``detect_issues`` runs the detectors (skipping the LLM when nothing is found),
``recommend`` streams a tool-calling chat model, ``tools`` is a ``ToolNode`` over the Dremio
tools, ``draft_recommendations`` parses the model's JSON, ``human_approval`` pauses the run
with ``interrupt()`` when a recommendation is risky enough, and ``store_results`` writes the
run and its recommendations in one transaction. The graph takes every collaborator through
``AgentDeps``; it knows nothing about telemetry beyond the tracer the analysis uses.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, message_chunk_to_message
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import RetryPolicy, interrupt

from .analysis import AnalysisService
from .db import Database, OptimizationRun, Recommendation, utcnow
from .dremio import DremioClient, DremioError, DremioTransientError
from .events import OptimizerEvents
from .metrics import OptimizerMetrics

AGENT_NAME = "optimizer_agent"
MAX_LLM_TURNS = 4
RISK_RANK = {"low": 0, "medium": 1, "high": 2}
FETCH_RETRY = RetryPolicy(initial_interval=0.05, backoff_factor=2.0, max_interval=2.0, max_attempts=3,
                          jitter=False, retry_on=DremioTransientError)

SYSTEM_PROMPT = (
    "You are a Dremio query-performance expert. You get a slow job, the issues our detectors "
    "found and tools to inspect tables, reflections and the plan. Call the tools you need, then "
    "answer with JSON only: {\"recommendations\": [{\"issue_type\", \"title\", \"action\", "
    "\"estimated_improvement_pct\", \"risk\": \"low|medium|high\"}], \"notes\"}, one per issue."
)


class OptimizerState(TypedDict, total=False):
    run_id: str
    job_id: str
    trace_id: str | None
    job: dict[str, Any]
    query: str
    datasets: list[str]
    profile: dict[str, Any]
    issues: list[dict[str, Any]]
    messages: Annotated[list[AnyMessage], add_messages]
    recommendations: list[dict[str, Any]]
    decision: dict[str, Any] | None
    stored_ids: list[int]


@dataclasses.dataclass
class AgentDeps:
    client: DremioClient
    analysis: AnalysisService
    model: BaseChatModel
    tools: Sequence[BaseTool]
    db: Database
    metrics: OptimizerMetrics
    events: OptimizerEvents
    approval_required_risk: str = "high"
    clock: Callable[[], float] = time.perf_counter


def build_graph(deps: AgentDeps, checkpointer: Any) -> Any:
    """Compile the optimizer graph (named ``AGENT_NAME``) with the given checkpointer."""
    model = deps.model.bind_tools(list(deps.tools))

    def fetch_job(state: OptimizerState) -> dict[str, Any]:
        job_id = state["job_id"]
        job = deps.client.get_job(job_id)
        details = deps.client.get_job_details(job_id)
        profile = deps.client.get_profile(job_id)
        datasets = list(details.get("queriedDatasets") or [d["datasetPath"] for d in profile.get("datasetProfile", [])])
        return {"job": job, "query": details.get("sql") or profile.get("query", ""), "datasets": datasets,
                "profile": profile}

    def detect_issues(state: OptimizerState) -> dict[str, Any]:
        started = deps.clock()
        issues = deps.analysis.analyze_query(state["job_id"], state["query"], state["profile"])
        deps.metrics.duration.labels(operation="analysis").observe(deps.clock() - started)
        for issue in issues:
            deps.metrics.issues_detected.labels(issue_type=issue["issue_type"], severity=issue["severity"]).inc()
        return {"issues": issues}

    def recommend(state: OptimizerState) -> dict[str, Any]:
        history = list(state.get("messages") or [])
        new: list[AnyMessage] = []
        if not history:
            new = [SystemMessage(SYSTEM_PROMPT), HumanMessage(_task_prompt(state))]
        merged = None
        for chunk in model.stream(history + new):
            merged = chunk if merged is None else merged + chunk
        response = message_chunk_to_message(merged) if merged is not None else AIMessage(content="")
        return {"messages": [*new, response]}

    def after_recommend(state: OptimizerState) -> str:
        messages = state.get("messages") or []
        turns = sum(1 for m in messages if isinstance(m, AIMessage))
        last = messages[-1] if messages else None
        if isinstance(last, AIMessage) and last.tool_calls and turns < MAX_LLM_TURNS:
            return "tools"
        return "draft_recommendations"

    def draft_recommendations(state: OptimizerState) -> dict[str, Any]:
        last = next((m for m in reversed(state.get("messages") or []) if isinstance(m, AIMessage)), None)
        drafted = _parse_recommendations(last, state.get("issues") or [])
        threshold = RISK_RANK.get(deps.approval_required_risk, 99)
        for rec in drafted:
            rec["needs_approval"] = RISK_RANK.get(rec["risk"], 0) >= threshold
            rec["status"] = "pending_approval" if rec["needs_approval"] else "proposed"
        return {"recommendations": drafted}

    def human_approval(state: OptimizerState) -> dict[str, Any]:
        pending = [r for r in state["recommendations"] if r["needs_approval"]]
        answer = interrupt({
            "run_id": state["run_id"], "job_id": state["job_id"],
            "question": "Approve these high-risk recommendations?", "recommendations": pending,
        })
        approved = bool(answer.get("approved")) if isinstance(answer, dict) else bool(answer)
        decided = [
            {**r, "status": ("approved" if approved else "rejected")} if r["needs_approval"] else r
            for r in state["recommendations"]
        ]
        decision = answer if isinstance(answer, dict) else {"approved": approved}
        return {"recommendations": decided, "decision": decision}

    def store_results(state: OptimizerState) -> dict[str, Any]:
        recs = state.get("recommendations") or []
        with deps.db.transaction() as session:
            run = session.get(OptimizationRun, state["run_id"])
            if run is None:
                run = OptimizationRun(id=state["run_id"], job_id=state["job_id"], trace_id=state.get("trace_id"))
                session.add(run)
            run.status, run.error = "completed", None
            run.issues_count = len(state.get("issues") or [])
            run.finished_at = utcnow()
            rows = [Recommendation(run_id=run.id, job_id=state["job_id"], issue_type=r["issue_type"],
                                   severity=r["severity"], title=r["title"], action=r["action"],
                                   estimated_improvement_pct=r["estimated_improvement_pct"], risk=r["risk"],
                                   status=r["status"]) for r in recs]
            session.add_all(rows)
            session.flush()
            ids = [row.id for row in rows]
        for rec, rec_id in zip(recs, ids):
            deps.metrics.recommendations_generated.labels(issue_type=rec["issue_type"]).inc()
            deps.events.recommendation_generated(state["job_id"], rec_id, rec["issue_type"],
                                                 rec["estimated_improvement_pct"])
        return {"stored_ids": ids}

    graph = StateGraph(OptimizerState)
    graph.add_node("fetch_job", fetch_job, retry_policy=FETCH_RETRY)
    graph.add_node("detect_issues", detect_issues)
    graph.add_node("recommend", recommend)
    graph.add_node("tools", ToolNode(list(deps.tools), handle_tool_errors=(DremioError,)))
    graph.add_node("draft_recommendations", draft_recommendations)
    graph.add_node("human_approval", human_approval)
    graph.add_node("store_results", store_results)
    graph.add_edge(START, "fetch_job")
    graph.add_edge("fetch_job", "detect_issues")
    graph.add_conditional_edges("detect_issues", lambda s: "recommend" if s.get("issues") else "store_results",
                                ["recommend", "store_results"])
    graph.add_conditional_edges("recommend", after_recommend, ["tools", "draft_recommendations"])
    graph.add_edge("tools", "recommend")
    graph.add_conditional_edges(
        "draft_recommendations",
        lambda s: "human_approval" if any(r["needs_approval"] for r in s.get("recommendations") or []) else "store_results",
        ["human_approval", "store_results"])
    graph.add_edge("human_approval", "store_results")
    graph.add_edge("store_results", END)
    return graph.compile(checkpointer=checkpointer, name=AGENT_NAME)


def _task_prompt(state: OptimizerState) -> str:
    request = {"job_id": state["job_id"], "datasets": state.get("datasets", []),
               "sql": state.get("query", ""), "issues": state.get("issues", [])}
    return ("Recommend fixes for this slow Dremio job. Inspect the main dataset and the plan first.\n"
            f"```json\n{json.dumps(request, indent=1)}\n```")


def _parse_recommendations(message: AIMessage | None, issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's JSON, checked field by field; an issue it skipped gets a generic entry."""
    payload: Any = {}
    if message is not None and isinstance(message.content, str):
        match = re.search(r"\{.*\}", message.content, re.DOTALL)
        if match:
            try:
                payload = json.loads(match.group(0))
            except ValueError:
                payload = {}
    raw = payload.get("recommendations", []) if isinstance(payload, dict) else []
    severity = {i["issue_type"]: i["severity"] for i in issues}
    result: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or item.get("issue_type") not in severity:
            continue
        try:
            estimate = max(0.0, min(100.0, float(item.get("estimated_improvement_pct", 0))))
        except (TypeError, ValueError):
            estimate = 0.0
        risk = str(item.get("risk", "medium")).lower()
        result.append({"issue_type": item["issue_type"], "severity": severity[item["issue_type"]],
                       "title": str(item.get("title") or item["issue_type"])[:500],
                       "action": str(item.get("action") or "")[:2000], "estimated_improvement_pct": estimate,
                       "risk": risk if risk in RISK_RANK else "medium"})
    covered = {r["issue_type"] for r in result}
    for issue in issues:
        if issue["issue_type"] not in covered:
            result.append({"issue_type": issue["issue_type"], "severity": issue["severity"],
                           "title": issue.get("summary") or issue["issue_type"],
                           "action": "Review the plan for this issue", "estimated_improvement_pct": 0.0,
                           "risk": "low"})
    return result
