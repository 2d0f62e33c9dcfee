"""The command line: user errors print one line to stderr and exit non-zero, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_obs", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("args, expected", [
    (("replay", "/nonexistent/traces.jsonl"), "no such file"),
    (("replay", "http://127.0.0.1:1"), "unreachable"),
    (("demo", "--runs", "0"), "--runs must be at least 1"),
    (("demo", "--runs", "1", "--out", "/proc/agent-obs-cannot-write-here"), "/proc/agent-obs-cannot-write-here"),
    (("serve", "--port", "70000"), "--port must be between 1 and 65535"),
])
def test_user_errors_are_one_line_without_traceback(args, expected):
    done = run_cli(*args)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"agent-obs {args[0]}: ")
    assert expected in lines[0]
    assert "Traceback" not in done.stderr


def test_not_a_trace_file(tmp_path):
    bad = tmp_path / "traces.jsonl"
    bad.write_text("this is not json\n")
    done = run_cli("replay", str(bad))
    assert done.returncode == 2
    assert "not a trace file" in done.stderr and "Traceback" not in done.stderr


def test_help_lists_the_three_commands():
    done = run_cli("--help")
    assert done.returncode == 0
    for command in ("demo", "replay", "serve"):
        assert command in done.stdout


def test_serve_rejects_fewer_than_one_worker(capsys):
    from agent_obs.cli import main

    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


# A base install (no 'service' extra): the example's web/database packages cannot be imported.
BASE_INSTALL = """
import sys, importlib.abc
BLOCKED = {'fastapi', 'starlette', 'uvicorn'}
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NotInstalled())
from agent_obs.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("args", [("demo", "--runs", "1"), ("serve", "--port", "1")])
def test_base_install_names_the_service_extra_in_one_line(args, tmp_path):
    done = subprocess.run([sys.executable, "-c", BASE_INSTALL, *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"agent-obs {args[0]}: ")
    assert "pip install 'agent-obs[service]'" in lines[0]
    assert not (tmp_path / "telemetry").exists()  # nothing started before the check


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    done = run_cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"agent-obs {version('agent-obs')}"


@pytest.mark.parametrize("command, defaults", [
    ("serve", ("(default: 127.0.0.1)", "(default: 8000)")),
    ("demo", ("(default: 20)", "(default: telemetry)")),
])
def test_help_shows_the_defaults(command, defaults):
    done = run_cli(command, "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for default in defaults:
        assert default in text
    assert "--service-name" in text


def test_empty_service_name_is_a_user_error():
    done = run_cli("demo", "--service-name", " ")
    assert done.returncode == 2
    assert done.stderr.strip() == "agent-obs demo: --service-name must not be empty"


def test_observer_docstring_points_to_the_projects_reference():
    from agent_obs import AgentObserver

    assert "docs/reference.md" in AgentObserver.__doc__
    assert "shared/contract.md" not in AgentObserver.__doc__
