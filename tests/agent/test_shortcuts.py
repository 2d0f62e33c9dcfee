"""Each private-internals shortcut (agent_obs/shortcuts.py) is taken where it is safe, and the
public path is taken otherwise: when ``public_only`` switches it off, or when the library has
another shape. What users see is the same either way (test_hot_path.py compares the output)."""

from __future__ import annotations

import sys

from typing import Any
from unittest import mock

import pytest
from graphs import ScriptedChatModel, build_tool_agent, tool_agent_script, user
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
from prometheus_client import CollectorRegistry, Histogram

from agent_obs import AgentObserver, shortcuts
from agent_obs.metrics import get_or_create, metrics_for
from agent_obs.spans import SpanSink


def _span(provider: TracerProvider) -> Any:
    return provider.get_tracer("t").start_span("s")


# --- spans -----------------------------------------------------------------------------------
def test_span_shortcuts_are_taken_for_the_sdks_samplers_and_spans():
    cuts = shortcuts.SpanShortcuts(TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5))))
    assert cuts.children_follow_parent and cuts.attributes_after_start and cuts.direct_attributes
    span = _span(TracerProvider())
    with mock.patch.object(span, "set_attributes", side_effect=AssertionError("public path")):
        cuts.write_attributes(span, {"a": 1, "b": ["x", "y"]})
    assert span.attributes["a"] == 1 and span.attributes["b"] == ("x", "y")


def test_span_shortcuts_take_the_public_path_when_switched_off():
    with shortcuts.public_only(shortcuts.SAMPLER_SHAPE, shortcuts.SPAN_ATTRIBUTES):
        cuts = shortcuts.SpanShortcuts(TracerProvider())
        sink = SpanSink(TracerProvider())
    assert not (cuts.children_follow_parent or cuts.attributes_after_start or cuts.direct_attributes)
    assert not (sink._children_follow_parent or sink._attributes_after_start)  # noqa: SLF001
    span = _span(TracerProvider())
    with mock.patch.object(span, "set_attributes", wraps=span.set_attributes) as public:
        cuts.write_attributes(span, {"a": 1})
    public.assert_called_once_with({"a": 1})
    assert shortcuts.allowed(shortcuts.SPAN_ATTRIBUTES), "public_only ends with its block"


def test_span_shortcuts_take_the_public_path_for_other_shapes(monkeypatch):
    class Custom(ParentBased):
        pass

    cuts = shortcuts.SpanShortcuts(TracerProvider(sampler=Custom(ALWAYS_ON)))
    assert not cuts.attributes_after_start  # a subclass may read attributes
    monkeypatch.setattr(shortcuts, "BoundedAttributes", dict)  # the SDK changed its store
    assert not shortcuts.SpanShortcuts(TracerProvider()).direct_attributes


def test_an_agent_exports_the_same_spans_on_the_public_path():
    def run() -> list[Any]:
        exporter, provider = InMemorySpanExporter(), TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        observer = AgentObserver(tracer_provider=provider, registry=CollectorRegistry())
        build_tool_agent(ScriptedChatModel(responses=tool_agent_script())).invoke(
            user("weather?"), config={"callbacks": [observer]})
        volatile = {"langgraph.checkpoint_ns", "agent_obs.cost.usd"}
        return sorted(repr((s.name, sorted((k, v) for k, v in s.attributes.items() if k not in volatile)))
                      for s in exporter.get_finished_spans())

    fast = run()
    with shortcuts.public_only():
        slow = run()
    assert fast == slow and len(fast) > 5


# --- prometheus_client ---------------------------------------------------------------------
def test_exemplar_shortcut_is_taken_only_when_the_probe_matches(monkeypatch):
    assert shortcuts.exemplar_observer() is shortcuts._observe_direct  # noqa: SLF001
    with shortcuts.public_only(shortcuts.HISTOGRAM_EXEMPLAR):
        assert shortcuts.exemplar_observer() is shortcuts._observe_public  # noqa: SLF001
        assert metrics_for(CollectorRegistry()).observe is shortcuts._observe_public  # noqa: SLF001
    monkeypatch.setattr(shortcuts, "_exemplar_shape", [])
    # prometheus_client changed how buckets are bounded: the probe sees exemplars land elsewhere
    monkeypatch.setattr(shortcuts, "bisect_left", lambda bounds, amount: 0)
    assert shortcuts.exemplar_observer() is shortcuts._observe_public  # noqa: SLF001


