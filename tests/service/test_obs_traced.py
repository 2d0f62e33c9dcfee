"""``obs.traced``: the decorator bound to the handle's provider, not the (unset) global one."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service_obs import setup_observability


def test_obs_traced_uses_the_handles_tracer_provider(make_settings):
    exporter = InMemorySpanExporter()
    obs = setup_observability(make_settings(instrument_http=False),
                              span_processors=[SimpleSpanProcessor(exporter)])
    try:
        @obs.traced("work.step", record_args=("job_id",))
        def step(job_id: str, token: str) -> str:
            return job_id.upper()

        assert step("job-1", token="secret") == "JOB-1"
        spans = exporter.get_finished_spans()
        assert [s.name for s in spans] == ["work.step"]
        assert "job-1" in spans[0].attributes.values()
        assert "secret" not in spans[0].attributes.values()
        assert spans[0].resource.attributes["service.name"] == "svc-test"
    finally:
        obs.shutdown(5)
