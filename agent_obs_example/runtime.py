"""Wiring: build every collaborator of the service once, and release them in reverse order.

``build_runtime`` is where the example meets ``service_obs``: it takes (or sets up) the
observability handle, starts the Dremio stand-in unless ``dremio_url`` points at a real
Dremio, instruments the SQLAlchemy engine, and gives the graph an ``AgentObserver`` from
``obs.observer()``. The scripted model is priced like gpt-4o-mini (``SCRIPTED_PRICE``) so the
cost panels have realistic numbers in the demo; a real model uses agent_obs's price table.
"""

from __future__ import annotations

import logging
from typing import Any

from .agent import AgentDeps, build_graph
from .analysis import AnalysisService
from .db import Database
from .dremio import DremioClient
from .events import OptimizerEvents
from .metrics import OptimizerMetrics
from .model import SCRIPTED_MODEL, build_chat_model
from .service import OptimizationService
from .settings import OptimizerSettings
from .standin import DremioStandIn
from .tools import make_tools

_log = logging.getLogger(__name__)
SERVICE_NAME = "optimizer-agent"  # the example's default service.name; settings and --service-name win
SCRIPTED_PRICE = {SCRIPTED_MODEL: {"input": 0.15, "output": 0.60}}  # USD per million tokens


class Runtime:
    """What ``create_app`` built; ``close()`` is idempotent and undoes it in reverse order."""

    def __init__(self) -> None:
        self.obs: Any = None
        self.owns_obs = False
        self.standin: DremioStandIn | None = None
        self.client: DremioClient | None = None
        self.db: Database | None = None
        self.metrics: OptimizerMetrics | None = None
        self.service: OptimizationService | None = None
        self.dremio_url = ""
        self.model_name = ""
        self._engine_instrumentation: Any = None
        self._app_instrumentation: Any = None
        self._closed = False

    def instrument(self, app: Any) -> None:
        from service_obs.fastapi import instrument_app

        self._app_instrumentation = instrument_app(app, self.obs)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for step in (
            lambda: self._app_instrumentation and self._app_instrumentation.uninstrument(),
            lambda: self._engine_instrumentation and self._engine_instrumentation.uninstrument(),
            lambda: self.db and self.db.dispose(),
            lambda: self.client and self.client.close(),
            lambda: self.standin and self.standin.stop(),
            lambda: self.owns_obs and self.obs.shutdown(),
        ):
            try:
                step()
            except Exception:  # noqa: BLE001 - every later step still runs
                _log.warning("optimizer shutdown step failed", exc_info=True)


def build_runtime(settings: OptimizerSettings, *, obs: Any = None, checkpointer: Any = None,
                  chat_model: Any = None, service_name: str | None = None,
                  observe_agent: bool = True) -> Runtime:
    """``observe_agent=False`` leaves the AgentObserver off the graph (to measure its share).

    Without ``obs``, observability comes from the ``AGENT_OBS_*`` settings; ``service_name``
    (``--service-name``) overrides them, and ``SERVICE_NAME`` is only the default.
    """
    runtime = Runtime()
    try:
        if obs is None:
            from service_obs import ObservabilitySettings, setup_observability

            explicit = {"service_name": service_name} if service_name else {}
            obs = setup_observability(ObservabilitySettings.with_defaults({"service_name": SERVICE_NAME}, **explicit))
            runtime.owns_obs = True
        runtime.obs = obs
        runtime.metrics = metrics = OptimizerMetrics(obs.registry)
        url = settings.dremio_url
        if url is None:
            runtime.standin = DremioStandIn().start()
            url = runtime.standin.url
        runtime.dremio_url = url
        runtime.client = client = DremioClient(url, token=settings.dremio_token, timeout_s=settings.dremio_timeout_s,
                                               on_error=metrics.dremio_error, on_request=metrics.dremio_request)
        runtime.db = db = Database(settings.database_url)
        from service_obs.sqlalchemy import instrument_engine

        runtime._engine_instrumentation = instrument_engine(db.engine, obs)
        db.create_schema()
        model = chat_model if chat_model is not None else build_chat_model(settings)
        runtime.model_name = getattr(model, "model_name", None) or getattr(model, "model", "") or type(model).__name__
        if checkpointer is None:
            from langgraph.checkpoint.memory import InMemorySaver

            checkpointer = InMemorySaver()
        events = OptimizerEvents(obs.logger)
        deps = AgentDeps(client=client, analysis=AnalysisService(obs.tracer_provider), model=model,
                         tools=make_tools(client), db=db, metrics=metrics, events=events,
                         approval_required_risk=settings.approval_required_risk)
        graph = build_graph(deps, checkpointer)
        callbacks = [obs.observer(prices=SCRIPTED_PRICE)] if observe_agent else []
        runtime.service = OptimizationService(graph=graph, db=db, metrics=metrics, events=events,
                                              callbacks=callbacks)
    except Exception:
        runtime.close()
        raise
    return runtime