def test_exemplars_land_the_same_either_way():
    exemplar = {"trace_id": "1" * 32, "span_id": "2" * 16}
    views = []
    for observe in (shortcuts._observe_direct, shortcuts._observe_public):  # noqa: SLF001
        histogram = Histogram("h", "d", registry=None, buckets=(1.0, 5.0))
        for amount in (0.2, 3.0, 7.0):
            observe(histogram, amount, exemplar)
        views.append([(s.name, s.value, s.exemplar and s.exemplar.labels)
                      for m in histogram.collect() for s in m.samples if not s.name.endswith("_created")])
    assert views[0] == views[1]
    assert sum(1 for *_, e in views[0] if e) == 3


def test_registry_lookup_finds_foreign_collectors_only_with_the_shortcut():
    registry = CollectorRegistry()
    theirs = Histogram("their_seconds", "theirs", registry=registry)
    assert get_or_create(registry, "their_seconds", "histogram", "ours", ()) is theirs
    other = CollectorRegistry()
    Histogram("their_seconds", "theirs", registry=other)
    with shortcuts.public_only(shortcuts.REGISTRY_LOOKUP):
        assert shortcuts.registered_collector(other, "their_seconds") is None
        with pytest.raises(ValueError, match="their_seconds"):  # prometheus_client's duplicate error
            get_or_create(other, "their_seconds", "histogram", "ours", ())
        # families made through get_or_create are found on the public path too
        ours = get_or_create(registry, "ours_total", "counter", "ours", ())
        assert get_or_create(registry, "ours_total", "counter", "ours", ()) is ours


# --- loguru ------------------------------------------------------------------------------------
def test_log_level_gate_reads_loguru_min_level_only_with_the_shortcut():
    from loguru import logger

    gate = shortcuts.LogLevelGate(logger)
    handler = logger.add(lambda message: None, level="WARNING")
    try:
        if gate._core.min_level >= 30:  # noqa: SLF001 - no other handler below WARNING
            assert not gate.enabled(10)
        assert gate.enabled(40)
        with shortcuts.public_only(shortcuts.LOG_LEVEL):
            public = shortcuts.LogLevelGate(logger)
        assert public.enabled(10) and public.enabled(5)
        assert shortcuts.LogLevelGate(object()).enabled(10)  # another logger shape
    finally:
        logger.remove(handler)


def test_patcher_access_is_usable_only_with_the_shortcut():
    from loguru import logger

    assert shortcuts.PatcherAccess(logger).usable
    with shortcuts.public_only(shortcuts.LOGURU_PATCHER):
        assert not shortcuts.PatcherAccess(logger).usable
    assert not shortcuts.PatcherAccess(object()).usable


def test_loguru_handlers_see_the_core_only_with_the_shortcut():
    from loguru import logger

    handler = logger.add(sys.__stderr__, level="CRITICAL")  # the real stderr: pytest swaps sys.stderr
    try:
        handlers = shortcuts.LoguruHandlers(logger)
        assert handlers.usable and handlers.is_stderr(handler) is True
        assert handlers.is_stderr(10**9) is False  # no such handler
        assert shortcuts.LoguruHandlers(logger.bind(x=1)).key == handlers.key  # bound copies share handlers
        with shortcuts.public_only(shortcuts.LOGURU_HANDLERS):
            public = shortcuts.LoguruHandlers(logger)
        assert not public.usable and public.is_stderr(handler) is None and public.key == id(logger)
        assert not shortcuts.LoguruHandlers(object()).usable
    finally:
        logger.remove(handler)


def test_registry_listing_independent_logger_and_app_marker_take_the_public_path_when_off():
    registry = CollectorRegistry()
    histogram = Histogram("listed_seconds", "h", registry=registry)
    assert shortcuts.registered_collectors(registry) == [histogram]
    assert shortcuts.registered_collectors(object()) is None
    from loguru import logger

    quiet = shortcuts.independent_logger()
    assert quiet is not logger
    handler = quiet.add(lambda message: None)
    quiet.remove(handler)  # its own handlers, not the global logger's

    class App:
        _is_instrumented_by_opentelemetry = True

    assert shortcuts.app_instrumented(App()) and not shortcuts.app_instrumented(object())
    with shortcuts.public_only(shortcuts.REGISTRY_LOOKUP, shortcuts.LOGURU_LOGGER, shortcuts.APP_MARKER):
        assert shortcuts.registered_collectors(registry) is None
        assert shortcuts.independent_logger() is logger
        assert not shortcuts.app_instrumented(App())


def test_engine_listeners_are_usable_only_with_the_shortcut():
    class Tracer:
        _remove_event_listener_params: list[Any] = []

    assert shortcuts.EngineListeners(Tracer).usable
    with shortcuts.public_only(shortcuts.ENGINE_LISTENERS):
        assert not shortcuts.EngineListeners(Tracer).usable
    assert not shortcuts.EngineListeners(object).usable


def test_unknown_shortcut_names_are_refused():
    with pytest.raises(ValueError, match="unknown shortcuts"):
        with shortcuts.public_only("no_such_thing"):
            pass
