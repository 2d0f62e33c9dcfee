"""The stack proven against real servers, Prometheus and Alertmanager of both release lines side
by side: Debian stable's Prometheus 2.42 and Alertmanager 0.25 (the floor, always there) and
Prometheus 3.x with a current Alertmanager (``AGENT_OBS_PROMETHEUS3_BIN`` and friends, see
stack_helpers.LINES; scripts/test.sh fetches Debian sid's 3.5 and 0.33). Twice: the service in
one process, and in two worker processes (`uvicorn --workers 2`, metrics in prometheus_client
multiprocess mode). Both lines scrape the same service, so one round of traffic serves both.

The stack under test is the one ``agent-obs stack export`` writes (with ``--service-name`` and
``--scrape-target`` pointing at the service below), not the repository folders it comes from.

One module-scoped stack: the example optimizer service (``create_app``, served by uvicorn on
127.0.0.1) with its real observability (``setup_observability``), the example's own Dremio
stand-in with an outage switch, and for each release line a real Prometheus scraping the
service every second with the exported prometheus.yml and a copy of the exported rules whose
windows and ``for:`` are shortened, and a real Alertmanager with the exported alertmanager.yml
whose webhook URLs point at a receiver in this test; both run with the compose file's flags.
Test traffic uses urllib, which service_obs does not instrument, so it never counts as the
service's outbound HTTP.

Fakes: the LLM is the example's scripted chat model, subclassed so it can raise a rate-limit
error on demand. Nothing stands in for Prometheus or Alertmanager.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import threading
import time
import urllib.parse
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from processes import ServerProcess
from stack_fakes import flaky_model
from stack_helpers import (CURRENT, FLOOR, LINES, alert_rules, dashboard_queries, export_stack_cli,
                           find_line_binary, free_port, http_json, line_binary, load_dashboards,
                           parse_queries, ready, start_process, substitute, variable_values, wait_for)

SERVICE = "optimizer-agent"  # given to `agent-obs stack export --service-name` (the docs examples use it)
LLM_OUTAGE = threading.Event()  # the one-process stack's model is down while this is set
WORKERS = 2


# --- fakes and receivers -----------------------------------------------------------------
def _faulty_dremio() -> Any:
    from agent_obs_example.standin import DremioStandIn

    class FaultyDremio(DremioStandIn):
        """The example's Dremio stand-in; answers every call with 503 while ``outage`` is set."""

        def __init__(self) -> None:
            super().__init__()
            self.outage = threading.Event()

        def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
            if self.outage.is_set():
                return 503, "application/json", b'{"errorMessage": "induced outage"}'
            return super().handle(method, path, body)

    return FaultyDremio()


class WebhookReceiver:
    """Receives Alertmanager's webhook notifications (its JSON webhook format, v4)."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.notifications.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def find(self, alertname: str, status: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(path, n) for path, n in self.notifications
                    if n["status"] == status and any(a["labels"]["alertname"] == alertname for a in n["alerts"])]


# --- configs derived from the project's files ----------------------------------------------
def _test_rules(text: str) -> str:
    """The project's rules with windows, ``for:`` and intervals shortened to seconds."""
    windows = {"5m": "10s", "10m": "10s", "15m": "10s", "1h": "30s", "24h": "1m"}
    text = re.sub(r"\[(5m|10m|15m|1h|24h)\]", lambda m: f"[{windows[m.group(1)]}]", text)
    text = re.sub(r"for: \d+[smh]", "for: 1s", text)
    return re.sub(r"interval: \d+[smh]", "interval: 1s", text)


