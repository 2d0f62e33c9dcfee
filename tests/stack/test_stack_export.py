"""``agent-obs stack export`` / ``stack list`` from this checkout: files, conflicts, options, errors.

The wheel's side (the same command from a fresh venv holding only the wheel) is in
test_stack_wheel.py; the exported stack running against real servers is test_stack_e2e.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from stack_helpers import REPO, export_stack_cli, run

from agent_obs.stack.manifest import STACK_PATHS, iter_stack_files

REPO_FILES = list(iter_stack_files(REPO))


def _files(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_export_writes_every_stack_file_as_it_is_in_the_repository(tmp_path):
    target = tmp_path / "stack"
    done = export_stack_cli(target)
    assert done.returncode == 0, done.stderr
    assert _files(target) == {rel: (REPO / rel).read_bytes() for rel in REPO_FILES}
    for rel in REPO_FILES:
        assert re.search(rf"^\s+new  {re.escape(str(target / rel))}$", done.stdout, re.M), rel
    assert f"{len(REPO_FILES)} new, 0 overwritten, 0 unchanged" in done.stdout
    (last,) = done.stdout.splitlines()[-1:]
    assert last.startswith(f"next: cd {target} && ") and "docker compose -f docker-compose.observability.yml up -d" in last


def test_the_stack_holds_what_the_issue_lists():
    expected = {
        "docker-compose.observability.yml", "alertmanager/alertmanager.yml", "tempo/tempo.yaml",
        "loki/loki-config.yaml", "prometheus/prometheus.yml", "docs/runbooks.md",
        "grafana/provisioning/datasources/datasources.yaml", "grafana/provisioning/dashboards/dashboards.yaml",
    }
    assert expected <= set(REPO_FILES)
    assert {f for f in REPO_FILES if f.startswith("grafana/dashboards/")} == {
        f"grafana/dashboards/{p.name}" for p in (REPO / "grafana" / "dashboards").glob("*.json")}
    assert any(f.startswith("prometheus/rules/") for f in REPO_FILES)
    assert any(f.startswith("prometheus/tests/") for f in REPO_FILES)
    if (REPO / "collector").is_dir():
        assert any(f.startswith("collector/") for f in REPO_FILES)
    assert not any("dashgen" in f or f.endswith(".py") for f in REPO_FILES), "the generator is not shipped"


def test_compose_mounts_only_files_the_stack_ships(tmp_path):
    """Every ./ bind mount in the compose file resolves inside an exported folder."""
    compose = yaml.safe_load((REPO / "docker-compose.observability.yml").read_text())
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./") and source != "./":
                rel = source[2:].rstrip("/")
                assert any(f == rel or f.startswith(rel + "/") for f in REPO_FILES), (name, source)


def test_export_again_reports_unchanged_and_refuses_to_overwrite_an_edit(tmp_path):
    target = tmp_path / "stack"
    assert export_stack_cli(target).returncode == 0
    again = export_stack_cli(target)
    assert again.returncode == 0 and f"0 new, 0 overwritten, {len(REPO_FILES)} unchanged" in again.stdout

    edited = target / "prometheus" / "prometheus.yml"
    edited.write_text(edited.read_text() + "# my edit\n")
    missing = target / "loki" / "loki-config.yaml"
    missing.unlink()
    refused = export_stack_cli(target)
    assert refused.returncode == 2
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in refused.stderr
    assert lines[0].startswith("agent-obs stack export: ") and "prometheus/prometheus.yml" in lines[0]
    assert "--force" in lines[0]
    assert edited.read_text().endswith("# my edit\n")
    assert not missing.exists(), "a refused export writes nothing"

    forced = export_stack_cli(target, "--force")
    assert forced.returncode == 0
    assert re.search(rf"^\s*overwritten  {re.escape(str(edited))}$", forced.stdout, re.M)
    assert re.search(rf"^\s*new  {re.escape(str(missing))}$", forced.stdout, re.M)
    assert _files(target) == {rel: (REPO / rel).read_bytes() for rel in REPO_FILES}


def test_user_files_beside_the_stack_are_left_alone(tmp_path):
    target = tmp_path / "stack"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    assert export_stack_cli(target, "--force").returncode == 0
    assert (target / "notes.txt").read_text() == "mine"


def test_options_set_the_service_scrape_target_and_datasource_uids(tmp_path):
    target = tmp_path / "stack"
    done = export_stack_cli(target, "--service-name", "billing-agent", "--scrape-target",
                            "host.docker.internal:9100", "--prometheus-uid", "prom-main",
                            "--loki-uid", "logs_1", "--tempo-uid", "traces-1")
    assert done.returncode == 0, done.stderr
    exported = _files(target)
    changed = {rel for rel in REPO_FILES if exported[rel] != (REPO / rel).read_bytes()}
    dashboards = {f for f in REPO_FILES if f.startswith("grafana/dashboards/")}
    assert changed == {"prometheus/prometheus.yml", "docker-compose.observability.yml",
                       "grafana/provisioning/datasources/datasources.yaml"} | dashboards

    prom = yaml.safe_load(exported["prometheus/prometheus.yml"])
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "billing-agent")
    assert job["static_configs"] == [{"targets": ["host.docker.internal:9100"],
                                      "labels": {"service": "billing-agent"}}]
    assert b"# The example optimizer service" in exported["prometheus/prometheus.yml"], "comments survive"
    compose = yaml.safe_load(exported["docker-compose.observability.yml"])
    assert compose["services"]["optimizer"]["environment"]["AGENT_OBS_SERVICE_NAME"] == "billing-agent"

    ds = yaml.safe_load(exported["grafana/provisioning/datasources/datasources.yaml"])["datasources"]
    uids = {d["type"]: d["uid"] for d in ds}
    assert uids["prometheus"] == "prom-main" and uids["loki"] == "logs_1" and uids["tempo"] == "traces-1"
    refs = re.findall(r"datasourceUid: (\S+)", exported["grafana/provisioning/datasources/datasources.yaml"].decode())
    assert refs and set(refs) <= {"prom-main", "logs_1", "traces-1"}

    wanted = {"prometheus": "prom-main", "loki": "logs_1", "tempo": "traces-1"}
    for rel in dashboards:
        dash = json.loads(exported[rel])
        original = json.loads((REPO / rel).read_bytes())
        variables = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
        assert variables
        for var in variables:
            assert var["current"]["value"] == wanted[var["query"]], (rel, var["name"])
        # only the defaults move: panels still go through the ${...} variables
        for var in original["templating"]["list"]:
            if var["type"] == "datasource":
                var["current"]["value"] = wanted[var["query"]]
        assert dash == original, rel


def test_bad_options_are_one_line_errors(tmp_path):
    for option, value, expected in [
        ("--scrape-target", "no-port", "expected HOST:PORT"),
        ("--scrape-target", "svc:70000", "expected HOST:PORT"),
        ("--service-name", "my agent", "--service-name"),
        ("--prometheus-uid", "a/b", "Grafana uid"),
    ]:
        done = export_stack_cli(tmp_path / "stack", option, value)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert lines[0].startswith("agent-obs stack export: ") and expected in lines[0]
        assert not (tmp_path / "stack").exists()
    (tmp_path / "file").write_text("x")
    done = export_stack_cli(tmp_path / "file")
    assert done.returncode == 2 and "is not a folder" in done.stderr and "Traceback" not in done.stderr


def test_stack_list_names_every_file():
    done = run([sys.executable, "-m", "agent_obs", "stack", "list"])
    assert done.returncode == 0, done.stderr
    listed = [line.strip() for line in done.stdout.splitlines() if line.startswith("  ")]
    assert sorted(listed) == REPO_FILES
    assert f"{len(REPO_FILES)} files from the repository checkout" in done.stdout.splitlines()[0]
    for heading in ("Grafana dashboards:", "Prometheus alert rules:", "promtool unit tests of the rules:",
                    "Alertmanager config:", "Tempo config:", "Loki config:", "compose file:"):
        assert heading in done.stdout


def test_manifest_in_ships_every_stack_path_in_the_sdist():
    """The sdist must carry what setup.py copies into the wheel (a wheel built from the sdist)."""
    rules = (REPO / "MANIFEST.in").read_text().split("\n")
    covered = set()
    for line in rules:
        words = line.split()
        if words and words[0] == "include":
            covered.update(words[1:])
        elif words and words[0] == "graft":
            covered.add(words[1])
    assert set(STACK_PATHS) <= covered


def test_stack_help_lists_export_and_list():
    done = subprocess.run([sys.executable, "-m", "agent_obs", "stack", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "export" in done.stdout and "list" in done.stdout
