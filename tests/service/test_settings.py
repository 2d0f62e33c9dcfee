"""ObservabilitySettings: explicit > AGENT_OBS_* env > defaults; bad values handled per the rules."""

from __future__ import annotations

import warnings

import pytest

from service_obs import ObservabilitySettings


def test_defaults_need_no_server() -> None:
    settings = ObservabilitySettings()
    assert settings.tempo_endpoint is None and settings.loki_endpoint is None
    assert settings.loki_enabled is False
    assert settings.trace_file == "telemetry/traces.jsonl"
    assert settings.trace_sample_rate == 1.0 and settings.instrument_http is True
    assert settings.set_global_tracer_provider is False


def test_explicit_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_OBS_SERVICE_NAME", "from-env")
    monkeypatch.setenv("AGENT_OBS_TRACE_SAMPLE_RATE", "0.25")
    monkeypatch.setenv("AGENT_OBS_LOKI_ENDPOINT", "http://127.0.0.1:3100/")
    monkeypatch.setenv("AGENT_OBS_LOKI_LABELS", "team=ml,cluster=eu")
    monkeypatch.setenv("AGENT_OBS_LOG_TO_LOKI", "false")
    settings = ObservabilitySettings(service_name="explicit")
    assert settings.service_name == "explicit"
    assert settings.trace_sample_rate == 0.25
    assert settings.loki_endpoint == "http://127.0.0.1:3100"
    assert settings.loki_labels == {"team": "ml", "cluster": "eu"}
    assert settings.loki_enabled is False  # explicit off in the environment wins over the endpoint
    assert ObservabilitySettings(log_to_loki=True).loki_enabled is True


def test_otel_service_name_is_the_default_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "otel-name")
    assert ObservabilitySettings().service_name == "otel-name"
    monkeypatch.setenv("AGENT_OBS_SERVICE_NAME", "ours")
    assert ObservabilitySettings().service_name == "ours"


@pytest.mark.parametrize(
    ("field", "value"),
    [("trace_sample_rate", 1.5), ("trace_sample_rate", "x"), ("otlp_protocol", "thrift"),
     ("tempo_endpoint", "tempo:4317"), ("log_level", "LOUD"), ("loki_batch_size", 0),
     ("enable_tracing", "maybe"), ("otlp_headers", "novalue")],
)
def test_bad_value_in_code_raises_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        ObservabilitySettings(**{field: value})


def test_bad_environment_value_warns_once_and_uses_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_OBS_TRACE_SAMPLE_RATE", "lots-unique-1")
    with pytest.warns(RuntimeWarning, match="AGENT_OBS_TRACE_SAMPLE_RATE"):
        assert ObservabilitySettings().trace_sample_rate == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ObservabilitySettings().trace_sample_rate == 1.0  # no second warning


def test_headers_and_secrets() -> None:
    settings = ObservabilitySettings(otlp_headers="authorization=Bearer abc, x-tenant=t1",
                                     loki_password="hunter2", loki_username="u")
    assert settings.otlp_headers == {"authorization": "Bearer abc", "x-tenant": "t1"}
    assert "hunter2" not in repr(settings) and "abc" not in repr(settings)
    with pytest.raises(ValueError, match="loki_password"):
        ObservabilitySettings(loki_username="u")


def test_frozen_and_replace() -> None:
    settings = ObservabilitySettings(environment="prod")
    with pytest.raises(Exception):
        settings.environment = "dev"  # type: ignore[misc]
    assert settings.replace(environment="staging").environment == "staging"
    assert settings.environment == "prod"


