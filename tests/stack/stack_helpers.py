"""Helpers for the stack tests: repository paths, tools, dashboard queries, query parsing.

Kept apart from conftest.py so test modules can import plain functions; fixtures live in
conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from contextlib import ExitStack
from typing import Any, Iterator

import yaml

_TESTS = Path(__file__).resolve().parents[1]
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from polling import wait_for  # noqa: E402,F401 - the stack tests import it from here

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
RULES_DIR = REPO / "prometheus" / "rules"
PROMTOOL_TESTS_DIR = REPO / "prometheus" / "tests"
PARSERS_DIR = Path(__file__).resolve().parent / "parsers"
INSTALL_HINT = (
    "install Debian's packages: apt-get update && apt-get install -y --no-install-recommends "
    "prometheus prometheus-alertmanager"
)

# What Grafana substitutes for its built-in variables, for queries run outside Grafana.
BUILTIN_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "10m", "__auto": "1m"}


def require_binary(name: str) -> str:
    """The path of a real tool the test needs; fails (never skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        import pytest

        pytest.fail(f"`{name}` is not installed: {INSTALL_HINT}", pytrace=False)
    return path


# --- the two release lines of Prometheus and Alertmanager -------------------------------------
FLOOR, CURRENT = "floor", "current"
LINES = (FLOOR, CURRENT)
"""``floor``: Debian stable's Prometheus 2.42 and Alertmanager 0.25, on PATH (always there: CI's
floor). ``current``: Prometheus 3.x and a current Alertmanager given by environment variables
(``scripts/test.sh`` fetches Debian sid's, see scripts/sid_servers.sh)."""
_FLOOR_NAMES = {"prometheus": "prometheus", "promtool": "promtool", "alertmanager": "prometheus-alertmanager",
                "amtool": "amtool"}
CURRENT_ENV = {"prometheus": "AGENT_OBS_PROMETHEUS3_BIN", "promtool": "AGENT_OBS_PROMTOOL3_BIN",
               "alertmanager": "AGENT_OBS_ALERTMANAGER_CURRENT_BIN", "amtool": "AGENT_OBS_AMTOOL_CURRENT_BIN"}


def find_line_binary(line: str, tool: str) -> tuple[str | None, str]:
    """(path, "") of ``tool`` (prometheus, promtool, alertmanager, amtool) of a release line, or
    (None, why not) in one line."""
    if line == FLOOR:
        path = shutil.which(_FLOOR_NAMES[tool])
        return path, "" if path else f"`{_FLOOR_NAMES[tool]}` is not installed: {INSTALL_HINT}"
    var = CURRENT_ENV[tool]
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        return None, (f"no current {tool}: {var} is {'unset' if not path else 'not executable: ' + path} "
                      "(scripts/test.sh fetches Debian sid's)")
    return path, ""


def line_binary(line: str, tool: str) -> str:
    """``tool`` of a release line. The floor's must be installed (fails otherwise); the current
    line's skips, in one line, when not given."""
    import pytest

    path, why = find_line_binary(line, tool)
    if path is None:
        if line == FLOOR:
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return path


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)


# --- dashboards ------------------------------------------------------------------------
def load_dashboards(root: Path = REPO) -> dict[str, dict[str, Any]]:
    """The dashboards of a stack folder: the repository's, or one ``agent-obs stack export`` wrote."""
    folder = root / DASHBOARD_DIR.relative_to(REPO)
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def target_language(target: dict[str, Any]) -> str:
    ds_type = target.get("datasource", {}).get("type")
    return {"prometheus": "promql", "loki": "logql", "tempo": "traceql"}[ds_type]


def target_query(target: dict[str, Any]) -> str:
    return target["query"] if target_language(target) == "traceql" else target["expr"]