def _prometheus_config(root: Path, app_port: int, prom_port: int, am_port: int) -> dict[str, Any]:
    """The exported prometheus.yml; the service's target and label come from the export's options."""
    cfg = yaml.safe_load((root / "prometheus" / "prometheus.yml").read_text())
    cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    app = f"127.0.0.1:{app_port}"
    replace = {app: app, "localhost:9090": f"127.0.0.1:{prom_port}"}
    for job in cfg["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [replace[t] for t in static["targets"]]
    cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{am_port}"]
    return cfg


def _alertmanager_config(root: Path, webhook_port: int) -> dict[str, Any]:
    cfg = yaml.safe_load((root / "alertmanager" / "alertmanager.yml").read_text())
    for route in [cfg["route"], *cfg["route"]["routes"]]:
        route["group_wait"] = "1s"
        route["group_interval"] = "1s"
    for receiver in cfg["receivers"]:
        for hook in receiver["webhook_configs"]:
            assert hook["url"].startswith("http://alert-webhook:5001/")
            hook["url"] = hook["url"].replace("http://alert-webhook:5001", f"http://127.0.0.1:{webhook_port}")
    return cfg


# --- the stack ------------------------------------------------------------------------------
@dataclass
class Monitor:
    """One release line's Prometheus and Alertmanager watching the stack's service."""
    line: str
    prom_url: str
    am_url: str
    webhook: WebhookReceiver
    prom_data: Path
    versions: dict[str, str] = field(default_factory=dict)

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        status, body = http_json(f"{self.prom_url}/api/v1/query?" + urllib.parse.urlencode(params))
        assert status == 200 and body["status"] == "success", f"{self.line}: {expr}: {body}"
        return body["data"]["result"]

    def last_scrape(self) -> float:
        """When the service was last scraped. ``timestamp()`` of a plain selector is the sample's
        time; of any other expression (``up == 1``) it is the evaluation's, i.e. now."""
        result = self.query(f'max(timestamp(up{{service="{SERVICE}"}}))')
        return float(result[0]["value"][1]) if result else 0.0


@dataclass
class Stack:
    root: Path  # the folder `agent-obs stack export` wrote
    app_url: str
    monitors: dict[str, Monitor]  # by release line; the current line's is missing when not given
    missing: dict[str, str]  # release line -> why it does not run
    dremio: Any
    obs: Any  # the observability handle of the one-process stack; None when workers serve
    trace_file: Path
    llm_down: Callable[[bool], None]
    workers: int = 1
    log: dict[str, Any] = field(default_factory=dict)

    def on(self, line: str) -> Monitor:
        """The release line's monitor; the test skips (one line) when that line is not given."""
        if line not in self.monitors:
            pytest.skip(self.missing[line])
        return self.monitors[line]

    def wait_scrapes_after(self, moment: float, scrapes: int = 1) -> None:
        for mon in self.monitors.values():
            wait_for(lambda: mon.last_scrape() >= moment + scrapes - 0.5, timeout=30, interval=0.2,
                     what=f"{scrapes} {mon.line} Prometheus scrape(s) after the traffic")


def _serve_in_process(es: ExitStack, tmp: Path, dremio: Any) -> tuple[int, Any]:
    """The example app on a uvicorn thread of this process, with its own observability."""
    import uvicorn
    from prometheus_client import ProcessCollector

    from agent_obs_example.app import create_app
    from agent_obs_example.settings import OptimizerSettings
    from service_obs import ObservabilitySettings, setup_observability

    obs = setup_observability(ObservabilitySettings(
        service_name=SERVICE, trace_file=str(tmp / "traces.jsonl"), log_file=None, log_to_console=False,
        log_to_loki=False))
    es.callback(obs.shutdown, 5)
    if obs.registry.get_sample_value("process_resident_memory_bytes") is None:
        warnings.warn("service_obs's registry has no ProcessCollector: the Performance "
                      "dashboard's memory/CPU panels need it; registered here", stacklevel=1)
        ProcessCollector(registry=obs.registry)
    app = create_app(OptimizerSettings(database_url=f"sqlite:///{tmp / 'optimizer.db'}",
                                       dremio_url=dremio.url),
                     obs=obs, chat_model=flaky_model(LLM_OUTAGE.is_set))
    app_port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=app_port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="optimizer-uvicorn", daemon=True)
    thread.start()

    def stop_server() -> None:
        server.should_exit = True
        thread.join(15)

    es.callback(stop_server)
    wait_for(lambda: server.started, timeout=30, what="uvicorn started")
    return app_port, obs


