"""Performance: where the optimizer's time and resources go (the seed's dashboard 2)."""

from __future__ import annotations

from typing import Any

from .sdk import dashboard, heatmap, prom, row, thresholds, timeseries
from .common import (DB_QUERY_DURATION, HTTP_CLIENT_DURATION, HTTP_CLIENT_ERRORS,
                     HTTP_SERVER_DURATION, HTTP_SERVER_REQUESTS, PROCESS_CPU, PROCESS_MEMORY,
                     RI, SVC, bucket, model_var, prometheus_var, quantile, sc, service_var)

MODEL_SEL = f'{SVC}, {sc.LABEL_REQUEST_MODEL}=~"$model"'


def build() -> dict[str, Any]:
    panels = [
        row("Optimizations"),
        heatmap("Optimization duration distribution",
                prom(f"sum by (le) (increase({bucket(sc.METRIC_OPTIMIZER_DURATION)}"
                     f"{{{SVC}, operation=\"full_optimization\"}}[{RI}]))", "{{le}}", fmt="heatmap"),
                unit="s", description="How full optimization durations are spread, per interval."),
        timeseries("Duration P95 by operation",
                   [prom(quantile(0.95, sc.METRIC_OPTIMIZER_DURATION, SVC, "operation"), "{{operation}}",
                         exemplar=True)],
                   unit="s", description="95th percentile per operation (full optimization, analysis, resume)."),
        row("Dependencies"),
        timeseries("Database query P95",
                   [prom(quantile(0.95, DB_QUERY_DURATION, SVC, "operation"), "{{operation}}")],
                   unit="s", threshold=thresholds((None, "green"), (0.5, "orange"), (2, "red")),
                   description="95th percentile of SQL statement time, by statement keyword."),
        timeseries("Dremio API latency (P50 / P95)",
                   [prom(quantile(q, HTTP_CLIENT_DURATION, SVC, "host"), f"P{int(q * 100)} {{{{host}}}}",
                         exemplar=True) for q in (0.5, 0.95)],
                   unit="s", threshold=thresholds((None, "green"), (2, "orange"), (5, "red")),
                   description="Outbound HTTP call duration per host; the optimizer's outbound calls go to Dremio."),
        timeseries("Dremio API errors",
                   [prom(f"sum by (endpoint, status_code) (rate({sc.METRIC_DREMIO_API_ERRORS}{{{SVC}}}[{RI}]))",
                         "{{endpoint}} {{status_code}}"),
                    prom(f"sum by (host, error_type) (rate({HTTP_CLIENT_ERRORS}{{{SVC}}}[{RI}]))",
                         "http {{host}} {{error_type}}")],
                   unit="reqps", description="Failed Dremio calls by endpoint and status, and all failed outbound HTTP calls."),
        timeseries("Dremio API error ratio",
                   [prom(f"sum by (endpoint) (rate({sc.METRIC_DREMIO_API_ERRORS}{{{SVC}}}[{RI}]))"
                         f" / sum by (endpoint) (rate({sc.METRIC_DREMIO_API_REQUESTS}{{{SVC}}}[{RI}]))", "{{endpoint}}"),
                    prom(f"(sum(rate({sc.METRIC_DREMIO_API_ERRORS}{{{SVC}}}[{RI}]))"
                         f" or sum(rate({sc.METRIC_DREMIO_API_REQUESTS}{{{SVC}}}[{RI}])) * 0)"
                         f" / sum(rate({sc.METRIC_DREMIO_API_REQUESTS}{{{SVC}}}[{RI}]))", "all endpoints")],
                   unit="percentunit", threshold=thresholds((None, "green"), (0.05, "red")),
                   description="Failed Dremio calls over request attempts, by endpoint and overall; "
                               "DremioAPIFailures fires above 5% for 5 minutes."),
        timeseries("LLM invocation duration (P50 / P95)",
                   [prom(quantile(q, sc.METRIC_OPERATION_DURATION, MODEL_SEL, sc.LABEL_REQUEST_MODEL),
                         f"P{int(q * 100)} {{{{{sc.LABEL_REQUEST_MODEL}}}}}", exemplar=True)
                    for q in (0.5, 0.95)],
                   unit="s", threshold=thresholds((None, "green"), (20, "red")),
                   description="Duration of each LLM call (agent reasoning time), by model."),
        row("HTTP server"),
        timeseries("Requests by route",
                   [prom(f"sum by (route, status_code) (rate({HTTP_SERVER_REQUESTS}{{{SVC}}}[{RI}]))",
                         "{{route}} {{status_code}}")],
                   unit="reqps", description="Requests per second served, by route template and status code."),
        timeseries("Request duration P95 by route",
                   [prom(quantile(0.95, HTTP_SERVER_DURATION, SVC, "route"), "{{route}}", exemplar=True)],
                   unit="s", description="95th percentile server-side latency per route."),
        row("Process"),
        timeseries("Memory (resident)",
                   [prom(f"sum by (instance) ({PROCESS_MEMORY}{{{SVC}}})", "{{instance}}")],
                   unit="bytes", description="Resident memory of the service process."),
        timeseries("CPU",
                   [prom(f"sum by (instance) (rate({PROCESS_CPU}{{{SVC}}}[{RI}]))", "{{instance}}")],
                   unit="percentunit", threshold=thresholds((None, "green"), (0.8, "orange"), (1, "red")),
                   description="CPU time per second of wall time (1.0 = one full core)."),
    ]
    return dashboard(
        "agent-obs-performance", "Optimizer: Performance",
        "Latency distribution, dependency latency (database, Dremio, LLM) and process resources.",
        [prometheus_var(), service_var(), model_var()], panels, tags=["optimizer"],
    )
