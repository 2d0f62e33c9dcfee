"""The optimizer's FastAPI app: ``create_app(settings=..., obs=...)``.

Endpoints (JSON in and out; errors are ``{"error": code, "message": text}``):

| method | path | what |
|---|---|---|
| POST | ``/optimizations`` ``{"job_id"}`` | analyse a Dremio job; 201 with issues and recommendations, or ``awaiting_approval`` |
| GET | ``/optimizations/{run_id}`` | a run and its recommendations |
| POST | ``/optimizations/{run_id}/decision`` ``{"approved", "reviewer"?, "comment"?}`` | approve or reject a paused run's high-risk recommendations |
| GET | ``/recommendations?job_id=&status=&limit=`` | stored recommendations, newest first |
| GET | ``/recommendations/{id}`` | one recommendation with its measurements |
| POST | ``/recommendations/{id}/measurements`` ``{"baseline_duration_ms", "optimized_duration_ms", "executions"?}`` | record a measured improvement |
| GET | ``/health`` | database check; 503 when it fails |
| GET | ``/metrics`` | Prometheus exposition (from ``service_obs.fastapi.instrument_app``) |

Observability comes only from the public API: ``instrument_app`` (server spans, RED metrics,
``/metrics``), ``instrument_engine`` (SQL spans, ``db_connection_errors_total``) and
``obs.observer()`` (the agent's spans, metrics and logs). Without ``obs`` the app sets up its
own from ``AGENT_OBS_*`` settings and shuts it down with the app.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from .runtime import SERVICE_NAME, Runtime, build_runtime
from .service import Conflict, NotFound, UpstreamError
from .settings import OptimizerSettings

__all__ = ["SERVICE_NAME", "create_app"]


class OptimizeRequest(BaseModel):
    job_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")


class DecisionRequest(BaseModel):
    approved: bool
    reviewer: str | None = Field(default=None, max_length=200)
    comment: str | None = Field(default=None, max_length=2000)


class MeasurementRequest(BaseModel):
    baseline_duration_ms: float = Field(gt=0)
    optimized_duration_ms: float = Field(ge=0)
    executions: int = Field(default=1, ge=1, le=1_000_000)


def create_app(settings: OptimizerSettings | None = None, *, obs: Any = None, checkpointer: Any = None,
               chat_model: Any = None, observe_agent: bool = True, service_name: str | None = None) -> FastAPI:
    """Build the app and everything it needs; resources are released when the app shuts down.

    ``observe_agent=False`` runs the graph without the AgentObserver (the service's own
    tracing, metrics and logs stay), which is how the benchmarks measure the observer's share.
    ``service_name`` overrides the settings' service name when the app sets up its own ``obs``
    (``AGENT_OBS_SERVICE_NAME``, ``OTEL_SERVICE_NAME``, else ``SERVICE_NAME``).
    """
    runtime = build_runtime(settings or OptimizerSettings.from_env(), obs=obs, checkpointer=checkpointer,
                            chat_model=chat_model, service_name=service_name, observe_agent=observe_agent)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        runtime.close()

    app = FastAPI(title="Dremio optimizer agent", version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    _routes(app, runtime)
    _errors(app, runtime)
    runtime.instrument(app)
    return app


def _routes(app: FastAPI, runtime: Runtime) -> None:
    service = runtime.service

    @app.post("/optimizations", status_code=201, name="optimize_query")
    def optimize(body: OptimizeRequest) -> dict[str, Any]:
        return service.optimize(body.job_id)

    @app.get("/optimizations/{run_id}", name="get_run")
    def get_run(run_id: str) -> dict[str, Any]:
        return service.get_run(run_id)

    @app.post("/optimizations/{run_id}/decision", name="decide")
    def decide(run_id: str, body: DecisionRequest) -> dict[str, Any]:
        return service.decide(run_id, body.approved, body.reviewer, body.comment)

    @app.get("/recommendations", name="list_recommendations")
    def list_recommendations(job_id: str | None = None, status: str | None = None,
                             limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return service.list_recommendations(job_id, status, limit)

    @app.get("/recommendations/{rec_id}", name="get_recommendation")
    def get_recommendation(rec_id: int) -> dict[str, Any]:
        return service.get_recommendation(rec_id)

    @app.post("/recommendations/{rec_id}/measurements", status_code=201, name="record_measurement")
    def record_measurement(rec_id: int, body: MeasurementRequest) -> dict[str, Any]:
        return service.record_measurement(rec_id, body.baseline_duration_ms, body.optimized_duration_ms,
                                          body.executions)

    @app.get("/health", name="health")
    def health() -> JSONResponse:
        try:
            with runtime.db.read() as session:
                session.execute(text("SELECT 1"))
            database = "ok"
        except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
            database = f"error: {type(exc).__name__}"
        body = {"status": "ok" if database == "ok" else "degraded", "database": database,
                "dremio": runtime.dremio_url, "model": runtime.model_name}
        return JSONResponse(body, status_code=200 if database == "ok" else 503)


def _errors(app: FastAPI, runtime: Runtime) -> None:
    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": "not_found", "message": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"error": "conflict", "message": str(exc)}, status_code=409)

    @app.exception_handler(UpstreamError)
    async def upstream(_: Request, exc: UpstreamError) -> JSONResponse:
        return JSONResponse({"error": "dremio_unavailable", "message": str(exc)}, status_code=502)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        route = request.scope.get("route")
        name = getattr(route, "name", "")
        if name in ("optimize_query", "decide", "record_measurement"):
            runtime.metrics.request(name, "invalid")
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
        return JSONResponse({"error": "invalid_request", "message": message, "detail": errors}, status_code=422)
