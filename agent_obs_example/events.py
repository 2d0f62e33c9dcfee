"""The seed's structured log events, as loguru fields (``record["extra"]``), never ``extra={}``.

``logger.bind(**fields)`` puts each field at the top level of ``extra``, so Loki's JSON parser
and the trace-correlated sinks of ``service_obs`` see ``event_type``, ``job_id``... directly.
"""

from __future__ import annotations

from typing import Any

from agent_obs.errors import error_type


class OptimizerEvents:
    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def optimization_start(self, job_id: str, run_id: str) -> None:
        self._logger.bind(event_type="optimization_start", job_id=job_id, run_id=run_id).info(
            "Optimization started")

    def optimization_complete(self, job_id: str, run_id: str, issues_count: int, duration_ms: int, status: str) -> None:
        self._logger.bind(event_type="optimization_complete", job_id=job_id, run_id=run_id,
                          issues_count=issues_count, duration_ms=duration_ms, status=status).info(
            "Optimization completed")

    def optimization_failed(self, job_id: str, run_id: str, error: BaseException) -> None:
        self._logger.bind(event_type="optimization_failed", job_id=job_id, run_id=run_id,
                          error=str(error), error_type=error_type(error)).error("Optimization failed")

    def recommendation_generated(self, job_id: str, recommendation_id: int, issue_type: str,
                                 estimated_improvement: float) -> None:
        self._logger.bind(event_type="recommendation_generated", job_id=job_id,
                          recommendation_id=recommendation_id, issue_type=issue_type,
                          estimated_improvement_pct=estimated_improvement).info("Recommendation generated")

    def measurement_recorded(self, recommendation_id: int, improvement_pct: float, meets_expectation: bool) -> None:
        self._logger.bind(event_type="measurement_recorded", recommendation_id=recommendation_id,
                          improvement_pct=improvement_pct, meets_expectation=meets_expectation).info(
            "Measurement recorded")