def dashboard_queries(root: Path = REPO) -> list[tuple[str, str, str, str]]:
    """(dashboard file, panel title, language, query with variables substituted)."""
    out = []
    for name, dash in load_dashboards(root).items():
        values = variable_values(dash)
        for panel in iter_panels(dash):
            for target in panel.get("targets", []):
                lang = target_language(target)
                out.append((name, panel["title"], lang, substitute(target_query(target), values)))
    return out


def variable_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """What each template variable expands to when "All" (or the default) is selected."""
    values = dict(BUILTIN_VARIABLES)
    for var in dashboard["templating"]["list"]:
        if var["type"] == "datasource":
            values[var["name"]] = var["current"]["value"]
        elif var.get("includeAll"):
            values[var["name"]] = var["allValue"]
        else:
            values[var["name"]] = var["current"]["value"]
    return values


_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def used_variables(text: str) -> set[str]:
    return {m.group(1) or m.group(2) for m in _VAR.finditer(text)}


def substitute(text: str, values: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"undefined variable ${name} in {text!r}")
        return values[name]

    return _VAR.sub(repl, text)


# --- alert rules -----------------------------------------------------------------------
def load_rule_groups(root: Path = REPO) -> dict[str, list[dict[str, Any]]]:
    """Rule file name -> its rules (all groups)."""
    out = {}
    for path in sorted((root / RULES_DIR.relative_to(REPO)).glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[path.name] = [rule for group in doc["groups"] for rule in group["rules"]]
    return out


def alert_rules(root: Path = REPO) -> list[dict[str, Any]]:
    return [r for rules in load_rule_groups(root).values() for r in rules if "alert" in r]


# --- real query parsers (Grafana's and Prometheus's Lezer grammars) -----------------------
def ensure_parsers() -> None:
    """Install the pinned npm grammars once (``npm ci`` from the committed lock file)."""
    if (PARSERS_DIR / "node_modules" / "@grafana" / "lezer-logql").exists():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        import pytest

        pytest.fail("node and npm are needed to parse LogQL/TraceQL with Grafana's grammars: "
                    "apt-get install -y nodejs npm", pytrace=False)
    done = run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PARSERS_DIR)
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {PARSERS_DIR}: {done.stderr[-2000:]}")


def parse_queries(items: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Parse (language, query) pairs with the real grammars; see parsers/parse.mjs."""
    ensure_parsers()
    payload = json.dumps([{"lang": lang, "query": q} for lang, q in items])
    done = run(["node", str(PARSERS_DIR / "parse.mjs")], input=payload, cwd=PARSERS_DIR)
    if done.returncode != 0:
        raise RuntimeError(f"parser failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def export_stack_cli(target: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``agent-obs stack export TARGET [OPTIONS]`` run as a user runs it (this checkout's package)."""
    return run([sys.executable, "-m", "agent_obs", "stack", "export", str(target), *options])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(url: str, data: Any = None, method: str | None = None, timeout: float = 30.0) -> tuple[int, Any]:
    """A plain urllib call (not instrumented by service_obs, so test traffic stays out of the
    service's outbound-HTTP metrics)."""
    import urllib.error
    import urllib.request

    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, method=method or ("POST" if body else "GET"),
                                     headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read())


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


# --- servers the tests start --------------------------------------------------------------
def start_process(stack: ExitStack, cmd: list[str], log_path: Path, **kwargs: Any) -> subprocess.Popen:
    """Start a server with its output in ``log_path``; the exit stack stops it (TERM, then KILL)."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the exit stack
    stack.callback(log.close)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **kwargs)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    stack.callback(stop)
    return proc


def ready(url: str, proc: subprocess.Popen, log_path: Path) -> bool:
    """Whether ``url`` answers 200; fails at once with the log's tail if the server exited."""
    if proc.poll() is not None:
        raise AssertionError(f"{proc.args[0]} exited: {log_path.read_text(errors='replace')[-3000:]}")
    try:
        return http_json(url, timeout=2)[0] == 200
    except OSError:
        return False
