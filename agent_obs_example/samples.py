"""The sample Dremio jobs shipped with the example (``data/jobs/*.json``).

Each file holds what Dremio knows about one slow job: ``job`` (the v3 job status),
``details`` (SQL text and datasets), ``profile`` (the query profile), ``reflections`` per
dataset, and ``_standin`` flags that make the local stand-in misbehave on purpose (a
transient 503, a failing EXPLAIN) so the demo shows retries and tool errors.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def _load() -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = {}
    folder = resources.files(__package__).joinpath("data", "jobs")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            jobs[entry.name.removesuffix(".json")] = json.loads(entry.read_text(encoding="utf-8"))
    return jobs


def sample_jobs() -> dict[str, dict[str, Any]]:
    """Job id -> sample record, in a stable order. Read once, then cached (read-only use)."""
    return _load()


def sample_job_ids() -> list[str]:
    return list(_load())