def _serve_in_workers(es: ExitStack, tmp: Path, dremio: Any) -> int:
    """The example app in ``uvicorn --workers 2`` processes, metrics in multiprocess mode."""
    import os
    import sys

    (tmp / "multiproc").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OBS_", "OTEL_", "PROMETHEUS_MULTIPROC"))}
    env.update({
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "multiproc"),
        "STACK_LLM_OUTAGE_FILE": str(tmp / "llm-outage"),
        "AGENT_OBS_SERVICE_NAME": SERVICE,
        "AGENT_OBS_DATABASE_URL": f"sqlite:///{tmp / 'optimizer.db'}",
        "AGENT_OBS_DREMIO_URL": dremio.url,
        "AGENT_OBS_TRACE_FILE": str(tmp / "traces.jsonl"),
        "AGENT_OBS_LOG_FILE": "",
        "AGENT_OBS_LOG_TO_CONSOLE": "false",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent), env.get("PYTHONPATH", "")]),
    })
    app_port = free_port()
    server = ServerProcess(
        [str(Path(sys.executable).parent / "uvicorn"), "--factory", "stack_worker_app:create",
         "--workers", str(WORKERS), "--host", "127.0.0.1", "--port", str(app_port), "--log-level", "warning",
         "--no-access-log"], env, tmp / "workers.log", cwd=tmp)
    es.callback(server.kill)
    es.callback(lambda: server.alive() and server.terminate(30))
    wait_for(lambda: ready(f"http://127.0.0.1:{app_port}/health", server.proc, server.log_path),
             timeout=90, interval=0.2, what="the workers answering")
    return app_port


def _compose_command(root: Path, service: str, paths: dict[str, Path]) -> list[str]:
    """The compose file's flags for a server, with its container paths mapped to this machine."""
    compose = yaml.safe_load((root / "docker-compose.observability.yml").read_text())
    flags = []
    for flag in compose["services"][service]["command"]:
        name, _, value = flag.partition("=")
        flags.append(f"{name}={paths[name]}" if name in paths else flag)
    assert not set(paths) - {f.partition("=")[0] for f in flags}, (service, flags)
    return flags


def _monitor(es: ExitStack, tmp: Path, root: Path, line: str, app_port: int) -> Monitor:
    """A release line's Alertmanager and Prometheus with the exported files (run with the
    compose file's flags), the Alertmanager posting to its own webhook receiver."""
    home = tmp / line
    home.mkdir()
    webhook = WebhookReceiver().start()
    es.callback(webhook.stop)
    am_port, prom_port = free_port(), free_port()
    (home / "alertmanager.yml").write_text(yaml.safe_dump(_alertmanager_config(root, webhook.port)))
    am_log = home / "alertmanager.log"
    am = start_process(es, [
        line_binary(line, "alertmanager"),
        *_compose_command(root, "alertmanager", {"--config.file": home / "alertmanager.yml",
                                                 "--storage.path": home / "am-data"}),
        f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=", "--log.level=warn",
    ], am_log)

    (home / "rules").mkdir()
    for path in (root / "prometheus" / "rules").glob("*.yml"):
        (home / "rules" / path.name).write_text(_test_rules(path.read_text()))
    (home / "prometheus.yml").write_text(yaml.safe_dump(_prometheus_config(root, app_port, prom_port, am_port)))
    prom_log = home / "prometheus.log"
    prom = start_process(es, [
        line_binary(line, "prometheus"),
        *_compose_command(root, "prometheus", {"--config.file": home / "prometheus.yml",
                                               "--storage.tsdb.path": home / "prom-data"}),
        f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s", "--log.level=warn",
        "--web.enable-admin-api",  # for the snapshot test_prometheus3_... compares on
    ], prom_log)
    mon = Monitor(line=line, prom_url=f"http://127.0.0.1:{prom_port}", am_url=f"http://127.0.0.1:{am_port}",
                  webhook=webhook, prom_data=home / "prom-data")
    wait_for(lambda: ready(f"{mon.am_url}/-/ready", am, am_log), timeout=30, interval=0.1,
             what=f"{line} alertmanager ready")
    wait_for(lambda: ready(f"{mon.prom_url}/-/ready", prom, prom_log), timeout=30, interval=0.1,
             what=f"{line} prometheus ready")
    mon.versions["prometheus"] = http_json(f"{mon.prom_url}/api/v1/status/buildinfo")[1]["data"]["version"]
    mon.versions["alertmanager"] = http_json(f"{mon.am_url}/api/v2/status")[1]["versionInfo"]["version"]
    return mon


