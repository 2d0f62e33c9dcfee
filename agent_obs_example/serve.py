"""``agent-obs serve``: run the optimizer service with uvicorn for Prometheus to scrape.

Equivalent to ``uvicorn --factory agent_obs_example.serve:app_from_env --host 127.0.0.1
--port 8000``. Settings come from ``AGENT_OBS_*`` variables (the same as the demo): with no
``AGENT_OBS_DREMIO_URL`` the local Dremio stand-in starts too; with no OTLP endpoint spans go
to ``telemetry/traces.jsonl``. ``GET /metrics`` serves the Prometheus exposition.
"""

from __future__ import annotations

from typing import Any


def app_from_env() -> Any:
    """The app built from environment settings (uvicorn ``--factory`` entry point)."""
    from .app import create_app

    return create_app()


def run_server(host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve until interrupted; returns the process exit code."""
    import uvicorn

    config = uvicorn.Config(app_from_env(), host=host, port=port, log_level="info", lifespan="on")
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
