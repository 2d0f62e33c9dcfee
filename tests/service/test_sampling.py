"""Proof: trace_sample_rate=0.1 keeps about 10% of traces, and keeps them whole (parent-based)."""

from __future__ import annotations

from collections import Counter

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags


def test_ratio_sampling_keeps_whole_traces(make_obs, make_settings, span_exporter) -> None:
    obs = make_obs(make_settings(trace_sample_rate=0.1, enable_tracing=True),
                   span_processors=[SimpleSpanProcessor(span_exporter)])
    tracer = obs.tracer()
    traces = 2000
    for i in range(traces):
        with tracer.start_as_current_span("root"):
            with tracer.start_as_current_span("child"):
                with tracer.start_as_current_span("grandchild"):
                    pass
    spans = span_exporter.get_finished_spans()
    per_trace = Counter(s.context.trace_id for s in spans)
    kept = len(per_trace)
    # Binomial(2000, 0.1): mean 200, sd ~13.4; +-5 sd.
    assert 133 <= kept <= 267, kept
    assert set(per_trace.values()) == {3}, "a kept trace is kept whole"


def test_parent_decision_wins_over_the_ratio(make_obs, make_settings, span_exporter) -> None:
    obs = make_obs(make_settings(trace_sample_rate=0.0), span_processors=[SimpleSpanProcessor(span_exporter)])
    tracer = obs.tracer()
    sampled_parent = SpanContext(trace_id=0x1234, span_id=0x99, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    unsampled_parent = SpanContext(trace_id=0x5678, span_id=0x98, is_remote=True, trace_flags=TraceFlags(0))
    with tracer.start_as_current_span("own root"):
        pass
    with tracer.start_as_current_span("remote sampled", context=trace.set_span_in_context(NonRecordingSpan(sampled_parent))):
        pass
    with tracer.start_as_current_span("remote unsampled",
                                      context=trace.set_span_in_context(NonRecordingSpan(unsampled_parent))):
        pass
    assert [s.name for s in span_exporter.get_finished_spans()] == ["remote sampled"]


def test_enable_tracing_false_records_nothing(make_obs, make_settings, span_exporter) -> None:
    obs = make_obs(make_settings(enable_tracing=False), span_processors=[SimpleSpanProcessor(span_exporter)])
    with obs.tracer().start_as_current_span("x") as span:
        assert not span.is_recording()
    assert span_exporter.get_finished_spans() == ()
