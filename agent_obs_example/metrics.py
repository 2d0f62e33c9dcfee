"""The optimizer's business metrics, all in the registry ``setup_observability`` returns.

Names from the seed (its alerts and dashboards query them) plus the ones the business
dashboard needs for time saved, adoption and effectiveness by issue type. Families are
fetched with ``get_or_create`` so two apps sharing a registry never clash.
``db_connection_errors_total`` is not here: ``service_obs.sqlalchemy.instrument_engine``
defines and feeds it from real connection failures.

Label values: ``endpoint`` in ``ENDPOINTS`` (for the two Dremio families, the client's own
bounded names: ``job_status``, ``job_details``, ``profile``, ``catalog``, ``reflections``,
``sql``, ``job_results``), ``status`` in ``success|error|invalid`` (``invalid`` is a client
error, kept apart so error-ratio alerts watch only server faults), ``issue_type``/``severity``
from ``detectors``, ``decision`` in ``approved|rejected``. ``dremio_api_requests_total``
counts every attempt, so ``dremio_api_errors_total`` over it is the Dremio error ratio.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from agent_obs.metrics import get_or_create

OPTIMIZER_REQUESTS = "optimizer_requests_total"
OPTIMIZER_DURATION = "optimizer_duration_seconds"
ISSUES_DETECTED = "issues_detected_total"
RECOMMENDATIONS_GENERATED = "recommendations_generated_total"
MEASUREMENTS_RECORDED = "measurements_recorded_total"
AVERAGE_IMPROVEMENT = "average_improvement_pct"
ACTIVE_OPTIMIZATIONS = "active_optimizations"
DREMIO_API_ERRORS = "dremio_api_errors_total"
DREMIO_API_REQUESTS = "dremio_api_requests_total"
# added for the business dashboard (time saved, adoption, success by issue type)
TIME_SAVED = "optimizer_time_saved_seconds_total"
RECOMMENDATIONS_DECIDED = "recommendations_decided_total"
MEASUREMENTS_BY_ISSUE = "optimizer_measurements_by_issue_total"

ENDPOINTS = ("optimize_query", "decide", "record_measurement")
STATUS_SUCCESS, STATUS_ERROR, STATUS_INVALID = "success", "error", "invalid"
OPERATIONS = ("full_optimization", "analysis", "resume")
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

# name -> (kind, labels, help, buckets)
SPECS: dict[str, tuple[str, tuple[str, ...], str, tuple[float, ...] | None]] = {
    OPTIMIZER_REQUESTS: ("counter", ("endpoint", "status"), "Optimizer service requests by endpoint and status.", None),
    OPTIMIZER_DURATION: ("histogram", ("operation",), "Optimizer operation duration in seconds.", DURATION_BUCKETS),
    ISSUES_DETECTED: ("counter", ("issue_type", "severity"), "Performance issues detected.", None),
    RECOMMENDATIONS_GENERATED: ("counter", ("issue_type",), "Recommendations generated and stored.", None),
    MEASUREMENTS_RECORDED: ("counter", ("meets_expectation",), "Measurements recorded for recommendations.", None),
    AVERAGE_IMPROVEMENT: ("gauge", (), "Average measured improvement percentage over all measurements.", None),
    ACTIVE_OPTIMIZATIONS: ("gauge", (), "Optimizations currently running.", None),
    DREMIO_API_ERRORS: ("counter", ("endpoint", "status_code"), "Failed Dremio API calls.", None),
    DREMIO_API_REQUESTS: ("counter", ("endpoint",), "Dremio API request attempts (success or failure).", None),
    TIME_SAVED: ("counter", ("issue_type",), "Query time saved by measured recommendations, in seconds.", None),
    RECOMMENDATIONS_DECIDED: ("counter", ("decision",), "High-risk recommendations approved or rejected by a human.", None),
    MEASUREMENTS_BY_ISSUE: ("counter", ("issue_type", "meets_expectation"), "Measurements by issue type and outcome.", None),
}


# How multiprocess mode merges each gauge over worker processes (see service_obs.multiprocess):
# running optimizations add up over the live workers; the average is computed from the shared
# database, so the value set last by any worker is the current one.
GAUGE_MULTIPROCESS_MODES = {ACTIVE_OPTIMIZATIONS: "livesum", AVERAGE_IMPROVEMENT: "mostrecent"}


class OptimizerMetrics:
    """Handles to every business metric family in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        made: dict[str, Any] = {
            name: get_or_create(registry, name, kind, doc, labels, buckets, GAUGE_MULTIPROCESS_MODES.get(name))
            for name, (kind, labels, doc, buckets) in SPECS.items()
        }
        self.requests = made[OPTIMIZER_REQUESTS]
        self.duration = made[OPTIMIZER_DURATION]
        self.issues_detected = made[ISSUES_DETECTED]
        self.recommendations_generated = made[RECOMMENDATIONS_GENERATED]
        self.measurements_recorded = made[MEASUREMENTS_RECORDED]
        self.average_improvement = made[AVERAGE_IMPROVEMENT]
        self.active_optimizations = made[ACTIVE_OPTIMIZATIONS]
        self.dremio_api_errors = made[DREMIO_API_ERRORS]
        self.dremio_api_requests = made[DREMIO_API_REQUESTS]
        self.time_saved = made[TIME_SAVED]
        self.recommendations_decided = made[RECOMMENDATIONS_DECIDED]
        self.measurements_by_issue = made[MEASUREMENTS_BY_ISSUE]

    def dremio_error(self, endpoint: str, status_code: str) -> None:
        self.dremio_api_errors.labels(endpoint=endpoint, status_code=status_code).inc()

    def dremio_request(self, endpoint: str) -> None:
        self.dremio_api_requests.labels(endpoint=endpoint).inc()

    def request(self, endpoint: str, status: str) -> None:
        self.requests.labels(endpoint=endpoint, status=status).inc()
