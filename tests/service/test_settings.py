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
