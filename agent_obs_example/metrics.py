"""The optimizer's business metrics, all in the registry ``setup_observability`` returns.

Names from the seed (its alerts and dashboards query them) plus the ones the business
dashboard needs for time saved, adoption and effectiveness by issue type; they are defined,
with their types, labels, buckets and multiprocess modes, in the one vocabulary
(``agent_obs.semconv.EXAMPLE_METRICS``) the dashboards and rules are tested against. Families are
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

from agent_obs import semconv as sc
from agent_obs.metrics import get_or_create

ENDPOINTS = ("optimize_query", "decide", "record_measurement")
STATUS_SUCCESS, STATUS_ERROR, STATUS_INVALID = "success", "error", "invalid"
OPERATIONS = ("full_optimization", "analysis", "resume")

# name -> (kind, labels, help, buckets), from the vocabulary (agent_obs.semconv.EXAMPLE_METRICS)
SPECS: dict[str, tuple[str, tuple[str, ...], str, tuple[float, ...] | None]] = {
    name: (kind, labels, doc, sc.EXAMPLE_METRIC_BUCKETS.get(name))
    for name, (kind, labels, doc) in sc.EXAMPLE_METRICS.items()
}


class OptimizerMetrics:
    """Handles to every business metric family in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        made: dict[str, Any] = {
            name: get_or_create(registry, name, kind, doc, labels, buckets, sc.EXAMPLE_METRIC_MULTIPROCESS_MODES.get(name))
            for name, (kind, labels, doc, buckets) in SPECS.items()
        }
        self.requests = made[sc.METRIC_OPTIMIZER_REQUESTS]
        self.duration = made[sc.METRIC_OPTIMIZER_DURATION]
        self.issues_detected = made[sc.METRIC_ISSUES_DETECTED]
        self.recommendations_generated = made[sc.METRIC_RECOMMENDATIONS_GENERATED]
        self.measurements_recorded = made[sc.METRIC_MEASUREMENTS_RECORDED]
        self.average_improvement = made[sc.METRIC_AVERAGE_IMPROVEMENT]
        self.active_optimizations = made[sc.METRIC_ACTIVE_OPTIMIZATIONS]
        self.dremio_api_errors = made[sc.METRIC_DREMIO_API_ERRORS]
        self.dremio_api_requests = made[sc.METRIC_DREMIO_API_REQUESTS]
        self.time_saved = made[sc.METRIC_TIME_SAVED]
        self.recommendations_decided = made[sc.METRIC_RECOMMENDATIONS_DECIDED]
        self.measurements_by_issue = made[sc.METRIC_MEASUREMENTS_BY_ISSUE]

    def dremio_error(self, endpoint: str, status_code: str) -> None:
        self.dremio_api_errors.labels(endpoint=endpoint, status_code=status_code).inc()

    def dremio_request(self, endpoint: str) -> None:
        self.dremio_api_requests.labels(endpoint=endpoint).inc()

    def request(self, endpoint: str, status: str) -> None:
        self.requests.labels(endpoint=endpoint, status=status).inc()