@pytest.fixture(scope="module", params=[1, WORKERS], ids=["one-process", "two-workers"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    lines, missing = [], {}
    for line in LINES:
        found = {tool: find_line_binary(line, tool) for tool in ("prometheus", "alertmanager")}
        why = next((why for path, why in found.values() if path is None), "")
        if why and line == FLOOR:
            pytest.fail(why, pytrace=False)
        (missing.__setitem__(line, why) if why else lines.append(line))
    workers = request.param
    tmp = tmp_path_factory.mktemp("stack")
    with ExitStack() as es:
        dremio = _faulty_dremio().start()
        es.callback(dremio.stop)
        if workers == 1:
            app_port, obs = _serve_in_process(es, tmp, dremio)

            def llm_down(down: bool) -> None:
                LLM_OUTAGE.set() if down else LLM_OUTAGE.clear()
        else:
            app_port, obs = _serve_in_workers(es, tmp, dremio), None
            flag = tmp / "llm-outage"

            def llm_down(down: bool) -> None:
                flag.touch() if down else flag.unlink(missing_ok=True)

        root = tmp / "exported"
        done = export_stack_cli(root, "--service-name", SERVICE, "--scrape-target", f"127.0.0.1:{app_port}")
        assert done.returncode == 0, done.stderr
        monitors = {line: _monitor(es, tmp, root, line, app_port) for line in lines}
        print(f"\nstack servers: { {line: m.versions for line, m in monitors.items()} }")
        yield Stack(root=root, app_url=f"http://127.0.0.1:{app_port}", monitors=monitors, missing=missing,
                    dremio=dremio, obs=obs, trace_file=tmp / "traces.jsonl", llm_down=llm_down, workers=workers)


# --- traffic ------------------------------------------------------------------------------
def _decide(base: str, run_id: str, approved: bool) -> tuple[int, Any]:
    """A decision on a paused run. With several workers, only the worker that paused the run
    holds its checkpoint (the example's in-memory saver); another answers 409 and changes
    nothing, so the decision is sent again until it reaches the right one."""
    for _ in range(40):
        status, body = http_json(f"{base}/optimizations/{run_id}/decision",
                                 {"approved": approved, "reviewer": "stack-test"})
        if status != 409 or "checkpoint is gone" not in json.dumps(body):
            return status, body
    return status, body


def _wave(stack: Stack, wave: int) -> dict[str, int]:
    """One pass over every sample job: approvals (interrupt + resume), measurements, retries
    (the flaky job), tool errors, client errors, an unknown job and an LLM failure."""
    from agent_obs_example.samples import sample_job_ids

    base = stack.app_url
    seen = {"runs": 0, "interrupts": 0, "measurements": 0, "llm_failures": 0}
    for index, job_id in enumerate(sample_job_ids()):
        status, body = http_json(f"{base}/optimizations", {"job_id": job_id})
        assert status == 201, (job_id, status, body)
        seen["runs"] += 1
        if body["status"] == "awaiting_approval":
            seen["interrupts"] += 1
            approved = (index + wave) % 2 == 0
            status, body = _decide(base, body["run_id"], approved)
            assert status == 200, body
        for n, rec in enumerate(body["recommendations"]):
            if rec["status"] == "rejected":
                continue
            optimized = 300.0 if (n + wave) % 3 else 950.0  # some meet the estimate, some do not
            status, _ = http_json(f"{base}/recommendations/{rec['id']}/measurements",
                                  {"baseline_duration_ms": 1000.0, "optimized_duration_ms": optimized,
                                   "executions": 10})
            assert status == 201
            seen["measurements"] += 1
    assert http_json(f"{base}/optimizations", {"job_id": "not a job id!"})[0] == 422
    assert http_json(f"{base}/optimizations", {"job_id": "no-such-job"})[0] == 404
    stack.llm_down(True)
    try:
        status, _ = http_json(f"{base}/optimizations", {"job_id": sample_job_ids()[2]})
        assert status >= 500
        seen["llm_failures"] += 1
    finally:
        stack.llm_down(False)
    return seen


@pytest.fixture(scope="module")
def traffic(stack: Stack) -> dict[str, int]:
    """Two waves, each scraped, so every counter has moved between two scrapes."""
    stack.wait_scrapes_after(time.time())
    first = _wave(stack, 0)
    stack.wait_scrapes_after(time.time())
    # a scrape between the waves: every series of the first wave exists by then
    stack.log["between_waves"] = stack.monitors[FLOOR].last_scrape()
    second = _wave(stack, 1)
    stack.wait_scrapes_after(time.time(), scrapes=2)
    assert first["interrupts"] and first["measurements"] and first["llm_failures"]
    return {k: first[k] + second[k] for k in first}


# --- tests --------------------------------------------------------------------------------
def _finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(r["value"][1])) for r in result)


