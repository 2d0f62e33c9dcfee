"""What the shipped stack is made of: the repository paths that ``agent-obs stack export`` writes.

Pure standard library, because two places read it: the wheel build (``setup.py`` copies these
paths into ``agent_obs/stack/files/``) and the package at run time (which reads them back from
the wheel, or from the repository in a source checkout). One list, so the two cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

# Files and folders, relative to the repository root. A folder ships every file under it,
# except the skipped names below. A path that does not exist yet (collector/ before it lands)
# is simply absent from the stack.
STACK_PATHS: tuple[str, ...] = (
    "docker-compose.observability.yml",
    "grafana/README.md",
    "grafana/dashboards",
    "grafana/provisioning",
    "prometheus",
    "alertmanager",
    "tempo",
    "loki",
    "collector",
    "docs/runbooks.md",  # the alerts' runbook_url points here, relative to the stack root
)

# The repository file whose presence marks a folder as the stack's root.
MARKER = "docker-compose.observability.yml"

_SKIPPED_DIRS = {"__pycache__", "node_modules", "data", ".pytest_cache"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")


def iter_stack_files(root: Path) -> Iterator[str]:
    """Relative POSIX paths of every stack file under ``root``, sorted."""
    found: set[str] = set()
    for entry in STACK_PATHS:
        path = root / entry
        if path.is_file():
            found.add(entry)
        elif path.is_dir():
            for file in path.rglob("*"):
                rel = file.relative_to(root)
                if file.is_file() and _shipped(rel):
                    found.add(rel.as_posix())
    yield from sorted(found)


def _shipped(rel: Path) -> bool:
    if any(part.startswith(".") or part in _SKIPPED_DIRS for part in rel.parts):
        return False
    return not rel.name.endswith(_SKIPPED_SUFFIXES)
