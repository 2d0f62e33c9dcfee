"""The service the multi-worker tests run in real server processes (uvicorn, gunicorn).

``create_app()`` is the factory (``uvicorn --factory workers_app:create_app``, gunicorn
``"workers_app:create_app()"``). Settings come from ``AGENT_OBS_*`` variables, so the test
points spans at a trace file and logs at a Loki receiver. ``GET /work?seq=N`` runs a one-node
LangGraph graph under ``obs.observer()``, tags the server span with the worker's pid and
logs one record carrying ``seq`` and ``pid``; the body tells which worker answered.

With ``WORKERS_APP_INSTRUMENT=0`` the app is not instrumented (no server spans, no
``/metrics``, no flush on the lifespan shutdown): each request makes its own ``GET /work``
span instead, so only the server's worker-exit hook can send what is queued at a stop.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

AGENT = "workers-test"
DONE_MESSAGE = "work done"
STARTUP_SPAN = "app startup"


def create_app() -> Any:
    from fastapi import FastAPI
    from langgraph.graph import END, START, StateGraph
    from loguru import logger
    from opentelemetry import trace
    from typing_extensions import TypedDict

    from service_obs import ObservabilitySettings, setup_observability
    from service_obs.fastapi import instrument_app

    class State(TypedDict, total=False):
        seq: int
        pid: int

    def work(state: State) -> State:
        return {"pid": os.getpid()}

    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    graph = builder.compile(name=AGENT)

    obs = setup_observability(ObservabilitySettings(service_name="workers-test"))
    # Start-up work traced and sent at once: with --preload the master's exporter has talked to
    # the backend (a connected channel, a pooled connection) before it forks the workers.
    with obs.tracer().start_as_current_span(STARTUP_SPAN) as span:
        span.set_attribute("test.pid", os.getpid())
    obs.flush()
    observer = obs.observer()
    app = FastAPI()

    instrumented = os.environ.get("WORKERS_APP_INSTRUMENT", "1") != "0"

    @app.get("/work")
    async def run_work(seq: int) -> dict[str, int]:
        with contextlib.nullcontext() if instrumented else obs.tracer().start_as_current_span("GET /work"):
            trace.get_current_span().set_attribute("test.worker.pid", os.getpid())
            trace.get_current_span().set_attribute("test.seq", seq)
            result = await graph.ainvoke({"seq": seq}, config={"callbacks": [observer]})
            logger.bind(seq=seq, pid=os.getpid()).info(DONE_MESSAGE)
        return {"pid": result["pid"], "seq": seq}

    @app.get("/health")
    async def health() -> dict[str, int]:
        return {"pid": os.getpid()}

    if instrumented:
        instrument_app(app, obs)
    return app