@pytest.mark.parametrize("line", LINES)
def test_every_dashboard_promql_query_returns_data(stack: Stack, line: str, traffic: dict[str, int]):
    mon = stack.on(line)
    queries = [(d, title, q) for d, title, lang, q in dashboard_queries(stack.root) if lang == "promql"]
    assert len(queries) > 60
    empty, nan_only = [], []
    for dash, title, expr in queries:
        result = mon.query(expr)
        if not result:
            empty.append(f"{dash}: {title}: {expr}")
        elif not _finite(result):
            nan_only.append(f"{dash}: {title}: {expr}")
    assert not empty, "queries returning nothing:\n" + "\n".join(empty)
    assert not nan_only, "queries returning only NaN:\n" + "\n".join(nan_only)


@pytest.mark.parametrize("line", LINES)
def test_every_template_variable_has_values(stack: Stack, line: str, traffic: dict[str, int]):
    mon = stack.on(line)
    for name, dash in load_dashboards(stack.root).items():
        values = variable_values(dash)
        for var in dash["templating"]["list"]:
            if var["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", var["definition"])
            selector, label = substitute(match.group(1), values), match.group(2)
            status, body = http_json(f"{mon.prom_url}/api/v1/label/{label}/values?"
                                     + urllib.parse.urlencode({"match[]": selector}))
            assert status == 200 and body["data"], f"{name}: ${var['name']} has no values ({selector})"
    runs = mon.query(f'count(agent_obs_runs_total{{service="{SERVICE}"}})')
    assert runs and float(runs[0]["value"][1]) >= 3  # ok, error, interrupted


@pytest.mark.parametrize("line", LINES)
def test_every_alert_expression_returns_data(stack: Stack, line: str, traffic: dict[str, int]):
    """Each rule's expression with `bool` comparisons, so the values behind the threshold show."""
    mon = stack.on(line)
    rules = alert_rules(stack.root)
    parsed = parse_queries([("promql", r["expr"]) for r in rules])
    empty = []
    for rule, res in zip(rules, parsed):
        result = mon.query(res["boolified"])
        if not result:
            empty.append(f"{rule['alert']}: {res['boolified']}")
        else:
            assert {r["metric"].get("service") for r in result} == {SERVICE}, rule["alert"]
    assert not empty, "alert expressions returning nothing:\n" + "\n".join(empty)