def test_with_defaults_yields_to_the_environment_and_to_explicit_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENT_OBS_SERVICE_NAME", "OTEL_SERVICE_NAME", "AGENT_OBS_LOG_LEVEL", "AGENT_OBS_TRACE_FILE"):
        monkeypatch.delenv(name, raising=False)
    defaults = {"service_name": "app-default", "log_level": "DEBUG", "trace_file": "app/traces.jsonl"}
    plain = ObservabilitySettings.with_defaults(defaults)
    assert (plain.service_name, plain.log_level, plain.trace_file) == ("app-default", "DEBUG", "app/traces.jsonl")

    monkeypatch.setenv("OTEL_SERVICE_NAME", "otel-name")
    monkeypatch.setenv("AGENT_OBS_LOG_LEVEL", "INFO")
    from_env = ObservabilitySettings.with_defaults(defaults)
    assert (from_env.service_name, from_env.log_level, from_env.trace_file) == ("otel-name", "INFO", "app/traces.jsonl")
    monkeypatch.setenv("AGENT_OBS_SERVICE_NAME", "agent-obs-name")
    assert ObservabilitySettings.with_defaults(defaults).service_name == "agent-obs-name"
    assert ObservabilitySettings.with_defaults(defaults, service_name="explicit").service_name == "explicit"

    monkeypatch.setenv("AGENT_OBS_LOG_LEVEL", "LOUD")  # a bad environment value: the app's default
    with pytest.warns(RuntimeWarning, match="AGENT_OBS_LOG_LEVEL"):
        assert ObservabilitySettings.with_defaults(defaults).log_level == "DEBUG"
    with pytest.raises(TypeError, match="no field nope"):
        ObservabilitySettings.with_defaults({"nope": 1})


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("enable_tracing", "yes", "True or False"),
    ("log_to_loki", 1, "True, False or None"),
    ("trace_sample_rate", "0.5", "a number"),
    ("loki_batch_size", 5.0, "an int"),
    ("loki_batch_size", True, "an int"),
    ("service_name", 42, "a str"),
    ("loki_labels", ["a"], "a mapping"),
])
def test_wrong_type_in_code_raises_type_error_naming_the_field(field: str, value: object, expected: str) -> None:
    """Guards issue 14 item 9: a field given in code with the wrong type is a TypeError."""
    with pytest.raises(TypeError, match=rf"ObservabilitySettings\.{field} expects {expected}"):
        ObservabilitySettings(**{field: value})


def test_from_env_reads_the_given_mapping_not_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_OBS_ENVIRONMENT", "from-process")
    settings = ObservabilitySettings.from_env(
        {"AGENT_OBS_ENVIRONMENT": "staging", "OTEL_SERVICE_NAME": "otel-name", "AGENT_OBS_LOG_FILE": ""},
        log_level="debug")
    assert (settings.environment, settings.service_name, settings.log_file, settings.log_level) == (
        "staging", "otel-name", None, "DEBUG")
    assert ObservabilitySettings.from_env({}).environment == "development"
    assert ObservabilitySettings.from_env({"AGENT_OBS_SERVICE_NAME": "ours", "OTEL_SERVICE_NAME": "x"}).service_name == "ours"
    with pytest.raises(TypeError, match="no_such_field"):
        ObservabilitySettings.from_env({}, no_such_field=1)


def test_standard_otel_variables_are_read_once_into_settings() -> None:
    settings = ObservabilitySettings.from_env({
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "32", "OTEL_BSP_MAX_QUEUE_SIZE": "100",
    })
    otel = settings.otel
    assert (otel.traces_endpoint, otel.protocol) == ("http://collector:4318", "http/protobuf")
    assert (otel.bsp_schedule_delay_ms, otel.bsp_max_export_batch_size, otel.bsp_max_queue_size) == (50.0, 32, 100)
    assert settings.replace(environment="x").otel == otel
    with pytest.warns(RuntimeWarning, match="OTEL_BSP_MAX_QUEUE_SIZE"):
        assert ObservabilitySettings.from_env({"OTEL_BSP_MAX_QUEUE_SIZE": "many-unique-2"}).otel.bsp_max_queue_size is None


def test_setup_decides_on_the_exporter_and_batches_from_the_settings_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """setup_observability reads no OTEL_* itself: a snapshot without an endpoint means the
    trace file even when the process environment names a collector, and the other way round."""
    from agent_obs.otlp_json import OtlpJsonFileExporter
    from service_obs import setup as so_setup

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "5000")
    from prometheus_client import CollectorRegistry

    local = ObservabilitySettings.from_env({})
    assert isinstance(so_setup._default_exporter(local, CollectorRegistry()), OtlpJsonFileExporter)  # noqa: SLF001
    remote = ObservabilitySettings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
                                             "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    exporter = so_setup._default_exporter(remote, CollectorRegistry())  # noqa: SLF001
    assert type(exporter).__module__.endswith("http.trace_exporter")
    processor = so_setup._batch_processor(exporter, local.otel)  # noqa: SLF001
    try:
        assert processor._batch_processor._schedule_delay == 0.5  # noqa: SLF001 - ours, not the process's 5000 ms
    finally:
        processor.shutdown()
