"""Alert rules: promtool accepts them, their unit tests pass, and each is well formed.

The promtool tests run on both release lines (the ``promtool`` fixture): Debian stable's 2.42,
the floor, and a 3.x (scripts/test.sh fetches Debian sid's), so the rules mean the same on both.
"""

from __future__ import annotations

import re

import yaml

from stack_helpers import PROMTOOL_TESTS_DIR, REPO, RULES_DIR, alert_rules, load_rule_groups, run

SEED_ALERTS = {
    "HighOptimizationErrorRate", "SlowOptimizations", "DatabaseConnectionFailures",
    "DremioAPIFailures", "LowRecommendationAdoption", "LowAverageImprovement",
}
AGENT_ALERTS = {
    "AgentRunErrorRatioHigh", "LLMErrorRatioHigh", "LLMLatencyP95High",
    "LLMTimeToFirstChunkP95High", "LLMCostBudgetExceeded", "LLMTokenBurnRateHigh",
    "ToolErrorRatioHigh", "InterruptedRunsBacklog", "AgentObsHandlerErrors",
    "AgentObsAbandonedRuns", "AgentObsTelemetryDropped",
}


def test_promtool_check_config_accepts_prometheus_yml_and_its_rules(promtool: str):
    done = run([promtool, "check", "config", str(REPO / "prometheus" / "prometheus.yml")])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(list(RULES_DIR.glob('*.yml')))} rule files found" in done.stdout


def test_promtool_check_rules(promtool: str):
    done = run([promtool, "check", "rules", *map(str, sorted(RULES_DIR.glob("*.yml")))])
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass(promtool: str):
    files = sorted(PROMTOOL_TESTS_DIR.glob("*.yml"))
    done = run([promtool, "test", "rules", *map(str, files)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAILED" not in done.stdout
    assert done.stdout.count("SUCCESS") == len(files) >= 2, done.stdout


def test_promtool_unit_tests_catch_a_broken_threshold(tmp_path, promtool: str):
    """The unit tests can fail: raise one alert's threshold and its firing case must break."""
    rules = (RULES_DIR / "agent_alerts.yml").read_text(encoding="utf-8")
    broken = rules.replace("* 3600 > 5\n", "* 3600 > 500\n")
    assert broken != rules
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "agent_alerts.yml").write_text(broken, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    test_file = tmp_path / "tests" / "agent_alerts_test.yml"
    test_file.write_text((PROMTOOL_TESTS_DIR / "agent_alerts_test.yml").read_text(encoding="utf-8"))
    done = run([promtool, "test", "rules", str(test_file)])
    assert done.returncode != 0
    assert "LLMCostBudgetExceeded" in done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test_case():
    cases: dict[str, list[list]] = {}
    for path in PROMTOOL_TESTS_DIR.glob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append(case.get("exp_alerts") or [])
    for rule in alert_rules():
        name = rule["alert"]
        assert name in cases, f"{name} has no promtool test case"
        assert any(c for c in cases[name]), f"{name} has no case where it fires"
        assert any(not c for c in cases[name]), f"{name} has no case where it stays quiet"
        fired_services = {a["exp_labels"].get("service") for c in cases[name] for a in c}
        assert fired_services == {"failing"}, f"{name}: only the failing service may fire"


def test_alert_set_covers_the_seed_and_the_agent_alerts():
    names = [r["alert"] for r in alert_rules()]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert SEED_ALERTS <= set(names)
    assert AGENT_ALERTS <= set(names)


def test_every_alert_has_severity_summary_description_and_runbook():
    runbooks = (REPO / "docs" / "runbooks.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (\w+)$", runbooks, re.M))
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        ann = rule["annotations"]
        assert ann["summary"] and ann["description"], name
        assert "{{ $labels.service }}" in ann["summary"] + ann["description"], name
        assert ann["runbook_url"] == f"docs/runbooks.md#{name.lower()}", name
        assert name in headings, f"docs/runbooks.md has no '## {name}' section"
        assert "for" in rule, f"{name} has no `for:`"
    assert headings == {r["alert"] for r in alert_rules()}, "runbook sections without an alert"


def test_quantiles_are_taken_over_summed_bucket_rates():
    """Regression for seed defect 14: histogram_quantile over raw buckets."""
    pattern = re.compile(r"histogram_quantile\(\s*[\d.]+,\s*sum by \(([^)]*)\)\s*\(rate\(\w+_bucket", re.S)
    for rule in alert_rules():
        expr = rule["expr"]
        if "histogram_quantile" in expr:
            match = pattern.search(expr)
            assert match and "le" in [x.strip() for x in match.group(1).split(",")], rule["alert"]


def test_error_alerts_are_ratios_and_adoption_is_measured_over_generated():
    """Regressions for seed defects 15 and 16."""
    rules = {r["alert"]: r["expr"] for r in alert_rules()}
    high_error = rules["HighOptimizationErrorRate"]
    assert "/" in high_error and high_error.count("optimizer_requests_total") >= 2
    adoption = re.sub(r"\s+", " ", rules["LowRecommendationAdoption"])
    assert re.search(r"measurements_recorded_total\[24h\]\)\) / sum by \(service\) "
                     r"\(increase\(recommendations_generated_total", adoption)


def test_rules_group_by_service_so_alertmanager_can_inhibit_per_service():
    for name, rules in load_rule_groups().items():
        for rule in rules:
            if "alert" in rule and rule["alert"] != "ServiceScrapeDown":
                assert "by (service" in rule["expr"], f"{name}: {rule['alert']} drops the service label"
