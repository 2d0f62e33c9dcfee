"""Metric names, selectors and template variables shared by the dashboard modules.

Every metric name comes from the one vocabulary, ``agent_obs.semconv`` (the agent's, the
service's HTTP/DB families and the example's business metrics), so a rename there changes the dashboards (and the
committed-JSON test fails until they are regenerated) instead of silently breaking a panel.
"""

from __future__ import annotations

from agent_obs import semconv as sc


from .sdk import datasource_var, label_var

HTTP_SERVER_DURATION = sc.METRIC_HTTP_SERVER_DURATION
HTTP_SERVER_REQUESTS = sc.METRIC_HTTP_SERVER_REQUESTS
HTTP_CLIENT_DURATION = sc.METRIC_HTTP_CLIENT_DURATION
HTTP_CLIENT_ERRORS = sc.METRIC_HTTP_CLIENT_ERRORS
DB_CONNECTION_ERRORS = sc.METRIC_DB_CONNECTION_ERRORS
DB_QUERY_DURATION = sc.METRIC_DB_QUERY_DURATION

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