@pytest.mark.parametrize("line", LINES)
def test_rules_load_and_evaluate_without_errors(stack: Stack, line: str, traffic: dict[str, int]):
    mon = stack.on(line)
    status, body = http_json(f"{mon.prom_url}/api/v1/rules")
    rules = [r for g in body["data"]["groups"] for r in g["rules"]]
    assert {r["name"] for r in rules} == {r["alert"] for r in alert_rules(stack.root)}
    unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not unhealthy


@pytest.mark.parametrize("line", LINES)
def test_every_metric_name_is_in_the_real_scrape(stack: Stack, line: str, traffic: dict[str, int]):
    mon = stack.on(line)
    status, body = http_json(f"{mon.prom_url}/api/v1/targets/metadata?"
                             + urllib.parse.urlencode({"match_target": f'{{service="{SERVICE}"}}'}))
    families = {m["metric"] for m in body["data"]}
    queries = ([q for _, _, lang, q in dashboard_queries(stack.root) if lang == "promql"]
               + [r["expr"] for r in alert_rules(stack.root)])
    used = {name for res in parse_queries([("promql", q) for q in queries]) for name in res["metrics"]}
    missing = []
    for name in sorted(used - {"up"}):
        base = re.sub(r"_(bucket|sum|count|total)$", "", name)
        if name not in families and base not in families:
            missing.append(name)
    assert not missing, f"not exposed by the running service: {missing}"


def _trace_ids_in_file(path: Path) -> set[str]:
    ids = set()
    for line in path.read_text().splitlines():
        for rs in json.loads(line).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                ids.update(span["traceId"].lower() for span in ss.get("spans", []))
    return ids


@pytest.mark.parametrize("line", LINES)
def test_exemplars_point_at_traces_in_the_trace_file(stack: Stack, line: str, traffic: dict[str, int]):
    """One process: every exemplar's trace is in the trace file. Several workers: no exemplars
    at all (prometheus_client's multiprocess mode keeps none; the guide says so)."""
    mon = stack.on(line)
    from agent_obs import semconv as sc

    now = time.time()
    exemplar_ids: dict[str, set[str]] = {}
    for metric in (sc.METRIC_OPERATION_DURATION, sc.METRIC_AGENT_DURATION, sc.METRIC_NODE_DURATION):
        status, body = http_json(f"{mon.prom_url}/api/v1/query_exemplars?" + urllib.parse.urlencode(
            {"query": f"{metric}_bucket", "start": now - 600, "end": now + 60}))
        assert status == 200, body
        exemplar_ids[metric] = {e["labels"]["trace_id"] for s in body["data"] for e in s["exemplars"]}
        if stack.workers > 1:
            assert not exemplar_ids[metric], metric
            continue
        assert exemplar_ids[metric], f"no exemplars stored for {metric}"
    if stack.workers > 1:
        return
    stack.obs.tracer_provider.force_flush()
    in_file = wait_for(lambda: stack.trace_file.exists() and _trace_ids_in_file(stack.trace_file),
                       timeout=15, what="trace file written")
    for metric, ids in exemplar_ids.items():
        assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
        assert ids <= in_file, f"{metric}: exemplar trace ids not in the trace file: {ids - in_file}"


@pytest.mark.parametrize("line", LINES)
def test_alertmanager_inhibits_a_services_warnings_while_it_has_a_critical(stack: Stack, line: str):
    mon = stack.on(line)
    labels = {"service": "inhibit-check", "job": "stack-test"}
    alerts = [{"labels": {"alertname": "SyntheticCritical", "severity": "critical", **labels}},
              {"labels": {"alertname": "SyntheticWarning", "severity": "warning", **labels}},
              {"labels": {"alertname": "SyntheticWarning", "severity": "warning", "service": "other"}}]
    status, _ = http_json(f"{mon.am_url}/api/v2/alerts", alerts)
    assert status == 200

    def states() -> dict[tuple[str, str], list[str]] | None:
        _, body = http_json(f"{mon.am_url}/api/v2/alerts?" + urllib.parse.urlencode(
            {"filter": 'alertname=~"Synthetic.*"'}))
        found = {(a["labels"]["alertname"], a["labels"]["service"]): a["status"]["inhibitedBy"] for a in body}
        return found if len(found) == 3 and found[("SyntheticWarning", "inhibit-check")] else None

    found = wait_for(states, timeout=15, interval=0.2, what="inhibition applied")
    assert found[("SyntheticCritical", "inhibit-check")] == []
    assert found[("SyntheticWarning", "other")] == []


