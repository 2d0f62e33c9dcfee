"""No module but agent_obs/shortcuts.py reaches into a library's private internals.

A private reach is ``something._name`` (or ``getattr(something, "_name")``) where ``_name`` is
not a name the same module defines (``self._x = ...``, ``def _f``, slots, ...), or an import
from a library's private module (``from loguru._logger import ...``): then it can only be
OpenTelemetry's, prometheus_client's, loguru's, SQLAlchemy's or another library's. shortcuts.py keeps each such reach, decided at
construction with a public fallback (tests/agent/test_shortcuts.py); this test keeps them there.
The same scan checks that trace and span ids are spelt in hex by the one helper
(``agent_obs.spans.hex_ids``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent_obs", "service_obs", "agent_obs_example")
ALLOWED = {Path("agent_obs/shortcuts.py")}
_REFLECTION = {"getattr", "hasattr", "setattr", "delattr"}


def _files() -> list[Path]:
    return [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _own_names(trees: dict[Path, ast.AST]) -> set[str]:
    """Every private name the project defines: functions, classes, attributes it assigns,
    module-level names, slots, parameters and keywords."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[-1])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _private(node.value):
                if isinstance(getattr(node, "parent", None), ast.Tuple):
                    names.add(node.value)  # __slots__ entries
            elif isinstance(node, ast.Call) and (
                    isinstance(node.func, ast.Name) and node.func.id == "setattr"
                    or isinstance(node.func, ast.Attribute) and node.func.attr == "__setattr__"):
                if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    names.add(str(node.args[1].value))
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__"
                                                    for t in node.targets):
                names |= {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant)
                          and isinstance(c.value, str)}
    return {name for name in names if _private(name)}


def _reaches(tree: ast.AST, own: set[str]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            found.append((node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _REFLECTION
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and _private(node.args[1].value)
              and node.args[1].value not in own):
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] not in PACKAGES and any(_private(part) for part in parts):
                found.append((node.lineno, f"from {node.module} import ..."))
    return found


def test_only_shortcuts_reaches_into_library_internals():
    trees = {path: ast.parse(path.read_text(), str(path)) for path in _files()}
    reaches = {str(path.relative_to(ROOT)): _reaches(tree, _own_names({path: tree}))
               for path, tree in trees.items() if path.relative_to(ROOT) not in ALLOWED}
    assert {path: found for path, found in reaches.items() if found} == {}
    shortcuts = trees[ROOT / "agent_obs/shortcuts.py"]
    found = {text for _line, text in _reaches(shortcuts, set())}
    for reach in ("_core", "_names_to_collectors", "_remove_event_listener_params", "_upper_bounds",
                  "loguru._logger"):
        assert any(reach in text for text in found), f"the scan misses {reach}: it is broken"


def test_ids_are_spelt_in_hex_by_the_one_helper():
    spelt = {str(path.relative_to(ROOT)) for path in _files()
             if any(fmt in path.read_text() for fmt in ('"032x"', '"016x"', ":032x", ":016x"))}
    assert spelt == {"agent_obs/spans.py"}
