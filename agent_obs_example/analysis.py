"""The analysis service: run every detector over a job, each in its own span.

Spans, as in the seed: ``analysis.analyze_query`` (``job_id``, ``issues_detected``) with one
child ``detector.{issue_type}`` per detector (``detector_type``, ``issue_detected``,
``severity``). A detector that raises is recorded on its span and skipped: one broken
detector must not hide what the others found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from agent_obs.errors import error_type

from .detectors import DETECTORS, Detector

TRACER_NAME = "agent_obs_example"
SPAN_ANALYZE_QUERY = "analysis.analyze_query"
ATTR_JOB_ID = "job_id"  # also how replay finds the job of a recorded run


class AnalysisService:
    def __init__(self, tracer_provider: trace.TracerProvider | None = None,
                 detectors: Sequence[Detector] = DETECTORS) -> None:
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self.detectors = tuple(detectors)

    def analyze_query(self, job_id: str, query: str, profile: dict[str, Any]) -> list[dict[str, Any]]:
        with self._tracer.start_as_current_span(SPAN_ANALYZE_QUERY) as span:
            span.set_attribute(ATTR_JOB_ID, job_id)
            issues: list[dict[str, Any]] = []
            for detector in self.detectors:
                with self._tracer.start_as_current_span(f"detector.{detector.issue_type}",
                                                        record_exception=False, set_status_on_exception=False) as ds:
                    ds.set_attribute("detector_type", detector.issue_type)
                    try:
                        result = detector.detect(query, profile)
                    except Exception as exc:  # noqa: BLE001 - see module docstring
                        ds.record_exception(exc)
                        ds.set_status(Status(StatusCode.ERROR, str(exc)))
                        ds.set_attribute("error.type", error_type(exc))
                        continue
                    ds.set_attribute("issue_detected", result.detected)
                    if result.detected:
                        ds.set_attribute("severity", result.severity)
                        issues.append(result.to_dict())
            span.set_attribute("issues_detected", len(issues))
            return issues
