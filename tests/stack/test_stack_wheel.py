"""The stack from a wheel: build it, install it in a fresh venv, run ``agent-obs stack export``.

Exactly what a user does after ``pip install agent-obs``: nothing from this checkout is on the
path of the fresh venv, so the files can only come from the wheel. The exported folder must
equal the repository's files, its rules must pass ``promtool check rules`` and its promtool unit
tests, Prometheus's and Alertmanager's own checkers must accept their configs, every query
must parse with the real grammars, and the compose file must be valid.

Compose: ``docker compose config`` where the compose plugin exists; the Docker CLI here has
none (and no engine), and Debian's docker-compose 1.29 predates the Compose Specification's
top-level ``name``. Then the file is checked by the ``compose-spec`` package (Python bindings of
the Rust ``compose_spec`` crate, a strict, typed parser of the Compose Specification).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stack_helpers import (REPO, alert_rules, dashboard_queries, parse_queries, require_binary, run)

from agent_obs.stack.manifest import iter_stack_files


@pytest.fixture(scope="module")
def wheel_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install dist/agent_obs-*.whl`` in a fresh venv, then ``agent-obs stack export ./stack``."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                            "-q", "-w", str(tmp / "dist"), str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("agent_obs-*.whl")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    venv = tmp / "venv"
    done = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "--no-compile", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=480, env=env, cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import agent_obs.stack as s; src = s.find_source(); print(src.kind, src.root)"],
                           capture_output=True, text=True, timeout=120, env=env, cwd=tmp)
    kind, root = where.stdout.split()
    assert kind == "package" and Path(root).is_relative_to(venv), where.stdout + where.stderr
    done = subprocess.run([str(venv / "bin" / "agent-obs"), "stack", "export", "./stack"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "next: cd stack && " in done.stdout
    return tmp / "stack"


def test_the_wheel_export_equals_the_repository_files(wheel_export: Path):
    exported = {p.relative_to(wheel_export).as_posix(): p.read_bytes()
                for p in wheel_export.rglob("*") if p.is_file()}
    assert exported == {rel: (REPO / rel).read_bytes() for rel in iter_stack_files(REPO)}


def test_promtool_checks_and_unit_tests_pass_on_the_exported_rules(wheel_export: Path):
    promtool = require_binary("promtool")
    rules = sorted((wheel_export / "prometheus" / "rules").glob("*.yml"))
    tests = sorted((wheel_export / "prometheus" / "tests").glob("*.yml"))
    assert rules and tests
    done = run([promtool, "check", "rules", *map(str, rules)])
    assert done.returncode == 0, done.stdout + done.stderr
    done = run([promtool, "test", "rules", *map(str, tests)])
    assert done.returncode == 0 and "FAILED" not in done.stdout, done.stdout + done.stderr
    done = run([promtool, "check", "config", str(wheel_export / "prometheus" / "prometheus.yml")])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules)} rule files found" in done.stdout


def test_amtool_accepts_the_exported_alertmanager_config(wheel_export: Path):
    amtool = require_binary("amtool")
    done = run([amtool, "check-config", str(wheel_export / "alertmanager" / "alertmanager.yml")])
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_exported_query_parses_with_the_real_grammars(wheel_export: Path):
    queries = [(f"{d}: {t}", lang, q) for d, t, lang, q in dashboard_queries(wheel_export)]
    queries += [(f"rule {r['alert']}", "promql", r["expr"]) for r in alert_rules(wheel_export)]
    assert len(queries) == len(dashboard_queries(REPO)) + len(alert_rules(REPO))
    assert {lang for _, lang, _ in queries} == {"promql", "logql", "traceql"}
    results = parse_queries([(lang, q) for _, lang, q in queries])
    bad = [f"{where} [{lang}] {res['error']}" for (where, lang, _), res in zip(queries, results) if not res["ok"]]
    assert not bad, "\n".join(bad)


def validate_compose(path: Path) -> str:
    """Validate a compose file with the best real checker available; returns its name."""
    docker = shutil.which("docker")
    env = dict(os.environ, GRAFANA_ADMIN_USER="admin", GRAFANA_ADMIN_PASSWORD="x" * 16)
    if docker and run([docker, "compose", "version"]).returncode == 0:
        done = run([docker, "compose", "-f", str(path), "config", "--quiet"], env=env, cwd=path.parent)
        if done.returncode != 0:
            raise ValueError(done.stderr)
        return "docker compose config"
    from compose_spec import PyCompose

    PyCompose.from_yaml(path.read_text(encoding="utf-8")).validate()
    return "compose-spec"


def test_the_exported_compose_file_is_valid(wheel_export: Path, tmp_path: Path):
    compose = wheel_export / "docker-compose.observability.yml"
    validate_compose(compose)
    broken = tmp_path / "docker-compose.observability.yml"
    broken.write_text(compose.read_text().replace("retries: 12", "retries: twelve", 1))
    with pytest.raises(ValueError):  # the check can fail
        validate_compose(broken)
