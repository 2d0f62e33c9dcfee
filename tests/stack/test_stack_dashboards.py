"""Dashboards: committed JSON == generated JSON, and each is valid Grafana dashboard JSON."""

from __future__ import annotations

import importlib.util
import json
import re

from stack_helpers import REPO, iter_panels, load_dashboards, run, used_variables, variable_values

GENERATOR = REPO / "grafana" / "generate_dashboards.py"
PANEL_TYPES = {"timeseries", "stat", "gauge", "bargauge", "heatmap", "table", "logs", "row"}
UNITS = {"short", "s", "percent", "percentunit", "reqps", "reqpm", "bytes", "h", "currencyUSD"}
DATASOURCE_VARS = {"prometheus": "datasource", "loki": "loki", "tempo": "tempo"}
REQUIRED_PANELS = {
    "overview.json": ["Optimization rate", "Success rate", "Optimization duration P50 / P95 / P99",
                      "Issues detected by type", "Recommendations generated", "Active optimizations"],
    "performance.json": ["Optimization duration distribution", "Database query P95",
                         "Dremio API latency (P50 / P95)", "LLM invocation duration (P50 / P95)",
                         "Memory (resident)", "CPU"],
    "business_metrics.json": ["Total time saved", "Average improvement",
                              "Adoption rate (measured / generated)", "Top issue types",
                              "Success rate by issue type", "ROI: hours saved per LLM dollar"],
    "llm_agent.json": ["Tokens per second by model and type", "Cost per hour by model",
                       "LLM latency P50 / P95", "Time to first chunk P50 / P95",
                       "LLM error ratio by model and error type", "Tool calls per second",
                       "Tool error ratio", "Node duration P95 by node", "Steps per run P50 / P95",
                       "Retries and interrupts by node", "Active runs",
                       "Recent agent runs (Tempo)", "Recent agent logs (Loki)"],
}


def _load_generator():
    spec = importlib.util.spec_from_file_location("agent_obs_generate_dashboards", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_json_equals_generated_json():
    generated = _load_generator().generate()
    committed = {p.name: p.read_text(encoding="utf-8") for p in (REPO / "grafana" / "dashboards").glob("*.json")}
    assert set(generated) == set(committed)
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale: run python grafana/generate_dashboards.py"


def test_generator_check_mode_detects_a_stale_file(tmp_path):
    python = str(REPO / ".venv" / "bin" / "python")
    assert run([python, str(GENERATOR), "--out", str(tmp_path)]).returncode == 0
    assert run([python, str(GENERATOR), "--check", "--out", str(tmp_path)]).returncode == 0
    stale = tmp_path / "overview.json"
    stale.write_text(stale.read_text().replace("Success rate", "Sucess rate"))
    done = run([python, str(GENERATOR), "--check", "--out", str(tmp_path)])
    assert done.returncode == 1 and "overview.json" in done.stderr


def test_the_four_dashboards_have_their_panels():
    dashboards = load_dashboards()
    assert set(REQUIRED_PANELS) <= set(dashboards)
    for name, titles in REQUIRED_PANELS.items():
        present = {p["title"] for p in iter_panels(dashboards[name])}
        missing = [t for t in titles if t not in present]
        assert not missing, f"{name} lacks {missing}"


def test_dashboard_json_model_is_valid():
    uids = set()
    for name, dash in load_dashboards().items():
        assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36, name
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dash["uid"]) and dash["uid"] not in uids, name
        uids.add(dash["uid"])
        assert dash["title"] and dash["time"]["from"] and dash["time"]["to"] == "now"
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        assert "datasource" in variables and "service" in variables, name
        ids = [p["id"] for p in iter_panels(dash)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        _check_layout(name, list(iter_panels(dash)))
        for panel in iter_panels(dash):
            _check_panel(name, panel, variables)


def _check_layout(name: str, panels: list[dict]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        g = panel["gridPos"]
        assert set(g) == {"h", "w", "x", "y"} and g["w"] > 0 and g["h"] > 0, (name, panel["title"])
        assert g["x"] + g["w"] <= 24, f"{name}: {panel['title']} overflows the 24-column grid"
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{name}: {panel['title']} overlaps another panel"
                cells.add((x, y))


def _check_panel(name: str, panel: dict, variables: dict[str, dict]) -> None:
    where = f"{name}: {panel['title']}"
    assert panel["type"] in PANEL_TYPES, where
    if panel["type"] == "row":
        return
    assert panel["description"], where
    ds = panel["datasource"]
    assert ds["uid"] == "${%s}" % DATASOURCE_VARS[ds["type"]], where
    assert DATASOURCE_VARS[ds["type"]] in variables, where
    unit = panel["fieldConfig"]["defaults"]["unit"]
    assert unit in UNITS or unit.startswith("suffix:"), where
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[0]["value"] is None and all(s["value"] is not None for s in steps[1:]), where
    assert [s["value"] for s in steps[1:]] == sorted(s["value"] for s in steps[1:]), where
    assert panel["targets"], where
    ref_ids = [t["refId"] for t in panel["targets"]]
    assert len(ref_ids) == len(set(ref_ids)), where
    values = variable_values({"templating": {"list": list(variables.values())}})
    for target in panel["targets"]:
        assert target["datasource"] == ds, where
        text = json.dumps(target)
        undefined = used_variables(text) - set(values)
        assert not undefined, f"{where}: undefined variables {undefined}"


def test_variables_chain_from_the_datasource_and_service():
    for name, dash in load_dashboards().items():
        defined: set[str] = set()
        for var in dash["templating"]["list"]:
            if var["type"] == "query":
                assert var["datasource"]["uid"] == "${datasource}", (name, var["name"])
                used = used_variables(var["definition"])
                assert used <= defined, f"{name}: {var['name']} uses {used - defined} before definition"
                assert var["query"]["query"] == var["definition"]
            defined.add(var["name"])


def test_datasource_variable_defaults_match_provisioned_uids():
    import yaml

    provisioned = yaml.safe_load((REPO / "grafana" / "provisioning" / "datasources" / "datasources.yaml").read_text())
    uids = {d["type"]: d["uid"] for d in provisioned["datasources"]}
    for dash in load_dashboards().values():
        for var in dash["templating"]["list"]:
            if var["type"] == "datasource":
                assert var["current"]["value"] == uids[var["query"]]
