"""Small assertion helpers shared by the service_obs tests."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from agent_obs import semconv as sc


def dropped(registry: CollectorRegistry, reason: str, signal: str = "logs") -> float:
    value = registry.get_sample_value(sc.METRIC_DROPPED + "_total" if not sc.METRIC_DROPPED.endswith("_total")
                                      else sc.METRIC_DROPPED, {"signal": signal, "reason": reason})
    return value or 0.0
