"""``agent-obs serve``: run the optimizer service with uvicorn for Prometheus to scrape.

Equivalent to ``uvicorn --factory agent_obs_example.serve:app_from_env --host 127.0.0.1
--port 8000``. Settings come from ``AGENT_OBS_*`` variables (the same as the demo): with no
``AGENT_OBS_DREMIO_URL`` the local Dremio stand-in starts too; with no OTLP endpoint spans go
to ``telemetry/traces.jsonl``. ``GET /metrics`` serves the Prometheus exposition.

With ``workers > 1`` uvicorn starts that many worker processes (``uvicorn --workers N``) and
``GET /metrics`` reports the sum over all of them (prometheus_client's multiprocess mode, in
``PROMETHEUS_MULTIPROC_DIR`` when it is set, else in a temporary directory made and removed
here); every worker writes to the same trace file. Each worker keeps its own in-memory
checkpoints, so a decision on a paused run must reach the worker that paused it: run
approvals with one worker, or give the graph a shared checkpointer.
"""

from __future__ import annotations

from typing import Any


def app_from_env(service_name: str | None = None) -> Any:
    """The app built from environment settings (uvicorn ``--factory`` entry point)."""
    from .app import create_app

    return create_app(service_name=service_name)


def run_server(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
               service_name: str | None = None) -> int:
    """Serve until interrupted; returns the process exit code.

    ``service_name`` (``--service-name``) wins over ``AGENT_OBS_SERVICE_NAME`` /
    ``OTEL_SERVICE_NAME``, which win over the example's default, ``optimizer-agent``.
    """
    import uvicorn

    if workers > 1:
        return _run_workers(host, port, workers, service_name)
    config = uvicorn.Config(app_from_env(service_name), host=host, port=port, log_level="info", lifespan="on")
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def _run_workers(host: str, port: int, workers: int, service_name: str | None = None) -> int:
    import os
    import shutil
    import tempfile

    import uvicorn

    from service_obs.multiprocess import ENV_MULTIPROC_DIR, multiprocess_dir, prepare_directory

    made = None
    path = multiprocess_dir()
    if path is None:
        path = made = tempfile.mkdtemp(prefix="agent-obs-metrics-")
    prepare_directory(path)
    # Set before uvicorn spawns the workers: prometheus_client reads it when a worker imports it.
    os.environ[ENV_MULTIPROC_DIR] = path
    if service_name:  # the workers build their app from the environment; the flag still wins
        os.environ["AGENT_OBS_SERVICE_NAME"] = service_name
    try:
        uvicorn.run("agent_obs_example.serve:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="info", lifespan="on")
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return 0
