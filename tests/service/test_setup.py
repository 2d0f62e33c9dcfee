"""setup_observability: what it builds, where telemetry goes, and that shutdown undoes it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
import requests
from langgraph.graph import END, START, StateGraph
from loguru import logger
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from typing_extensions import TypedDict

from agent_obs import AgentObserver
from service_obs import traced


class State(TypedDict):
    n: int


def _graph():
    builder = StateGraph(State)
    builder.add_node("step", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder.compile(name="tiny")


def test_embedded_default_writes_trace_file_and_log_file(make_obs, make_settings, tmp_path) -> None:
    obs = make_obs(make_settings())
    tracer = obs.tracer("test")
    with tracer.start_as_current_span("request") as span:
        logger.bind(job_id="j-7").info("inside the request")
    obs.shutdown(timeout=5)
    trace_id = format(span.get_span_context().trace_id, "032x")
    lines = (tmp_path / "traces.jsonl").read_text().splitlines()
    request = json.loads(lines[0])
    resource = {a["key"]: a["value"] for a in request["resourceSpans"][0]["resource"]["attributes"]}
    assert resource["service.name"] == {"stringValue": "svc-test"}
    assert resource["deployment.environment.name"] == {"stringValue": "test"}
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert spans[0]["name"] == "request" and spans[0]["traceId"] == trace_id
    records = [json.loads(l) for l in (tmp_path / "logs.jsonl").read_text().splitlines()]
    (record,) = [r for r in records if r["message"] == "inside the request"]
    assert record["trace_id"] == trace_id and record["job_id"] == "j-7" and record["level"] == "INFO"


def test_otlp_grpc_export_to_tempo_stand_in(make_obs, make_settings, tempo) -> None:
    obs = make_obs(make_settings(tempo_endpoint=tempo.endpoint, service_version="1.2.3"))

    @traced("work", tracer_provider=obs.tracer_provider)
    def work() -> None:
        return None

    work()
    obs.shutdown(timeout=5)
    assert [s.name for s in tempo.spans()] == ["work"]
    resource = tempo.resources()[0]
    assert resource["service.name"] == "svc-test" and resource["service.version"] == "1.2.3"


def test_otel_exporter_env_endpoint_is_used(make_obs, make_settings, tempo, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tempo.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true")
    obs = make_obs(make_settings())
    with obs.tracer().start_as_current_span("via-env"):
        pass
    obs.shutdown(timeout=5)
    assert [s.name for s in tempo.spans()] == ["via-env"]


def test_observer_is_wired_to_the_handle(make_obs, span_exporter) -> None:
    obs = make_obs(span_processors=[SimpleSpanProcessor(span_exporter)])
    observer = obs.observer(agent_name="tiny-agent")
    assert isinstance(observer, AgentObserver)
    with obs.tracer().start_as_current_span("request") as parent:
        _graph().invoke({"n": 1}, config={"callbacks": [observer]})
    assert obs.registry.get_sample_value("agent_obs_runs_total", {"agent": "tiny-agent", "status": "ok"}) == 1.0
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    assert spans["invoke_agent tiny-agent"].parent.span_id == parent.get_span_context().span_id
    assert spans["node step"].parent.span_id == spans["invoke_agent tiny-agent"].context.span_id


def test_shutdown_undoes_everything_and_is_idempotent(make_obs, make_settings, loki) -> None:
    handlers_before = set(logger._core.handlers)  # noqa: SLF001
    patcher_before = logger._core.patcher  # noqa: SLF001
    send_before = requests.Session.send
    obs = make_obs(make_settings(loki_endpoint=loki.url))
    assert requests.Session.send is not send_before  # instrumented
    assert len(logger._core.handlers) == len(handlers_before) + 2  # file + Loki  # noqa: SLF001
    logger.info("queued before shutdown")
    obs.shutdown(timeout=5)
    assert [e.json["message"] for e in loki.snapshot()] == ["queued before shutdown"]
    assert set(logger._core.handlers) == handlers_before  # noqa: SLF001
    assert logger._core.patcher is patcher_before  # noqa: SLF001
    assert requests.Session.send is send_before
    def again(*args: object, **kwargs: object) -> None:
        raise AssertionError("a second shutdown() repeated a step")

    obs.tracer_provider.shutdown = again
    obs.logging.uninstall = again
    obs.shutdown(timeout=5)  # does nothing (counted, not timed)


def test_shutdown_is_bounded_when_backends_hang(make_obs, make_settings, loki, tempo) -> None:
    loki.slow(30)
    tempo.slow(30)
    obs = make_obs(make_settings(loki_endpoint=loki.url, tempo_endpoint=tempo.endpoint,
                                 loki_timeout=30, otlp_timeout=30))
    with obs.tracer().start_as_current_span("stuck"):
        logger.info("stuck too")
    started = time.monotonic()
    obs.shutdown(timeout=3.0)
    # Within the one deadline (3 s), spans and logs waited side by side: a wait for either
    # backend would take 30 s, and the two shares one after the other 6 s. The 2.5 s left
    # over are for a loaded machine.
    assert time.monotonic() - started < 5.5


def test_set_global_is_opt_in_and_documented_irreversible(tmp_path) -> None:
    # OpenTelemetry forbids resetting the global provider, so this runs in a child process.
    code = textwrap.dedent(f"""
        from opentelemetry import trace
        from service_obs import setup_observability, ObservabilitySettings
        s = ObservabilitySettings(trace_file={str(tmp_path / 't.jsonl')!r}, log_file=None,
                                  log_to_console=False, instrument_http=False)
        a = setup_observability(s)
        assert trace.get_tracer_provider() is not a.tracer_provider
        a.shutdown(1)
        b = setup_observability(s, set_global=True)
        assert trace.get_tracer_provider() is b.tracer_provider and b.is_global
        b.shutdown(1)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_otlp_http_protobuf_with_headers(make_obs, make_settings) -> None:
    from receivers import OtlpHttpReceiver

    with OtlpHttpReceiver() as receiver:
        obs = make_obs(make_settings(tempo_endpoint=receiver.endpoint, otlp_protocol="http/protobuf",
                                     otlp_headers={"x-scope-orgid": "tenant-1"}))
        with obs.tracer().start_as_current_span("over-http"):
            pass
        obs.shutdown(timeout=5)
        assert [s.name for s in receiver.spans()] == ["over-http"]
        assert receiver.headers[0]["x-scope-orgid"] == "tenant-1"


