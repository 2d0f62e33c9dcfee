"""The LLM's tools: table statistics, existing reflections and the explain plan.

Each tool calls Dremio through the shared ``DremioClient``; with HTTP instrumentation on,
every call shows up as an HTTP client span under the tool's ``execute_tool`` span. A
``DremioError`` is raised, not hidden: the tool span records it, and ``ToolNode`` turns it
into an error ``ToolMessage`` the model can read.
"""

from __future__ import annotations

import json

from langchain_core.tools import BaseTool, StructuredTool

from .dremio import DremioClient


def make_tools(client: DremioClient) -> list[BaseTool]:
    def table_statistics(dataset: str) -> str:
        """Row count, size, file count, partition columns and columns of a dataset (dotted path)."""
        entity = client.get_dataset(dataset)
        stats = entity.get("stats") or {}
        return json.dumps({
            "dataset": dataset,
            "rowCount": stats.get("rowCount"),
            "sizeBytes": stats.get("sizeBytes"),
            "fileCount": stats.get("fileCount"),
            "partitionColumns": stats.get("partitionColumns", []),
            "columns": [f.get("name") for f in entity.get("fields", [])],
        })

    def existing_reflections(dataset: str) -> str:
        """Reflections (Dremio's materialisations) that already exist on a dataset (dotted path)."""
        entity = client.get_dataset(dataset)
        reflections = client.list_reflections(entity["id"])
        return json.dumps([
            {"name": r.get("name"), "type": r.get("type"), "enabled": r.get("enabled"),
             "availability": (r.get("status") or {}).get("availability")}
            for r in reflections
        ])

    def explain_plan(job_id: str) -> str:
        """The physical plan Dremio chooses today for the SQL of a job."""
        sql = client.get_job_details(job_id)["sql"]
        rows = client.run_sql(f"EXPLAIN PLAN FOR {sql}")
        return rows[0].get("text", "") if rows else ""

    return [StructuredTool.from_function(f) for f in (table_statistics, existing_reflections, explain_plan)]
