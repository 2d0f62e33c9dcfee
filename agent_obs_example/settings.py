"""Settings of the example service (the observability settings live in service_obs).

Order: explicit arguments > ``AGENT_OBS_<FIELD>`` environment variables > the caller's
``defaults`` (the demo's database in its ``--out`` folder) > built-in defaults. A bad
value passed in code raises; a bad environment value warns once and falls back to the
default, so a typo in a deployment never stops the service.

| field | environment variable | default |
|---|---|---|
| ``database_url`` | ``AGENT_OBS_DATABASE_URL`` | ``sqlite:///optimizer.db`` (any SQLAlchemy URL, e.g. PostgreSQL) |
| ``dremio_url`` | ``AGENT_OBS_DREMIO_URL`` | unset: start the local Dremio stand-in on 127.0.0.1 |
| ``dremio_token`` | ``AGENT_OBS_DREMIO_TOKEN`` | unset (personal access token, sent as a Bearer token) |
| ``dremio_timeout_s`` | ``AGENT_OBS_DREMIO_TIMEOUT_S`` | ``10`` |
| ``model`` | ``AGENT_OBS_MODEL`` | ``gpt-4o-mini`` (used when ``OPENAI_API_KEY`` is set) |
| ``use_openai`` | ``AGENT_OBS_USE_OPENAI`` | unset: ``true`` when ``OPENAI_API_KEY`` is set, else the scripted model |
| ``approval_required_risk`` | ``AGENT_OBS_APPROVAL_REQUIRED_RISK`` | ``high`` (``low``/``medium``/``high``/``none``) |
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from typing import Any

from agent_obs.env import parse_bool

ENV_PREFIX = "AGENT_OBS_"
RISK_LEVELS = ("low", "medium", "high")


@dataclasses.dataclass(frozen=True)
class OptimizerSettings:
    """What the optimizer service needs besides observability; see the module docstring."""

    database_url: str = "sqlite:///optimizer.db"
    dremio_url: str | None = None
    dremio_token: str | None = None
    dremio_timeout_s: float = 10.0
    model: str = "gpt-4o-mini"
    use_openai: bool | None = None
    approval_required_risk: str = "high"

    def __post_init__(self) -> None:
        if self.dremio_timeout_s <= 0:
            raise ValueError("dremio_timeout_s must be positive")
        if self.approval_required_risk not in (*RISK_LEVELS, "none"):
            raise ValueError(f"approval_required_risk must be one of {RISK_LEVELS} or 'none'")
        if not self.database_url:
            raise ValueError("database_url must not be empty")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, defaults: Mapping[str, Any] | None = None,
                 **overrides: Any) -> OptimizerSettings:
        """Build settings from explicit ``overrides`` > environment > ``defaults`` > built-in defaults."""
        env = os.environ if environ is None else environ
        defaults_given = dict(defaults or {})
        values: dict[str, Any] = dict(defaults_given)
        unknown = sorted(set(defaults_given) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"OptimizerSettings has no field {', '.join(unknown)}")
        built_in = cls()
        for field in dataclasses.fields(cls):
            if field.name in overrides:
                continue
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[field.name] = _parse(field.name, raw, getattr(built_in, field.name))
                cls(**{field.name: values[field.name]})  # validate this one value alone
            except ValueError:
                warnings.warn(f"ignoring bad {ENV_PREFIX}{field.name.upper()}={raw!r}; using the default",
                              RuntimeWarning, stacklevel=2)
                values.pop(field.name, None)
                if field.name in defaults_given:
                    values[field.name] = defaults_given[field.name]
        values.update(overrides)
        return cls(**values)

    @property
    def wants_openai(self) -> bool:
        """True when the real provider should be used instead of the scripted model."""
        if self.use_openai is not None:
            return self.use_openai
        return bool(os.environ.get("OPENAI_API_KEY"))


def _parse(name: str, raw: str, default: Any) -> Any:
    if name == "use_openai" or isinstance(default, bool):
        return parse_bool(raw)
    if isinstance(default, float):
        return float(raw)
    return raw.strip()