def test_console_sink_shows_trace_id(make_obs, make_settings, capsys) -> None:
    obs = make_obs(make_settings(log_to_console=True, log_file=None, log_level="INFO"))
    with obs.tracer().start_as_current_span("req") as span:
        logger.info("to the console")
    logger.debug("below the level")
    obs.shutdown(timeout=2)
    err = capsys.readouterr().err
    assert "to the console" in err and f"trace_id={span.get_span_context().trace_id:032x}" in err
    assert "below the level" not in err


def test_a_broken_record_is_counted_not_raised(make_obs, make_settings, loki) -> None:
    obs = make_obs(make_settings(loki_endpoint=loki.url, log_file=None))
    obs.logging.loki(object())  # not a loguru message: must not raise
    from conftest_helpers import dropped

    assert dropped(obs.registry, "error") == 1


def test_registry_is_fresh_and_has_process_metrics(make_obs) -> None:
    from prometheus_client import REGISTRY

    obs = make_obs()
    assert obs.registry is not REGISTRY
    assert obs.registry.get_sample_value("process_resident_memory_bytes") > 0
    assert obs.registry.get_sample_value("process_cpu_seconds_total") is not None


def test_log_file_lines_are_flat_json_and_extra_is_untouched(make_obs, make_settings, tmp_path, log_records) -> None:
    obs = make_obs(make_settings())
    seen = []
    handler = logger.add(lambda m: seen.append(dict(m.record["extra"])), format="{message}")
    try:
        logger.bind(payload="{not: a format} <red>").warning("braces {} and <tags>", "ok")
    finally:
        logger.remove(handler)
    obs.shutdown(timeout=2)
    (line,) = [json.loads(l) for l in (tmp_path / "logs.jsonl").read_text().splitlines()]
    assert line["message"] == "braces ok and <tags>" and line["payload"] == "{not: a format} <red>"
    assert seen == [{"payload": "{not: a format} <red>"}]