def _series(result: list[dict[str, Any]]) -> dict[frozenset, float]:
    return {frozenset(r["metric"].items()): float(r["value"][1]) for r in result}


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _sample_times_ms(mon: Monitor, selector: str) -> set[int]:
    result = mon.query(f"{selector}[15m]")
    return {round(float(t) * 1000) for r in result for t, _ in r["values"]}


def _off_edge_time(last_ms: int, scrape_ms: int, samples_ms: set[int]) -> tuple[float, int]:
    """(time, window in ms): a time just before ``last_ms`` and a whole-second window starting
    less than a scrape interval before the scrape at ``scrape_ms``, such that neither the
    window's nor the 5m lookback's left edge falls on a sample: there, 3.0's left-open ranges
    and 2.x's closed ones select alike."""
    for back in range(500, 1000, 7):
        at = last_ms - back
        if not 100 < (at - scrape_ms) % 1000 < 900:
            continue
        window = (at - scrape_ms) // 1000 * 1000 + 1000
        if at - window not in samples_ms and at - 300_000 not in samples_ms:
            return at / 1000, window
    raise AssertionError("no evaluation time off every window edge")


def test_prometheus3_computes_what_2_42_computes_from_the_same_samples(stack: Stack, traffic: dict[str, int],
                                                                        tmp_path: Path):
    """Every dashboard query and alert expression on the same samples: a snapshot of the 2.42
    TSDB read by Prometheus 3, both evaluated at one instant. (Live, each line scraping the
    service itself, they return the same series.)

    Comparable means: (1) an instant off the ranges' left edges, where 3.0's left-open ranges
    select what 2.x's closed ones select (on an edge they differ by the edge sample: checked
    last, so this comparison can fail); (2) ranges that start less than a scrape interval before
    a sample of every series they hold, i.e. from just before the scrape between the two waves
    of traffic. Where a counter series begins later inside a range with a value above zero, 3.x
    extrapolates its start by at most half a scrape interval and 2.42 up to the extrapolated
    zero point (Prometheus's fix of that limit, prometheus/prometheus#13725, came after 2.42), so
    `rate`/`increase` over the range holding a series' first sample differ a little between the
    lines (docs/running-the-stack.md, "Prometheus 2.x and 3.x").
    """
    floor, current = stack.on(FLOOR), stack.on(CURRENT)
    rules = alert_rules(stack.root)
    queries = ([(f"{d}: {t}", q) for d, t, lang, q in dashboard_queries(stack.root) if lang == "promql"]
               + [(f"rule {r['alert']}", res["boolified"])
                  for r, res in zip(rules, parse_queries([("promql", r["expr"]) for r in rules]))])
    shapes = [where for where, q in queries if set(_series(floor.query(q))) != set(_series(current.query(q)))]
    assert not shapes, "different series on the two lines:\n" + "\n".join(shapes)

    up = f'up{{service="{SERVICE}"}}'
    # ranges from just before the scrape between the waves to a few seconds after the second
    wait_for(lambda: floor.last_scrape() > stack.log["between_waves"] + 6, timeout=30, interval=0.2,
             what="six seconds of scrapes since the second wave began")
    service_ms = _sample_times_ms(floor, up)
    at, window = _off_edge_time(max(service_ms), round(stack.log["between_waves"] * 1000),
                                service_ms | _sample_times_ms(floor, '{__name__=~"up|ALERTS.*"}'))
    over_wave = [(where, re.sub(r"\[\d+[smhd]\]", f"[{window // 1000}s]", q)) for where, q in queries]

    status, body = http_json(f"{floor.prom_url}/api/v1/admin/tsdb/snapshot", {}, method="POST")
    assert status == 200, body
    shutil.copytree(floor.prom_data / "snapshots" / body["data"]["name"], tmp_path / "data")
    (tmp_path / "prometheus.yml").write_text("scrape_configs: []\n")
    port = free_port()
    with ExitStack() as es:
        log = tmp_path / "prometheus.log"
        proc = start_process(es, [line_binary(CURRENT, "prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                                  f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                  "--log.level=warn"], log)
        wait_for(lambda: ready(f"http://127.0.0.1:{port}/-/ready", proc, log), timeout=30, interval=0.1,
                 what="prometheus 3 on the snapshot")
        replay = Monitor(line=CURRENT, prom_url=f"http://127.0.0.1:{port}", am_url="", webhook=current.webhook,
                         prom_data=tmp_path / "data")
        differences, moving = [], 0
        for where, q in over_wave:
            two, three = _series(floor.query(q, at)), _series(replay.query(q, at))
            moving += any(math.isfinite(v) and v != 0 for v in two.values())
            if set(two) != set(three) or not all(_same(two[k], three[k]) for k in two):
                differences.append(f"{where}: {q}\n  2.42: {sorted(two.items())}\n  3.x:  {sorted(three.items())}")
        assert not differences, "\n".join(differences)
        assert moving >= len(queries) // 2, f"only {moving} of {len(queries)} queries saw the traffic move"

        # on a left edge: 2.x counts the sample there, 3.x does not
        edge = max(t for t in service_ms if t + 3000 <= at * 1000)
        count = f"count_over_time({up}[3s])"
        on_two, on_three = floor.query(count, (edge + 3000) / 1000), replay.query(count, (edge + 3000) / 1000)
        assert float(on_two[0]["value"][1]) == float(on_three[0]["value"][1]) + 1, (on_two, on_three)


def test_dremio_outage_fires_an_alert_and_its_resolution_arrives(stack: Stack, traffic: dict[str, int]):
    """On every release line's Prometheus and Alertmanager at once (one outage). Runs last: it
    changes the service's error counters."""
    from agent_obs_example.samples import sample_job_ids

    job = sample_job_ids()[0]
    stack.dremio.outage.set()
    try:
        def fired() -> dict[str, list] | None:
            status, _ = http_json(f"{stack.app_url}/optimizations", {"job_id": job})
            assert status == 502
            found = {line: mon.webhook.find("DremioAPIFailures", "firing") for line, mon in stack.monitors.items()}
            return found if all(found.values()) else None

        notifications = wait_for(fired, timeout=60, interval=0.2, what="DremioAPIFailures firing notifications")
    finally:
        stack.dremio.outage.clear()
    for line, ((path, note), *_) in notifications.items():
        assert path == "/alerts/warning" and note["receiver"] == "webhook-warning", line
        alert = next(a for a in note["alerts"] if a["labels"]["alertname"] == "DremioAPIFailures")
        assert alert["labels"]["service"] == SERVICE and alert["labels"]["severity"] == "warning", line
        assert alert["annotations"]["runbook_url"] == "docs/runbooks.md#dremioapifailures", line
        assert "Dremio" in alert["annotations"]["summary"], line

    def resolved() -> dict[str, list] | None:
        status, _ = http_json(f"{stack.app_url}/optimizations", {"job_id": job})
        assert status == 201
        found = {line: mon.webhook.find("DremioAPIFailures", "resolved") for line, mon in stack.monitors.items()}
        return found if all(found.values()) else None

    done = wait_for(resolved, timeout=60, interval=0.5, what="DremioAPIFailures resolved notifications")
    for line, ((path, note), *_) in done.items():
        assert note["receiver"] == "webhook-warning", line
