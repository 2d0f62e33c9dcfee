"""ObservabilitySettings: every knob of ``setup_observability`` in one frozen object.

Precedence, field by field: an explicit constructor argument > the ``AGENT_OBS_<FIELD>``
environment variable (field name upper case, e.g. ``AGENT_OBS_LOKI_ENDPOINT``) > the default.
``OTEL_SERVICE_NAME`` comes after ``AGENT_OBS_SERVICE_NAME``. The other standard ``OTEL_*``
variables keep their meaning: the few that ``setup_observability`` itself decides on (is an
OTLP endpoint configured, which protocol, the batch processor's sizes) are read once, into
``settings.otel`` (an ``OtelEnvironment``), from the same environment as the fields; the rest
(headers, certificates, resource attributes) are read by the SDK and its exporters.

``ObservabilitySettings.from_env(environ, **explicit)`` reads a given mapping instead of
``os.environ`` (tests and embedding applications need no patching of the process environment).
Parsing and the warn-once live in ``agent_obs.env``, shared with ``agent_obs``.

A value of the wrong type given in code raises ``TypeError`` (``SettingsTypeError``, also a
``ValueError``) naming the field and what it expects, a bad value ``ValueError`` naming the
field, both at construction; a bad value
in the environment warns once (``RuntimeWarning``) and falls back to the default, so a typo in
a deployment manifest never stops a service from starting.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from agent_obs import env
from agent_obs import semconv as sc
from service_obs.deadline import DEFAULT_SHUTDOWN_TIMEOUT

ENV_PREFIX = "AGENT_OBS_"
OTLP_PROTOCOLS = ("grpc", "http/protobuf")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# --- parsers: raw (code or env string) -> value, ValueError with a reason on bad input ----
def _str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _str(value)


def _url(value: Any) -> str | None:
    text = _opt_str(value)
    if text is None:
        return None
    if not text.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return text.rstrip("/")


def _choice(options: tuple[str, ...], upper: bool = False) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _str(value)
        text = text.upper() if upper else text.lower()
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text

    return parse


_bool = env.parse_bool
_opt_bool = env.optional(env.parse_bool)
_number = env.parse_number
_mapping = env.parse_mapping
_opt_choice = lambda options: env.optional(_choice(options))  # noqa: E731
_positive_float = env.parse_number(float, 0.0, None)


# field name -> (default or default factory, parser)
_SPEC: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "service_name": ("agent-service", _str),
    "service_version": ("unknown", _str),
    "environment": ("development", _str),
    "tempo_endpoint": (None, _url),
    "otlp_protocol": (None, _opt_choice(OTLP_PROTOCOLS)),
    "otlp_headers": (dict, _mapping),
    "otlp_insecure": (None, _opt_bool),
    "otlp_timeout": (10.0, _number(float, 0.001, 600.0)),
    "enable_tracing": (True, _bool),
    "trace_sample_rate": (1.0, _number(float, 0.0, 1.0)),
    "trace_file": (sc.DEFAULT_TRACE_FILE, _opt_str),
    "log_level": ("INFO", _choice(LOG_LEVELS, upper=True)),
    "log_to_console": (True, _bool),
    "log_file": ("telemetry/logs.jsonl", _opt_str),
    "log_rotation": ("100 MB", _str),
    "log_retention": ("30 days", _str),
    "log_to_loki": (None, _opt_bool),
    "loki_endpoint": (None, _url),
    "loki_labels": (dict, _mapping),
    "loki_tenant_id": (None, _opt_str),
    "loki_username": (None, _opt_str),
    "loki_password": (None, _opt_str),
    "loki_bearer_token": (None, _opt_str),
    "loki_batch_size": (500, _number(int, 1, 100_000)),
    "loki_flush_interval": (1.0, _number(float, 0.001, 3600.0)),
    "loki_queue_size": (10_000, _number(int, 1, 10_000_000)),
    "loki_timeout": (5.0, _number(float, 0.001, 600.0)),
    "loki_max_retries": (10, _number(int, 0, 1000)),
    "loki_min_backoff": (0.5, _positive_float),
    "loki_max_backoff": (30.0, _positive_float),
    "loki_structured_metadata": (True, _bool),
    "capture_content": (None, _opt_bool),
    "instrument_http": (True, _bool),
    "http_send_receive_spans": (False, _bool),
    "set_global_tracer_provider": (False, _bool),
    "shutdown_timeout": (DEFAULT_SHUTDOWN_TIMEOUT, _number(float, 0.0, 600.0)),
}

_SECRET = {"otlp_headers", "loki_password", "loki_bearer_token"}
# a standard variable read after AGENT_OBS_<FIELD> and before the default
_STANDARD_FALLBACK = {"service_name": "OTEL_SERVICE_NAME"}


@dataclasses.dataclass(frozen=True)
class OtelEnvironment:
    """The standard ``OTEL_*`` variables ``setup_observability`` decides on, read once.

    ``traces_endpoint``: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``
    (only whether one is set matters: the exporter reads it itself); ``protocol``:
    ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` or ``OTEL_EXPORTER_OTLP_PROTOCOL``; the batch span
    processor's ``OTEL_BSP_SCHEDULE_DELAY`` (ms), ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` and
    ``OTEL_BSP_MAX_QUEUE_SIZE``, None when unset (a bad value warns once and counts as unset).
    """

    traces_endpoint: str | None = None
    protocol: str | None = None
    bsp_schedule_delay_ms: float | None = None
    bsp_max_export_batch_size: int | None = None
    bsp_max_queue_size: int | None = None

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> OtelEnvironment:
        def first(*names: str) -> str | None:
            for name in names:
                value = (environ.get(name) or "").strip()
                if value:
                    return value
            return None

        def number(name: str, kind: type) -> Any:
            return env.from_env(environ, name, env.optional(env.parse_number(kind, 1 if kind is int else 0)), None)

        return cls(
            traces_endpoint=first("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
            protocol=first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
            bsp_schedule_delay_ms=number("OTEL_BSP_SCHEDULE_DELAY", float),
            bsp_max_export_batch_size=number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", int),
            bsp_max_queue_size=number("OTEL_BSP_MAX_QUEUE_SIZE", int),
        )


def _field(name: str) -> Any:
    return dataclasses.field(default=UNSET, repr=name not in _SECRET, compare=True)


@dataclasses.dataclass(frozen=True)
class ObservabilitySettings:
    """Settings for :func:`service_obs.setup_observability`.

    Order: explicit argument > ``AGENT_OBS_<FIELD>`` environment variable > default. A bad
    explicit value raises ``ValueError`` naming the field; a bad environment value warns once
    and uses the default. ``log_to_loki=None`` means "when ``loki_endpoint`` is set";
    ``otlp_protocol=None`` means ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL``, else gRPC;
    ``otlp_insecure=None`` means "plaintext for http:// endpoints, TLS for https://";
    ``capture_content=None`` leaves the choice to ``AGENT_OBS_CAPTURE_CONTENT``.
    ``http_send_receive_spans`` keeps the ASGI instrumentation's ``http send``/``http receive``
    spans under each server span (one per response chunk; off by default: they cost about
    a tenth of a request's spans and tell nothing the server span does not).
    ``loki_structured_metadata=False`` is for Loki 2.x: ``trace_id``/``span_id`` then travel
    only inside the JSON line (``| json`` extracts them). Setting
    ``set_global_tracer_provider`` installs the provider globally, which OpenTelemetry does
    not allow to be undone within the process. ``shutdown_timeout`` is the one deadline of
    ``obs.shutdown()`` (spans and logs together) when it is called without a timeout.
    """

    service_name: str = _field("service_name")
    service_version: str = _field("service_version")
    environment: str = _field("environment")
    tempo_endpoint: str | None = _field("tempo_endpoint")
    otlp_protocol: str | None = _field("otlp_protocol")
    otlp_headers: dict[str, str] = _field("otlp_headers")
    otlp_insecure: bool | None = _field("otlp_insecure")
    otlp_timeout: float = _field("otlp_timeout")
    enable_tracing: bool = _field("enable_tracing")
    trace_sample_rate: float = _field("trace_sample_rate")
    trace_file: str | None = _field("trace_file")
    log_level: str = _field("log_level")
    log_to_console: bool = _field("log_to_console")
    log_file: str | None = _field("log_file")
    log_rotation: str = _field("log_rotation")
    log_retention: str = _field("log_retention")
    log_to_loki: bool | None = _field("log_to_loki")
    loki_endpoint: str | None = _field("loki_endpoint")
    loki_labels: dict[str, str] = _field("loki_labels")
    loki_tenant_id: str | None = _field("loki_tenant_id")
    loki_username: str | None = _field("loki_username")
    loki_password: str | None = _field("loki_password")
    loki_bearer_token: str | None = _field("loki_bearer_token")
    loki_batch_size: int = _field("loki_batch_size")
    loki_flush_interval: float = _field("loki_flush_interval")
    loki_queue_size: int = _field("loki_queue_size")
    loki_timeout: float = _field("loki_timeout")
    loki_max_retries: int = _field("loki_max_retries")
    loki_min_backoff: float = _field("loki_min_backoff")
    loki_max_backoff: float = _field("loki_max_backoff")
    loki_structured_metadata: bool = _field("loki_structured_metadata")
    capture_content: bool | None = _field("capture_content")
    instrument_http: bool = _field("instrument_http")
    http_send_receive_spans: bool = _field("http_send_receive_spans")
    set_global_tracer_provider: bool = _field("set_global_tracer_provider")
    shutdown_timeout: float = _field("shutdown_timeout")

    def __post_init__(self) -> None:
        self._resolve_all(os.environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **explicit: Any) -> ObservabilitySettings:
        """Settings from ``explicit`` > ``environ`` (default ``os.environ``) > defaults."""
        unknown = sorted(set(explicit) - set(_SPEC))
        if unknown:
            raise TypeError(f"ObservabilitySettings has no field {', '.join(unknown)}")
        settings = object.__new__(cls)
        for name in _SPEC:
            object.__setattr__(settings, name, explicit.get(name, UNSET))
        settings._resolve_all(os.environ if environ is None else environ)
        return settings

    def _resolve_all(self, environ: Mapping[str, str]) -> None:
        for name, (default, parse) in _SPEC.items():
            object.__setattr__(self, name, _resolve(name, getattr(self, name), default, parse, environ))
        object.__setattr__(self, "_otel", OtelEnvironment.read(environ))
        if self.loki_max_backoff < self.loki_min_backoff:
            raise ValueError("loki_max_backoff must be >= loki_min_backoff")
        if self.loki_username and not self.loki_password:
            raise ValueError("loki_password is required when loki_username is set")

    @property
    def otel(self) -> OtelEnvironment:
        """The standard ``OTEL_*`` variables setup decides on, read with the fields."""
        return self._otel  # type: ignore[attr-defined, no-any-return]

    @property
    def loki_enabled(self) -> bool:
        """Whether logs are shipped to Loki: ``log_to_loki``, or an endpoint when it is None."""
        if self.log_to_loki is None:
            return self.loki_endpoint is not None
        return self.log_to_loki and self.loki_endpoint is not None

    @classmethod
    def with_defaults(cls, defaults: Mapping[str, Any], **explicit: Any) -> ObservabilitySettings:
        """Settings where ``defaults`` only replace the built-in defaults.

        Order: ``explicit`` > environment (``AGENT_OBS_<FIELD>``; ``OTEL_SERVICE_NAME`` too for
        ``service_name``) > ``defaults`` > built-in default. This is how an application ships its
        own defaults (its service name, a log file) without overriding its operator's settings.
        """
        unknown = sorted(set(defaults) - set(_SPEC))
        if unknown:
            raise TypeError(f"ObservabilitySettings has no field {', '.join(unknown)}")
        values = {name: value for name, value in defaults.items()
                  if not _in_env(name, _SPEC[name][1], os.environ)}
        values.update(explicit)
        return cls(**values)

    def replace(self, **changes: Any) -> ObservabilitySettings:
        """A copy with ``changes`` applied as explicit arguments (``otel`` is kept as it is)."""
        current = {name: getattr(self, name) for name in _SPEC}
        current.update(changes)
        copy = ObservabilitySettings(**current)
        object.__setattr__(copy, "_otel", self._otel)
        return copy


class SettingsTypeError(TypeError, ValueError):
    """A field given in code has the wrong type. Also a ``ValueError``, as every bad value
    given in code was before types were checked apart."""


# annotation -> (accepted types, what to say); ints are accepted where floats are expected
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "str": ((str,), "a str"),
    "str | None": ((str, type(None)), "a str or None"),
    "bool": ((bool,), "True or False"),
    "bool | None": ((bool, type(None)), "True, False or None"),
    "int": ((int,), "an int"),
    "float": ((int, float), "a number"),
    "dict[str, str]": ((Mapping, str, type(None)), "a mapping (or 'k=v,k2=v2')"),
}


def _check_type(name: str, value: Any) -> None:
    annotation = ObservabilitySettings.__annotations__.get(name)
    accepted, expected = _TYPES.get(str(annotation), ((object,), ""))
    if isinstance(value, bool) and bool not in accepted or not isinstance(value, accepted):
        raise SettingsTypeError(
            f"ObservabilitySettings.{name} expects {expected}, got {type(value).__name__} {value!r:.80}")


def _resolve(name: str, value: Any, default: Any, parse: Callable[[Any], Any],
             environ: Mapping[str, str]) -> Any:
    if value is not UNSET:
        _check_type(name, value)
        try:
            return parse(value)
        except ValueError as exc:
            raise ValueError(f"ObservabilitySettings.{name} {exc} (got {value!r})") from None
    found = env.from_env(environ, ENV_PREFIX + name.upper(), parse, UNSET)
    standard = _STANDARD_FALLBACK.get(name)
    if found is UNSET and standard is not None and (environ.get(standard) or "").strip():
        found = env.from_env(environ, standard, parse, UNSET)
    if found is not UNSET:
        return found
    return default() if callable(default) else default


def _in_env(name: str, parse: Callable[[Any], Any], environ: Mapping[str, str]) -> bool:
    """Whether the environment sets field ``name`` to a valid value (a bad one warns once)."""
    if env.from_env(environ, ENV_PREFIX + name.upper(), parse, UNSET) is not UNSET:
        return True
    standard = _STANDARD_FALLBACK.get(name)
    return standard is not None and bool((environ.get(standard) or "").strip())
