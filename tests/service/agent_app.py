"""A tiny agent service for the end-to-end tests: FastAPI -> LangGraph -> tool -> SQLite + HTTP.

The tool queries SQLite through SQLAlchemy and calls an HTTP API (a local http.server standing
in for an external API such as Dremio); everything logs through loguru.
"""

from __future__ import annotations

from typing import Any

import requests
import sqlalchemy
from fastapi import FastAPI
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from loguru import logger
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    job_id: str
    result: str


def build_engine(path: str) -> sqlalchemy.Engine:
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, sql TEXT)"))
        conn.execute(sqlalchemy.text("INSERT OR REPLACE INTO jobs VALUES ('j-1', 'SELECT 1')"))
    return engine


def build_graph(engine: sqlalchemy.Engine, api_url: str, logs_per_run: int = 1) -> Any:
    @tool
    def lookup_job(job_id: str) -> str:
        """Look a job up in the database and fetch its profile from the API."""
        with engine.connect() as conn:
            sql = conn.execute(sqlalchemy.text("SELECT sql FROM jobs WHERE id = :id"), {"id": job_id}).scalar()
        profile = requests.get(f"{api_url}/ok?job={job_id}", timeout=5).json()
        for i in range(logs_per_run):
            logger.bind(job_id=job_id).info("tool ran {}", i)
        return f"{sql} {profile['path']}"

    def agent(state: State, config: RunnableConfig) -> State:
        return {"result": lookup_job.invoke({"job_id": state["job_id"]}, config)}

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder.compile(name="optimizer")


def build_app(graph: Any, observer: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/optimize/{job_id}")
    def optimize(job_id: str) -> dict:
        out = graph.invoke({"job_id": job_id}, config={"callbacks": [observer]})
        logger.info("optimized {}", job_id)
        return {"result": out["result"]}

    return app
