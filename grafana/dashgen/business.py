"""Business metrics: is the optimizer worth running (the seed's dashboard 3)."""

from __future__ import annotations

from typing import Any

from .sdk import bargauge, dashboard, gauge, prom, stat, thresholds, timeseries
from .common import SVC, prometheus_var, sc, service_var

RANGE = "$__range"


def _increase(metric: str, selector: str = SVC, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (increase({metric}{{{selector}}}[{RANGE}]))"


def build() -> dict[str, Any]:
    met = f'{SVC}, meets_expectation="true"'
    by_issue = sc.METRIC_MEASUREMENTS_BY_ISSUE
    panels = [
        stat("Total time saved", prom(f"{_increase(sc.METRIC_TIME_SAVED)} / 3600"), unit="h", decimals=1,
             description="Query time saved by measured recommendations in the selected range, in hours."),
        gauge("Average improvement", prom(f"max({sc.METRIC_AVERAGE_IMPROVEMENT}{{{SVC}}})"), unit="percent",
              maximum=100, threshold=thresholds((None, "red"), (20, "green")),
              description="Average measured improvement over all measurements; the target is above 20%."),
        stat("Adoption rate (measured / generated)",
             prom(f"{_increase(sc.METRIC_MEASUREMENTS_RECORDED)} / {_increase(sc.METRIC_RECOMMENDATIONS_GENERATED)}"),
             unit="percentunit", decimals=1, threshold=thresholds((None, "red"), (0.3, "green")),
             description="Recommendations implemented and measured, per recommendation generated "
                         "(LowRecommendationAdoption fires below 30% over 24h)."),
        stat("LLM cost", prom(_increase(sc.METRIC_LLM_COST)), unit="currencyUSD", decimals=2,
             description="Estimated LLM spend in the selected range, from the price table."),
        timeseries("Time saved by issue type",
                   [prom(f"sum by (issue_type) (increase({sc.METRIC_TIME_SAVED}{{{SVC}}}[$__rate_interval])) / 3600",
                         "{{issue_type}}")],
                   unit="h", bars=True, stack=True,
                   description="Hours of query time saved per interval, by the issue the recommendation fixed."),
        timeseries("Recommendations approved vs rejected",
                   [prom(f"sum by (decision) (increase({sc.METRIC_RECOMMENDATIONS_DECIDED}{{{SVC}}}[$__rate_interval]))",
                         "{{decision}}")],
                   unit="short", bars=True, stack=True,
                   description="Human decisions on high-risk recommendations (the agent's interrupt for approval)."),
        bargauge("Top issue types",
                 prom(f"topk(10, {_increase(sc.METRIC_ISSUES_DETECTED, by='issue_type')})", "{{issue_type}}",
                      instant=True),
                 unit="short", description="The most common performance issues in the selected range."),
        bargauge("Success rate by issue type",
                 prom(f"({_increase(by_issue, met, 'issue_type')}"
                      f" or {_increase(by_issue, SVC, 'issue_type')} * 0)"
                      f" / {_increase(by_issue, SVC, 'issue_type')}", "{{issue_type}}", instant=True),
                 unit="percentunit", threshold=thresholds((None, "red"), (0.5, "orange"), (0.8, "green")),
                 description="Share of measured recommendations that met their expected improvement, per detector."),
        stat("ROI: hours saved per LLM dollar",
             prom(f"({_increase(sc.METRIC_TIME_SAVED)} / 3600) / {_increase(sc.METRIC_LLM_COST)}"),
             unit="h", decimals=1, threshold=thresholds((None, "red"), (1, "orange"), (10, "green")),
             description="Query hours saved for every US dollar of estimated LLM spend in the selected range."),
        stat("Measurements meeting expectation",
             prom(f"{_increase(sc.METRIC_MEASUREMENTS_RECORDED, met)} / {_increase(sc.METRIC_MEASUREMENTS_RECORDED)}"),
             unit="percentunit", decimals=1, threshold=thresholds((None, "red"), (0.5, "orange"), (0.8, "green")),
             description="Share of all measurements whose improvement met the recommendation's estimate."),
    ]
    return dashboard(
        "agent-obs-business", "Optimizer: Business metrics",
        "Time saved, improvement, adoption, detector effectiveness and return on LLM spend.",
        [prometheus_var(), service_var()], panels, tags=["optimizer"], time_from="now-7d",
    )
