"""The port to grafana-foundation-sdk keeps every query, panel, link, variable and exemplar setting.

The dashboard modules are built twice: with the SDK (grafana/dashgen/sdk.py, what the committed
JSON comes from) and with the hand-written dict builder they used before (grafana/dashgen/
builder.py, loaded here from a copy of the package whose imports point at it). Every key the
old JSON had must be in the new JSON with the same value; the SDK may only add its defaults.
The schema version moves from 39 to Grafana 12's 41.
"""

from __future__ import annotations

import importlib
import shutil
import sys

from stack_helpers import REPO

ALLOWED = {"schemaVersion"}


def _build_all(package: str) -> dict[str, dict]:
    modules = {"overview.json": "overview", "performance.json": "performance",
               "business_metrics.json": "business", "llm_agent.json": "llm_agent"}
    return {name: importlib.import_module(f"{package}.{mod}").build() for name, mod in modules.items()}


def _lost(old, new, path: str, out: list[str], top: bool = False) -> None:
    """Paths whose old value is missing or different in new (extra keys in new are allowed)."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            out.append(path)
            return
        for key, value in old.items():
            if key in ALLOWED and top:
                continue
            if key not in new:
                out.append(f"{path}.{key}")
            else:
                _lost(value, new[key], f"{path}.{key}", out)
    elif isinstance(old, list):
        if not isinstance(new, list) or len(old) != len(new):
            out.append(f"{path} (length)")
            return
        for i, (a, b) in enumerate(zip(old, new)):
            _lost(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append(f"{path}: {old!r} -> {new!r}")


def test_sdk_dashboards_keep_everything_the_old_builder_produced(tmp_path, monkeypatch):
    copy = tmp_path / "old_dashgen"
    shutil.copytree(REPO / "grafana" / "dashgen", copy)
    for module in copy.glob("*.py"):
        module.write_text(module.read_text().replace("from .sdk import", "from .builder import"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(REPO / "grafana"))
    try:
        old = _build_all("old_dashgen")
        new = _build_all("dashgen")
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] in ("old_dashgen", "dashgen")]:
            del sys.modules[name]
    assert set(old) == set(new)
    for name in old:
        lost: list[str] = []
        _lost(old[name], new[name], name, lost, top=True)
        assert not lost, "\n".join(lost[:40])
        assert old[name]["schemaVersion"] == 39 and new[name]["schemaVersion"] == 41
    panels = sum(len(d["panels"]) for d in new.values())
    targets = sum(len(p.get("targets", [])) for d in new.values() for p in d["panels"])
    assert panels > 40 and targets > 60
