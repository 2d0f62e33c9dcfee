"""Importing the packages does no work and pulls in no web/database framework."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys, threading
from opentelemetry import trace
from prometheus_client import REGISTRY
collectors = set(REGISTRY._collector_to_names)
threads = threading.active_count()
import agent_obs, agent_obs.observer, agent_obs.replay, service_obs
from agent_obs import AgentObserver
from service_obs import setup_observability, ObservabilitySettings, traced
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'sqlalchemy', 'starlette', 'uvicorn',
                                                         'matplotlib', 'agent_obs_example', 'service_obs.fastapi'})
assert not heavy, heavy
assert set(REGISTRY._collector_to_names) == collectors, 'registered metrics at import'
assert threading.active_count() == threads, 'started a thread at import'
assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider', 'set a tracer provider at import'
from loguru import logger
assert len(logger._core.handlers) == 1, 'added a loguru sink at import'
print('ok')
"""


def test_import_has_no_side_effects_and_no_framework_imports():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _modules(root: Path, package: str) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _edges(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> the project modules it imports (at any depth, outside ``TYPE_CHECKING``)."""
    paths: dict[str, Path] = {}
    for package in packages:
        paths.update(_modules(root, package))
    edges: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        skipped = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # ``from pkg import sub`` imports the submodule; ``from pkg import Name`` the package
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            for target in targets:
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges[name].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_agent_obs_or_service_obs():
    """Imports anywhere in a module count (a cycle through a function-level import is still a
    cycle: whichever module is imported first sees the other half-initialised)."""
    edges = _edges(ROOT, ("agent_obs", "service_obs"))
    assert edges["agent_obs.replay.load"], "the import scan found nothing: the test would pass vacuously"
    assert "agent_obs.semconv" in edges["agent_obs.observer"]
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