@pytest.mark.parametrize("public", [False, True], ids=["shortcut", "public-path"])
def test_console_logging_owns_the_console_and_gives_it_back(tmp_path, public: bool) -> None:
    """loguru's default stderr handler (DEBUG, no trace_id) would print every line twice and
    leak DEBUG at log_level=INFO; a fresh process has it, so this runs in a child. Either path
    of agent_obs.shortcuts.LOGURU_HANDLERS finds the default handler."""
    names = "shortcuts.LOGURU_HANDLERS" if public else ""
    code = textwrap.dedent(f"""
        import contextlib
        from loguru import logger
        from agent_obs import shortcuts
        from service_obs import setup_observability, ObservabilitySettings
        s = ObservabilitySettings(trace_file={str(tmp_path / 't.jsonl')!r}, log_file=None,
                                  log_to_console=True, log_level="INFO", instrument_http=False)
        for round in (1, 2):  # a second setup after shutdown owns the console again
            with shortcuts.public_only({names}) if {public} else contextlib.nullcontext():
                obs = setup_observability(s)
            logger.debug(f"debug line {{round}}")
            logger.info(f"info line {{round}}")
            obs.shutdown(1)
            logger.debug(f"after shutdown {{round}}")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    for round_ in (1, 2):
        assert sum(f"info line {round_}" in line for line in lines) == 1, result.stderr
        assert not any(f"debug line {round_}" in line for line in lines), result.stderr
        assert sum(f"after shutdown {round_}" in line for line in lines) == 1, result.stderr  # default is back


def test_default_shutdown_lets_the_app_exit_promptly_with_unreachable_backends(tmp_path) -> None:
    """Tempo and Loki accept connections and never answer (their exporters would wait 10 s
    and 5 s): shutdown() without a timeout, and the process exit after it, take the default
    deadline, and the lost spans and log records are reported."""
    import socket

    from service_obs.deadline import DEFAULT_SHUTDOWN_TIMEOUT

    holes = []
    for _ in range(2):
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)  # never accepted: connects succeed, nothing is ever answered
        holes.append(hole)
    tempo_port, loki_port = (h.getsockname()[1] for h in holes)
    code = textwrap.dedent(f"""
        import sys, time
        from loguru import logger
        from service_obs import setup_observability, ObservabilitySettings
        s = ObservabilitySettings(tempo_endpoint="http://127.0.0.1:{tempo_port}",
                                  loki_endpoint="http://127.0.0.1:{loki_port}", loki_flush_interval=0.05,
                                  log_file=None, log_to_console=False, instrument_http=False)
        obs = setup_observability(s)
        with obs.tracer().start_as_current_span("unsent"):
            logger.info("unsent either")
        deadline = time.monotonic() + 30
        while obs.logging.loki.queued and time.monotonic() < deadline:  # until the push is under way
            time.sleep(0.01)
        print(time.monotonic(), flush=True)
        obs.shutdown()
    """)
    try:
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        started = float(child.stdout.readline())
        _, err = child.communicate(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        for hole in holes:
            hole.close()
    assert child.returncode == 0, err
    assert elapsed < DEFAULT_SHUTDOWN_TIMEOUT + 2.0, (elapsed, err)
    assert "span export did not finish within the 3.0 s shutdown deadline" in err
    assert "log records were not sent" in err


def test_dropped_counters_exist_at_zero_from_setup(make_obs, make_settings, loki) -> None:
    """Guards issue 14 item 3: agent_obs_dropped_total had no series before the first drop."""
    from agent_obs.otlp_json import DROP_REASONS
    from service_obs.loki import REASON_TEXT

    obs = make_obs(make_settings(loki_endpoint=loki.url))
    sample = obs.registry.get_sample_value
    for reason in DROP_REASONS:
        assert sample("agent_obs_dropped_total", {"signal": "traces", "reason": reason}) == 0.0, reason
    for reason in REASON_TEXT:
        assert sample("agent_obs_dropped_total", {"signal": "logs", "reason": reason}) == 0.0, reason


def test_force_flush_ships_spans_and_logs_and_the_handle_is_a_context_manager(make_settings, loki, tmp_path) -> None:
    from service_obs import setup_observability

    send_before = requests.Session.send
    with setup_observability(make_settings(loki_endpoint=loki.url)) as obs:
        with obs.tracer().start_as_current_span("flushed"):
            logger.info("flushed too")
        assert obs.force_flush(timeout=5) is True
        assert [e.json["message"] for e in loki.snapshot()] == ["flushed too"]
        assert "flushed" in (tmp_path / "traces.jsonl").read_text()
        assert requests.Session.send is not send_before
    assert requests.Session.send is send_before  # __exit__ shut it down and undid setup


def test_everything_is_undone_through_one_list_latest_first(make_obs) -> None:
    obs = make_obs()
    order: list[str] = []
    obs.register_undo(lambda: order.append("engine"))
    obs.register_undo(lambda: order.append("app"))
    obs.register_undo(lambda: (_ for _ in ()).throw(RuntimeError("a broken step")))  # later steps still run
    obs.shutdown(timeout=5)
    assert order == ["app", "engine"]
    with pytest.raises(RuntimeError, match="shut down"):
        obs.register_undo(lambda: None)


def test_without_the_patcher_shortcut_uninstall_switches_our_patcher_off(make_settings) -> None:
    """The public path of agent_obs.shortcuts.LOGURU_PATCHER: loguru cannot unset a patcher,
    so ours stays installed and adds no trace context once uninstalled."""
    from opentelemetry.sdk.trace import TracerProvider

    from agent_obs import shortcuts
    from service_obs.logging import install_logging

    access = shortcuts.PatcherAccess(logger)
    before = access.current()
    tracer = TracerProvider().get_tracer("t")
    seen: list[dict] = []
    with shortcuts.public_only(shortcuts.LOGURU_PATCHER):
        handle = install_logging(make_settings(log_file=None))
    sink = logger.add(lambda message: seen.append(dict(message.record["extra"])), level="INFO")
    try:
        with tracer.start_as_current_span("s"):
            logger.info("inside")
        handle.uninstall(1)
        assert access.current() is not before  # still installed: the public path cannot unset it
        with tracer.start_as_current_span("s"):
            logger.info("after")
    finally:
        logger.remove(sink)
        access.restore(before)  # the test's own clean-up
    assert "trace_id" in seen[0] and "trace_id" not in seen[1]
