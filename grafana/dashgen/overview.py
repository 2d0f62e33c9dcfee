"""Overview: is the optimizer service doing its job right now (the seed's dashboard 1)."""

from __future__ import annotations

from typing import Any

from .sdk import bargauge, dashboard, prom, stat, thresholds, timeseries
from .common import RI, SVC, prometheus_var, quantile, ratio, sc, service_var

OPTIMIZE = f'{SVC}, endpoint="optimize_query"'
OPTIMIZE_ERRORS = f'{OPTIMIZE}, status="error"'


def build() -> dict[str, Any]:
    requests = sc.METRIC_OPTIMIZER_REQUESTS
    panels = [
        stat("Optimization rate", prom(f"sum(rate({requests}{{{OPTIMIZE}}}[{RI}])) * 60"),
             unit="reqpm", decimals=1,
             description="Optimization requests per minute, all outcomes."),
        stat("Success rate",
             prom(f"1 - {ratio(OPTIMIZE_ERRORS, OPTIMIZE, requests, 'service')}"),
             unit="percentunit", decimals=1,
             threshold=thresholds((None, "red"), (0.9, "orange"), (0.95, "green")),
             description="Share of optimization requests that did not fail on the server side "
                         "(client errors, status=invalid, count as not failed)."),
        stat("Active optimizations", prom(f"sum({sc.METRIC_ACTIVE_OPTIMIZATIONS}{{{SVC}}})"),
             unit="short", threshold=thresholds((None, "green"), (10, "orange"), (25, "red")),
             description="Optimizations running at this moment."),
        stat("P95 optimization duration",
             prom(quantile(0.95, sc.METRIC_OPTIMIZER_DURATION, f'{SVC}, operation="full_optimization"')),
             unit="s", threshold=thresholds((None, "green"), (10, "orange"), (30, "red")),
             description="95th percentile of full optimization time; SlowOptimizations fires above 30s."),
        timeseries("Optimization requests by outcome",
                   [prom(f"sum by (status) (rate({requests}{{{OPTIMIZE}}}[{RI}])) * 60", "{{status}}")],
                   unit="reqpm", stack=True,
                   description="Requests per minute, split into success, error (server) and invalid (client)."),
        timeseries("Optimization duration P50 / P95 / P99",
                   [prom(quantile(q, sc.METRIC_OPTIMIZER_DURATION, f'{SVC}, operation="full_optimization"'),
                         f"P{int(q * 100)}", exemplar=True) for q in (0.5, 0.95, 0.99)],
                   unit="s", threshold=thresholds((None, "green"), (30, "red")),
                   description="Full optimization duration percentiles; exemplars link to traces."),
        bargauge("Issues detected by type",
                 prom(f"sort_desc(sum by (issue_type) (increase({sc.METRIC_ISSUES_DETECTED}{{{SVC}}}[$__range])))",
                      "{{issue_type}}", instant=True),
                 unit="short", description="Performance issues found by the detectors in the selected time range."),
        timeseries("Recommendations generated",
                   [prom(f"sum by (issue_type) (increase({sc.METRIC_RECOMMENDATIONS_GENERATED}{{{SVC}}}[{RI}]))",
                         "{{issue_type}}")],
                   unit="short", bars=True, stack=True,
                   description="Recommendations generated per interval, by issue type."),
    ]
    return dashboard(
        "agent-obs-overview", "Optimizer: Overview",
        "Request rate, success rate, latency percentiles and output of the optimizer service.",
        [prometheus_var(), service_var()], panels, tags=["optimizer"],
    )
