"""Metric names, selectors and template variables shared by the dashboard modules.

Agent metric names come from ``agent_obs.semconv``, the example's business metric names
from ``agent_obs_example.metrics`` and the HTTP/DB families from ``service_obs``, so a rename there changes the dashboards (and the
committed-JSON test fails until they are regenerated) instead of silently breaking a panel.
"""

from __future__ import annotations

from agent_obs import semconv as sc
from agent_obs_example import metrics as em
from service_obs.fastapi import METRIC_HTTP_SERVER_DURATION as HTTP_SERVER_DURATION
from service_obs.fastapi import METRIC_HTTP_SERVER_REQUESTS as HTTP_SERVER_REQUESTS
from service_obs.http import METRIC_HTTP_CLIENT_DURATION as HTTP_CLIENT_DURATION
from service_obs.http import METRIC_HTTP_CLIENT_ERRORS as HTTP_CLIENT_ERRORS
from service_obs.sqlalchemy import METRIC_DB_CONNECTION_ERRORS as DB_CONNECTION_ERRORS
from service_obs.sqlalchemy import METRIC_DB_QUERY_DURATION as DB_QUERY_DURATION

from .sdk import datasource_var, label_var

# prometheus_client's process collector
PROCESS_MEMORY = "process_resident_memory_bytes"
PROCESS_CPU = "process_cpu_seconds_total"

SVC = 'service=~"$service"'
AGENT = f'{SVC}, {sc.LABEL_AGENT}=~"$agent"'
MODEL = f'{SVC}, {sc.LABEL_REQUEST_MODEL}=~"$model"'
RI = "$__rate_interval"


def bucket(name: str) -> str:
    return f"{name}_bucket"


def count(name: str) -> str:
    return f"{name}_count"


def quantile(q: float, metric: str, selector: str, by: str = "") -> str:
    """``histogram_quantile`` over summed bucket rates (never over raw buckets)."""
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({bucket(metric)}{{{selector}}}[{RI}])))"


def ratio(numerator_selector: str, denominator_selector: str, metric: str, by: str) -> str:
    """errors / all, reading 0 (not "no data") while the numerator has no series yet."""
    num = f"sum by ({by}) (rate({metric}{{{numerator_selector}}}[{RI}]))"
    den = f"sum by ({by}) (rate({metric}{{{denominator_selector}}}[{RI}]))"
    return f"({num} or {den} * 0) / {den}"


def prometheus_var():
    return datasource_var("datasource", "prometheus", "Prometheus", "prometheus")


def loki_var():
    return datasource_var("loki", "loki", "Loki", "loki")


def tempo_var():
    return datasource_var("tempo", "tempo", "Tempo", "tempo")


def service_var():
    # ".+", not ".*": Loki refuses a stream selector whose only matcher matches empty values.
    return label_var("service", "Service", 'up{service!=""}', "service", all_value=".+")


def agent_var():
    # Node durations name every agent that ran a node: top-level agents and named sub-agents
    # (agent_obs_runs_total knows only the top-level ones).
    return label_var("agent", "Agent", f"{count(sc.METRIC_NODE_DURATION)}{{{SVC}}}", sc.LABEL_AGENT)


def model_var():
    return label_var("model", "Model", f"{count(sc.METRIC_OPERATION_DURATION)}{{{SVC}}}",
                     sc.LABEL_REQUEST_MODEL)


def node_var():
    return label_var("node", "Node", f"{count(sc.METRIC_NODE_DURATION)}{{{AGENT}}}", sc.LABEL_NODE)
