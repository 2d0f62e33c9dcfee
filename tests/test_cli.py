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
