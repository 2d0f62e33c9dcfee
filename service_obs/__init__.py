"""service_obs: one-call observability for the rest of an agent service.

    from service_obs import setup_observability, ObservabilitySettings, traced
    obs = setup_observability(ObservabilitySettings(service_name="optimizer-agent"))

``service_obs.fastapi.instrument_app`` and ``service_obs.sqlalchemy.instrument_engine`` add the
web framework and the database. Importing this package imports neither FastAPI nor
SQLAlchemy, reads no environment and starts nothing: the names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_obs.lazy import lazy_exports

if TYPE_CHECKING:
    from service_obs.settings import ObservabilitySettings
    from service_obs.setup import Observability, setup_observability
    from service_obs.tracing import traced

__all__ = ["ObservabilitySettings", "Observability", "setup_observability", "traced"]

_LAZY = {
    "ObservabilitySettings": "service_obs.settings",
    "Observability": "service_obs.setup",
    "setup_observability": "service_obs.setup",
    "traced": "service_obs.tracing",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
