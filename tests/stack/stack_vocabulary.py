"""The metric names a dashboard or rule may use, read from the modules that define them.

agent_obs.semconv (the agent's METRICS, the service's SERVICE_METRICS and the example's
EXAMPLE_METRICS), prometheus_client's process collector, and Prometheus's own
``up``, and what Tempo's metrics generator remote-writes (span metrics, service graph; read
back from a real Tempo in test_stack_servers.py). Histograms contribute ``_bucket``, ``_sum``
and ``_count``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, ProcessCollector


def _expand(name: str, kind: str) -> set[str]:
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return {name}


# Tempo's metrics generator (tempo/tempo.yaml: span-metrics and service-graphs processors).
TEMPO_GENERATED = {
    "traces_spanmetrics_calls_total": "counter", "traces_spanmetrics_size_total": "counter",
    "traces_spanmetrics_latency": "histogram", "traces_service_graph_request_total": "counter",
    "traces_service_graph_request_failed_total": "counter",
    "traces_service_graph_request_server_seconds": "histogram",
    "traces_service_graph_request_client_seconds": "histogram",
}


def known_metric_names() -> set[str]:
    from agent_obs import semconv as sc
    names = {"up"}
    for name, (kind, _labels, _help) in {**sc.METRICS, **sc.SERVICE_METRICS, **sc.EXAMPLE_METRICS}.items():
        names |= _expand(name, kind)
    for name, kind in TEMPO_GENERATED.items():
        names |= _expand(name, kind)
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    names |= {s.name for family in registry.collect() for s in family.samples}
    return names
