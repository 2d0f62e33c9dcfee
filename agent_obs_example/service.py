"""The optimization service: runs the agent, owns the run lifecycle, feeds business metrics.

The FastAPI layer calls these methods and maps the typed errors to HTTP statuses:
``NotFound`` 404, ``Conflict`` 409, ``UpstreamError`` 502. Runs are LangGraph threads
(``thread_id`` = run id) so a run paused for approval resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from langgraph.types import Command
from opentelemetry import trace
from sqlalchemy import func, select

from agent_obs.spans import hex_ids

from .db import Database, Measurement, OptimizationRun, Recommendation, utcnow
from .dremio import DremioError, DremioNotFound
from .events import OptimizerEvents
from .metrics import STATUS_ERROR, STATUS_INVALID, STATUS_SUCCESS, OptimizerMetrics

_log = logging.getLogger(__name__)
EXPECTATION_RATIO = 0.75  # a measurement "meets expectation" at >= 75% of the estimated gain


class NotFound(Exception):
    """The job, run or recommendation does not exist."""


class Conflict(Exception):
    """The request does not fit the current state (e.g. deciding a run twice)."""


class UpstreamError(Exception):
    """Dremio failed (after retries) while serving the request."""


class OptimizationService:
    def __init__(self, *, graph: Any, db: Database, metrics: OptimizerMetrics, events: OptimizerEvents,
                 callbacks: list[Any] | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self._graph = graph
        self._db = db
        self._metrics = metrics
        self._events = events
        self._callbacks = list(callbacks or [])
        self._clock = clock
        self._deciding: set[str] = set()
        self._lock = threading.Lock()
        self._refresh_average()

    # --- optimizations --------------------------------------------------------------------
    def optimize(self, job_id: str) -> dict[str, Any]:
        run_id = str(uuid.uuid4())
        inputs = {"run_id": run_id, "job_id": job_id, "trace_id": _current_trace_id()}
        self._events.optimization_start(job_id, run_id)
        result = self._run("optimize_query", "full_optimization", job_id, run_id, inputs)
        return self._summary(run_id, result)

    def decide(self, run_id: str, approved: bool, reviewer: str | None = None, comment: str | None = None) -> dict[str, Any]:
        with self._lock:
            if run_id in self._deciding:
                self._metrics.request("decide", STATUS_INVALID)
                raise Conflict(f"run {run_id} is already being decided")
            self._deciding.add(run_id)
        try:
            with self._db.read() as session:
                run = session.get(OptimizationRun, run_id)
                job_id = run.job_id if run else ""
                status = run.status if run else ""
            if not job_id:
                self._metrics.request("decide", STATUS_INVALID)
                raise NotFound(f"no optimization run {run_id}")
            if status != "awaiting_approval":
                self._metrics.request("decide", STATUS_INVALID)
                raise Conflict(f"run {run_id} is {status}, not awaiting approval")
            snapshot = self._graph.get_state(self._config(run_id, job_id))
            pending = [i for task in snapshot.tasks for i in task.interrupts]
            if not pending:
                self._metrics.request("decide", STATUS_INVALID)
                raise Conflict(f"run {run_id} has no pending approval (its checkpoint is gone)")
            count = len(pending[0].value.get("recommendations", [])) if isinstance(pending[0].value, dict) else 1
            answer = {"approved": approved, "reviewer": reviewer, "comment": comment}
            result = self._run("decide", "resume", job_id, run_id, Command(resume=answer))
            self._metrics.recommendations_decided.labels(decision="approved" if approved else "rejected").inc(count)
            return self._summary(run_id, result)
        finally:
            with self._lock:
                self._deciding.discard(run_id)

    def _run(self, endpoint: str, operation: str, job_id: str, run_id: str, inputs: Any) -> dict[str, Any]:
        started = self._clock()
        self._metrics.active_optimizations.inc()
        try:
            result = self._graph.invoke(inputs, config=self._config(run_id, job_id))
        except DremioNotFound as exc:
            self._metrics.request(endpoint, STATUS_INVALID)
            raise NotFound(f"unknown Dremio job {job_id}") from exc
        except Exception as exc:
            self._metrics.request(endpoint, STATUS_ERROR)
            self._events.optimization_failed(job_id, run_id, exc)
            try:
                self._mark(run_id, job_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
            except Exception:  # noqa: BLE001 - the original failure is what the caller must see
                _log.warning("could not record failed run %s", run_id, exc_info=True)
            if isinstance(exc, DremioError):
                raise UpstreamError(str(exc)) from exc
            raise
        finally:
            elapsed = self._clock() - started
            self._metrics.active_optimizations.dec()
            self._metrics.duration.labels(operation=operation).observe(elapsed)
        interrupted = bool(result.get("__interrupt__"))
        if interrupted:
            self._mark(run_id, job_id, "awaiting_approval")
        self._metrics.request(endpoint, STATUS_SUCCESS)
        self._events.optimization_complete(job_id, run_id, len(result.get("issues") or []), int(elapsed * 1000),
                                           "awaiting_approval" if interrupted else "completed")
        return result

    def _config(self, run_id: str, job_id: str) -> dict[str, Any]:
        return {"callbacks": self._callbacks, "configurable": {"thread_id": run_id},
                "metadata": {"job_id": job_id}}

    def _mark(self, run_id: str, job_id: str, status: str, error: str | None = None) -> None:
        with self._db.transaction() as session:
            run = session.get(OptimizationRun, run_id)
            if run is None:
                run = OptimizationRun(id=run_id, job_id=job_id, trace_id=_current_trace_id())
                session.add(run)
            run.status, run.error = status, error
            if status == "failed":
                run.finished_at = utcnow()

    def get_run(self, run_id: str) -> dict[str, Any]:
        with self._db.read() as session:
            if session.get(OptimizationRun, run_id) is None:
                raise NotFound(f"no optimization run {run_id}")
        return self._summary(run_id, None)

    def _summary(self, run_id: str, result: dict[str, Any] | None) -> dict[str, Any]:
        with self._db.read() as session:
            run = session.get(OptimizationRun, run_id)
            stored = [_rec_dict(r) for r in session.scalars(
                select(Recommendation).where(Recommendation.run_id == run_id).order_by(Recommendation.id))]
        if result is None:
            values = self._graph.get_state(self._config(run_id, run.job_id if run else "")).values
        else:
            values = result
        status = run.status if run is not None else "unknown"
        pending = [r for r in values.get("recommendations") or [] if r.get("status") == "pending_approval"]
        return {
            "run_id": run_id, "job_id": values.get("job_id") or (run.job_id if run else None), "status": status,
            "trace_id": run.trace_id if run is not None else values.get("trace_id"),
            "issues": values.get("issues") or [],
            "recommendations": stored,
            "pending_approval": pending if status == "awaiting_approval" else [],
        }

    # --- recommendations and measurements ---------------------------------------------------
    def list_recommendations(self, job_id: str | None = None, status: str | None = None,
                             limit: int = 100) -> list[dict[str, Any]]:
        query = select(Recommendation).order_by(Recommendation.id.desc()).limit(limit)
        if job_id:
            query = query.where(Recommendation.job_id == job_id)
        if status:
            query = query.where(Recommendation.status == status)
        with self._db.read() as session:
            return [_rec_dict(r) for r in session.scalars(query)]

    def get_recommendation(self, rec_id: int) -> dict[str, Any]:
        with self._db.read() as session:
            rec = session.get(Recommendation, rec_id)
            if rec is None:
                raise NotFound(f"no recommendation {rec_id}")
            data = _rec_dict(rec)
            data["measurements"] = [_measurement_dict(m) for m in rec.measurements]
        return data

    def record_measurement(self, rec_id: int, baseline_duration_ms: float, optimized_duration_ms: float,
                           executions: int = 1) -> dict[str, Any]:
        try:
            with self._db.transaction() as session:
                rec = session.get(Recommendation, rec_id)
                if rec is None:
                    raise NotFound(f"no recommendation {rec_id}")
                if rec.status == "rejected":
                    raise Conflict(f"recommendation {rec_id} was rejected; nothing to measure")
                improvement = round((baseline_duration_ms - optimized_duration_ms) / baseline_duration_ms * 100, 2)
                meets = improvement >= rec.estimated_improvement_pct * EXPECTATION_RATIO
                row = Measurement(recommendation_id=rec_id, baseline_duration_ms=baseline_duration_ms,
                                  optimized_duration_ms=optimized_duration_ms, executions=executions,
                                  improvement_pct=improvement, meets_expectation=meets)
                session.add(row)
                session.flush()
                data = _measurement_dict(row)
                issue_type = rec.issue_type
        except (NotFound, Conflict):
            self._metrics.request("record_measurement", STATUS_INVALID)
            raise
        except Exception:
            self._metrics.request("record_measurement", STATUS_ERROR)
            raise
        label = "true" if meets else "false"
        self._metrics.measurements_recorded.labels(meets_expectation=label).inc()
        self._metrics.measurements_by_issue.labels(issue_type=issue_type, meets_expectation=label).inc()
        saved = max(0.0, baseline_duration_ms - optimized_duration_ms) / 1000 * executions
        self._metrics.time_saved.labels(issue_type=issue_type).inc(saved)
        self._refresh_average()
        self._metrics.request("record_measurement", STATUS_SUCCESS)
        self._events.measurement_recorded(rec_id, improvement, meets)
        return data

    def _refresh_average(self) -> None:
        with self._db.read() as session:
            average = session.scalar(select(func.avg(Measurement.improvement_pct)))
        if average is not None:
            self._metrics.average_improvement.set(float(average))


def _current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return hex_ids(context)[0] if context.is_valid else None


def _rec_dict(rec: Recommendation) -> dict[str, Any]:
    return {"id": rec.id, "run_id": rec.run_id, "job_id": rec.job_id, "issue_type": rec.issue_type,
            "severity": rec.severity, "title": rec.title, "action": rec.action,
            "estimated_improvement_pct": rec.estimated_improvement_pct, "risk": rec.risk, "status": rec.status,
            "created_at": rec.created_at.isoformat() if rec.created_at else None}


def _measurement_dict(m: Measurement) -> dict[str, Any]:
    return {"id": m.id, "recommendation_id": m.recommendation_id, "baseline_duration_ms": m.baseline_duration_ms,
            "optimized_duration_ms": m.optimized_duration_ms, "executions": m.executions,
            "improvement_pct": m.improvement_pct, "meets_expectation": m.meets_expectation,
            "recorded_at": m.recorded_at.isoformat() if m.recorded_at else None}
