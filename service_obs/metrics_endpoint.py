"""Prometheus exposition with content negotiation, for any web framework.

    body, content_type = render_metrics(registry, request.headers.get("accept"))

Prometheus asks for OpenMetrics (``Accept: application/openmetrics-text``) and then gets the
``trace_id``/``span_id`` exemplars that link a latency bucket to its trace in Tempo; anything
else gets the classic text format, which has no exemplars.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder


def render_metrics(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The exposition of ``registry`` in the format ``accept`` prefers, and its content type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
