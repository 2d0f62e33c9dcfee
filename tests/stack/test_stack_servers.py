"""The stack's own configs on the real servers: Tempo 3, Loki 3, Prometheus 2 and 3, a Collector.

Tempo and Loki are in no package registry here: they are built from their release tags (see
docs/running-the-stack.md, "Prove the configs on real servers") and given by
``AGENT_OBS_TEMPO_BIN`` / ``AGENT_OBS_LOKI_BIN``; without them this module skips. Prometheus is
Debian's (2.x, the floor) and, when ``AGENT_OBS_PROMETHEUS3_BIN`` is given (scripts/test.sh
gives Debian sid's 3.5), a 3.x beside it, both receiving Tempo's remote write; the Collector
runs when ``AGENT_OBS_OTELCOL_BIN`` is given.

Every server starts on 127.0.0.1 with the project's file, mapped only where a container differs:
data paths, compose host names and ports (and, for the test's pace, Prometheus's scrape
interval and the sampler's decision wait). The example service runs as compose runs it
(``agent-obs serve`` with the compose file's environment), the demo's runs drive it over HTTP,
and everything is read back through the servers' own APIs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import time
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack_helpers import (CURRENT, REPO, RULES_DIR, find_line_binary, free_port, http_json, ready,
                           start_process, wait_for)

TEMPO_BIN = os.environ.get("AGENT_OBS_TEMPO_BIN")
LOKI_BIN = os.environ.get("AGENT_OBS_LOKI_BIN")
OTELCOL_BIN = os.environ.get("AGENT_OBS_OTELCOL_BIN")
SERVICE = "optimizer-agent"
RUNS = 12

pytestmark = pytest.mark.skipif(
    not (TEMPO_BIN and LOKI_BIN),
    reason="real Tempo/Loki not given (AGENT_OBS_TEMPO_BIN, AGENT_OBS_LOKI_BIN): see docs/running-the-stack.md")


# --- the project's configs, mapped to this machine ------------------------------------------
def _remap_paths(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: _remap_paths(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_remap_paths(v, old, new) for v in node]
    if isinstance(node, str) and (node == old or node.startswith(old + "/")):
        return new + node[len(old):]
    return node


def tempo_config(data: Path, ports: dict[str, int], remote_writes: list[str]) -> dict[str, Any]:
    cfg = _remap_paths(yaml.safe_load((REPO / "tempo" / "tempo.yaml").read_text()), "/var/tempo", str(data))
    cfg["server"].update(http_listen_address="127.0.0.1", http_listen_port=ports["http"],
                         grpc_listen_address="127.0.0.1", grpc_listen_port=ports["grpc"])
    protocols = cfg["distributor"]["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317" and protocols["http"]["endpoint"] == "0.0.0.0:4318"
    protocols["grpc"]["endpoint"] = f"127.0.0.1:{ports['otlp_grpc']}"
    protocols["http"]["endpoint"] = f"127.0.0.1:{ports['otlp_http']}"
    (remote,) = cfg["metrics_generator"]["storage"]["remote_write"]
    assert remote["url"] == "http://prometheus:9090/api/v1/write"
    cfg["metrics_generator"]["storage"]["remote_write"] = [{**remote, "url": url} for url in remote_writes]
    cfg["memberlist"] = {"bind_addr": ["127.0.0.1"], "bind_port": ports["memberlist"]}
    return cfg


def loki_config(data: Path, ports: dict[str, int], alertmanager: str) -> dict[str, Any]:
    cfg = _remap_paths(yaml.safe_load((REPO / "loki" / "loki-config.yaml").read_text()), "/loki", str(data))
    cfg["server"].update(http_listen_address="127.0.0.1", http_listen_port=ports["http"],
                         grpc_listen_address="127.0.0.1", grpc_listen_port=ports["grpc"])
    assert cfg["ruler"]["alertmanager_url"] == "http://alertmanager:9093"
    cfg["ruler"]["alertmanager_url"] = alertmanager
    cfg["memberlist"] = {"bind_addr": ["127.0.0.1"], "bind_port": ports["memberlist"]}
    return cfg


def prometheus_config(own: str, app: str, alertmanager: str) -> dict[str, Any]:
    cfg = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    hosts = {"optimizer:8000": app, "localhost:9090": own}
    for job in cfg["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [hosts[t] for t in static["targets"]]
    cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [alertmanager]
    return cfg


def collector_config(ports: dict[str, int], tempo_otlp: str) -> dict[str, Any]:
    cfg = yaml.safe_load((REPO / "collector" / "otel-collector.yaml").read_text())
    protocols = cfg["receivers"]["otlp"]["protocols"]
    protocols["grpc"]["endpoint"] = f"127.0.0.1:{ports['grpc']}"
    protocols["http"]["endpoint"] = f"127.0.0.1:{ports['http']}"
    assert cfg["exporters"]["otlp/tempo"]["endpoint"] == "tempo:4317"
    cfg["exporters"]["otlp/tempo"]["endpoint"] = tempo_otlp
    cfg["extensions"]["health_check"]["endpoint"] = f"127.0.0.1:{ports['health']}"
    sampling = cfg["processors"]["tail_sampling"]
    sampling["decision_wait"] = "3s"  # the test's pace; the shipped 60s is for real agent runs
    share = next(p for p in sampling["policies"] if p["type"] == "probabilistic")
    share["probabilistic"]["sampling_percentage"] = 50  # so "some, not all" is certain at this size
    cfg["service"]["telemetry"] = {"metrics": {"level": "none"}}
    return cfg


def balancer_config(ports: dict[str, int], sampler_otlp: str) -> dict[str, Any]:
    cfg = yaml.safe_load((REPO / "collector" / "otel-collector-loadbalancer.yaml").read_text())
    protocols = cfg["receivers"]["otlp"]["protocols"]
    protocols["grpc"]["endpoint"] = f"127.0.0.1:{ports['grpc']}"
    protocols["http"]["endpoint"] = f"127.0.0.1:{ports['http']}"
    resolver = cfg["exporters"]["loadbalancing"]["resolver"]["static"]
    assert resolver["hostnames"] == ["otel-sampler:4317"]
    resolver["hostnames"] = [sampler_otlp]
    cfg["extensions"]["health_check"]["endpoint"] = f"127.0.0.1:{ports['health']}"
    cfg["service"]["telemetry"] = {"metrics": {"level": "none"}}
    return cfg


def service_env(tmp: Path, traces_endpoint: str, loki: str) -> dict[str, str]:
    """The compose file's environment for the example service, with hosts and paths mapped."""
    compose = yaml.safe_load((REPO / "docker-compose.observability.yml").read_text())
    env = {k: str(v) for k, v in compose["services"]["optimizer"]["environment"].items()}
    assert env["AGENT_OBS_LOKI_ENDPOINT"] == "http://loki:3100"
    env["AGENT_OBS_TEMPO_ENDPOINT"] = traces_endpoint
    env["AGENT_OBS_LOKI_ENDPOINT"] = loki
    env["AGENT_OBS_DATABASE_URL"] = f"sqlite:///{tmp / 'optimizer.db'}"
    env["AGENT_OBS_TRACE_FILE"] = str(tmp / "traces.jsonl")
    env["AGENT_OBS_LOG_FILE"] = str(tmp / "logs.jsonl")  # the ground truth Loki is compared with
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OBS_", "OTEL_"))}
    return {**base, **env}


# --- the stack -------------------------------------------------------------------------------
@dataclass
class Service:
    url: str
    logs: Path
    runs: list[dict[str, Any]] = field(default_factory=list)

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logs.read_text().splitlines()]

    def trace_ids(self, pred=lambda r: True) -> set[str]:
        return {r["trace_id"] for r in self.log_records() if r.get("trace_id") and pred(r)}


@dataclass
class Servers:
    tempo: str
    tempo_otlp: str
    loki: str
    prometheus: dict[str, str]
    es: ExitStack
    tmp: Path
    started: float
    versions: dict[str, str] = field(default_factory=dict)
    service: Service | None = None

    def traceql(self, query: str) -> set[str]:
        status, body = http_json(f"{self.tempo}/api/search?" + urllib.parse.urlencode(
            {"q": query, "start": int(self.started) - 60, "end": int(time.time()) + 60, "limit": 1000}))
        assert status == 200, (query, body)
        return {t["traceID"].rjust(32, "0") for t in body.get("traces", [])}

    def trace(self, trace_id: str, api: str = "v2") -> tuple[int, Any]:
        path = f"/api/v2/traces/{trace_id}" if api == "v2" else f"/api/traces/{trace_id}"
        return http_json(self.tempo + path, timeout=10)

    def has_trace(self, trace_id: str) -> bool:
        """Tempo 3's v2 API answers 200 with an empty trace for an unknown id: look for spans."""
        status, body = self.trace(trace_id)
        return status == 200 and bool(_spans(body))

    def logql(self, query: str, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        status, body = http_json(f"{self.loki}/loki/api/v1/query_range?" + urllib.parse.urlencode({
            "query": query, "start": int((start or self.started - 60) * 1e9),
            "end": int((end or time.time() + 60) * 1e9), "limit": 5000, "direction": "forward"}))
        assert status == 200, (query, body)
        return body["data"]["result"]

    def promql(self, prom: str, expr: str) -> list[dict[str, Any]]:
        status, body = http_json(f"{self.prometheus[prom]}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert status == 200 and body["status"] == "success", (expr, body)
        return body["data"]["result"]


def _spans(trace_body: dict[str, Any]) -> list[dict[str, Any]]:
    trace = trace_body.get("trace", trace_body)
    return [s for b in trace.get("resourceSpans", trace.get("batches", []))
            for ss in b.get("scopeSpans", b.get("instrumentationLibrarySpans", [])) for s in ss["spans"]]


def _prometheus(es: ExitStack, tmp: Path, name: str, binary: str, app: str) -> str:
    port = free_port()
    home = tmp / name
    (home / "rules").mkdir(parents=True)
    for path in RULES_DIR.glob("*.yml"):
        shutil.copy(path, home / "rules" / path.name)
    cfg = prometheus_config(f"127.0.0.1:{port}", app, f"127.0.0.1:{free_port()}")
    (home / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    log = home / "prometheus.log"
    proc = start_process(es, [
        binary, f"--config.file={home / 'prometheus.yml'}", f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver",
        "--enable-feature=exemplar-storage", "--log.level=warn"], log)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: ready(f"{url}/-/ready", proc, log), timeout=60, interval=0.2, what=f"{name} ready")
    return url


def _start_service(es: ExitStack, home: Path, traces_endpoint: str, loki: str, port: int) -> Service:
    home.mkdir(parents=True, exist_ok=True)
    log = home / "service.log"
    proc = start_process(es, [sys.executable, "-m", "agent_obs.cli", "serve", "--host", "127.0.0.1",
                              "--port", str(port)], log, env=service_env(home, traces_endpoint, loki), cwd=home)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: ready(f"{url}/metrics", proc, log), timeout=120, interval=0.2, what="example service ready")
    return Service(url=url, logs=home / "logs.jsonl")


def _drive(service: Service, runs: int) -> None:
    """The demo's runs (approvals resumed, measurements recorded) against the served example."""
    import httpx

    from agent_obs_example.demo import _one_run

    with httpx.Client(base_url=service.url, timeout=60) as client:
        service.runs.extend(_one_run(client, index) for index in range(runs))
    assert any(r["outcome"].startswith("interrupted") for r in service.runs)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    from stack_helpers import require_binary

    prometheus2 = require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("servers")
    started = time.time()
    with ExitStack() as es:
        app_port = free_port()
        proms = {"prometheus2": _prometheus(es, tmp, "prometheus2", prometheus2, f"127.0.0.1:{app_port}")}
        prometheus3, _ = find_line_binary(CURRENT, "prometheus")
        if prometheus3:
            proms["prometheus3"] = _prometheus(es, tmp, "prometheus3", prometheus3, f"127.0.0.1:{app_port}")

        ports = {k: free_port() for k in ("http", "grpc", "otlp_grpc", "otlp_http", "memberlist")}
        (tmp / "tempo.yaml").write_text(yaml.safe_dump(tempo_config(
            tmp / "tempo", ports, [f"{u}/api/v1/write" for u in proms.values()])))
        tempo_log = tmp / "tempo.log"
        tempo = start_process(es, [TEMPO_BIN, f"-config.file={tmp / 'tempo.yaml'}"], tempo_log)
        tempo_url = f"http://127.0.0.1:{ports['http']}"

        loki_ports = {k: free_port() for k in ("http", "grpc", "memberlist")}
        (tmp / "loki.yaml").write_text(yaml.safe_dump(loki_config(
            tmp / "loki", loki_ports, f"http://127.0.0.1:{free_port()}")))
        loki_log = tmp / "loki.log"
        loki = start_process(es, [LOKI_BIN, f"-config.file={tmp / 'loki.yaml'}"], loki_log)
        loki_url = f"http://127.0.0.1:{loki_ports['http']}"

        wait_for(lambda: ready(f"{tempo_url}/ready", tempo, tempo_log), timeout=120, interval=0.5, what="tempo ready")
        wait_for(lambda: ready(f"{loki_url}/ready", loki, loki_log), timeout=120, interval=0.5, what="loki ready")
        found = Servers(tempo=tempo_url, tempo_otlp=f"127.0.0.1:{ports['otlp_grpc']}", loki=loki_url,
                        prometheus=proms, es=es, tmp=tmp, started=started)
        found.versions["tempo"] = http_json(f"{tempo_url}/api/status/buildinfo")[1]["version"]
        found.versions["loki"] = http_json(f"{loki_url}/loki/api/v1/status/buildinfo")[1]["version"]
        for name, url in proms.items():
            found.versions[name] = http_json(f"{url}/api/v1/status/buildinfo")[1]["data"]["version"]
        print(f"\nreal servers: {found.versions}")

        found.service = _start_service(es, tmp / "service", f"http://{found.tempo_otlp}", loki_url, app_port)
        _drive(found.service, RUNS)
        yield found


# --- tests ------------------------------------------------------------------------------------
def _run_trace_ids(service: Service, status: str | None = None) -> set[str]:
    return service.trace_ids(lambda r: r.get("event") == "agent.run.end"
                             and (status is None or r.get("status") == status))


def test_the_pinned_major_versions_run_the_projects_configs(servers: Servers):
    compose = yaml.safe_load((REPO / "docker-compose.observability.yml").read_text())["services"]
    for name, image in (("tempo", "tempo"), ("loki", "loki")):
        pinned = compose[image]["image"].rsplit(":", 1)[1]
        assert servers.versions[name].lstrip("v").split(".")[:2] == pinned.lstrip("v").split(".")[:2], \
            (name, servers.versions[name], pinned)
    if "prometheus3" in servers.versions:  # Prometheus: the pinned major (a 3.x, not the pinned minor)
        pinned = compose["prometheus"]["image"].rsplit(":", 1)[1]
        assert servers.versions["prometheus3"].split(".")[0] == pinned.lstrip("v").split(".")[0], pinned


def test_the_compose_health_checks_work_on_the_real_binaries(servers: Servers):
    """The images are distroless, so compose runs each binary's own `-health` check."""
    import subprocess

    compose = yaml.safe_load((REPO / "docker-compose.observability.yml").read_text())["services"]
    for name, binary, url in (("tempo", TEMPO_BIN, servers.tempo), ("loki", LOKI_BIN, servers.loki)):
        cmd = compose[name]["healthcheck"]["test"]
        assert cmd[0] == "CMD"
        compose_url = re.search(r"http://localhost:\d+", " ".join(cmd)).group(0)
        for target, ok in ((url, True), (f"http://127.0.0.1:{free_port()}", False)):
            mapped = [binary] + [a.replace(compose_url, target) for a in cmd[2:]]
            done = subprocess.run(mapped, capture_output=True, text=True, timeout=30)
            assert (done.returncode == 0) is ok, (name, target, done.stdout, done.stderr)


def test_every_run_is_found_by_trace_id(servers: Servers):
    ids = _run_trace_ids(servers.service)
    assert len(ids) >= RUNS

    def all_found() -> bool:
        return all("invoke_agent optimizer_agent" in {s["name"] for s in _spans(servers.trace(i)[1])} for i in ids)

    wait_for(all_found, timeout=60, interval=1, what="every run's trace in Tempo")
    for trace_id in ids:
        for api in ("v2", "v1"):
            status, body = servers.trace(trace_id, api)
            assert status == 200, (api, body)
            names = {s["name"] for s in _spans(body)}
            assert "invoke_agent optimizer_agent" in names, (api, sorted(names))


def test_traceql_finds_runs_by_node_operation_and_error_status(servers: Servers):
    service = servers.service
    interrupted = _run_trace_ids(service, "interrupted")
    errored = service.trace_ids(lambda r: r.get("level") == "ERROR")
    plain = _run_trace_ids(service, "ok") - service.trace_ids(lambda r: r.get("level") in ("WARNING", "ERROR"))
    assert interrupted and errored and plain
    by_node = wait_for(lambda: (found := servers.traceql('{ span.langgraph.node = "human_approval" }'))
                       >= interrupted and found, timeout=60, interval=1, what="TraceQL by langgraph.node")
    assert by_node <= _run_trace_ids(service)
    # a first run that recommends something asked the model (a resumed one only stores them)
    asked = (service.trace_ids(lambda r: r.get("event_type") == "recommendation_generated")
             & service.trace_ids(lambda r: r.get("event_type") == "optimization_start"))
    assert asked
    chats = wait_for(lambda: (found := servers.traceql('{ span.gen_ai.operation.name = "chat" }'))
                     >= asked and found, timeout=60, interval=1, what="TraceQL by gen_ai.operation.name")
    assert chats <= _run_trace_ids(service)
    failed = wait_for(lambda: (found := servers.traceql("{ status = error }")) >= errored and found,
                      timeout=60, interval=1, what="TraceQL by error status")
    assert not failed & plain


def test_traceql_metrics_are_served(servers: Servers):
    """What the old config's local-blocks processor served; Tempo 3's live store serves it."""
    expected = {"chat", "execute_tool", "invoke_agent"}

    def labels() -> set[str] | None:
        """The operations with spans so far; None until all three show (the live store fills
        as spans arrive, so an early answer may hold only spans without the attribute)."""
        now = int(time.time())
        status, body = http_json(f"{servers.tempo}/api/metrics/query_range?" + urllib.parse.urlencode({
            "q": f'{{ resource.service.name = "{SERVICE}" }} | rate() by (span.gen_ai.operation.name)',
            "start": now - 600, "end": now, "step": "15s"}))
        assert status == 200, body
        found = {lab["value"].get("stringValue") for s in body.get("series", []) for lab in s["labels"]
                 if any(float(v.get("value", 0)) > 0 for v in s.get("samples", []))}
        return found if expected <= found else None

    wait_for(labels, timeout=60, interval=1, what=f"TraceQL metrics series for {sorted(expected)}")


def test_a_runs_logs_are_found_by_trace_id_on_structured_metadata(servers: Servers):
    service = servers.service
    for trace_id in sorted(_run_trace_ids(service))[:4]:
        expected = sorted(r["message"] for r in service.log_records() if r.get("trace_id") == trace_id)

        def found() -> list[str] | None:
            result = servers.logql(f'{{service="{SERVICE}"}} | trace_id="{trace_id}"')
            lines = sorted(json.loads(v[1])["message"] for s in result for v in s["values"])
            return lines if len(lines) >= len(expected) else None

        assert wait_for(found, timeout=30, interval=0.5, what=f"logs of {trace_id} in Loki") == expected
    result = servers.logql(f'{{service="{SERVICE}"}} | trace_id="{"0" * 32}"')
    assert result == []


@pytest.mark.parametrize("prom", ["prometheus2", "prometheus3"])
def test_tempo_span_metrics_and_service_graph_reach_prometheus(servers: Servers, prom: str):
    _require(servers, prom)
    nodes = wait_for(lambda: {r["metric"].get("langgraph_node") for r in servers.promql(
        prom, f'sum by (langgraph_node) (traces_spanmetrics_calls_total{{service="{SERVICE}"}})')} - {None},
        timeout=90, interval=1, what="span metrics by langgraph_node")
    assert {"human_approval", "fetch_job"} <= nodes
    ops = {r["metric"]["gen_ai_operation_name"] for r in servers.promql(
        prom, f'sum by (gen_ai_operation_name) (traces_spanmetrics_calls_total{{service="{SERVICE}", gen_ai_operation_name!=""}})')}
    assert {"chat", "execute_tool", "invoke_agent"} <= ops
    models = servers.promql(prom, f'count by (gen_ai_request_model) (traces_spanmetrics_calls_total{{gen_ai_operation_name="chat"}})')
    assert models and all(r["metric"].get("gen_ai_request_model") for r in models)
    edges = wait_for(lambda: servers.promql(prom, f'traces_service_graph_request_total{{server="{SERVICE}"}}'),
                     timeout=90, interval=1, what="service graph edges")
    assert {e["metric"]["client"] for e in edges}
    status, body = http_json(f"{servers.prometheus[prom]}/api/v1/rules")
    rules = [r for g in body["data"]["groups"] for r in g["rules"]]
    assert rules and all(r["health"] != "err" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


def _exemplar_trace_ids(servers: Servers, prom: str, metric: str, label: str) -> set[str]:
    now = time.time()
    status, body = http_json(f"{servers.prometheus[prom]}/api/v1/query_exemplars?" + urllib.parse.urlencode(
        {"query": metric, "start": now - 900, "end": now + 60}))
    assert status == 200, body
    return {e["labels"][label] for s in body["data"] for e in s["exemplars"] if label in e["labels"]}


def _require(servers: Servers, prom: str) -> None:
    if prom not in servers.prometheus:
        pytest.skip(find_line_binary(CURRENT, "prometheus")[1])


@pytest.mark.parametrize("prom", ["prometheus2", "prometheus3"])
def test_metric_exemplars_resolve_to_traces_in_tempo(servers: Servers, prom: str):
    """Both kinds: Tempo's span metrics (remote-written) and the service's own (scraped)."""
    _require(servers, prom)
    ds = {d["uid"]: d for d in yaml.safe_load(
        (REPO / "grafana" / "provisioning" / "datasources" / "datasources.yaml").read_text())["datasources"]}
    (dest,) = ds["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    for metric in ("traces_spanmetrics_latency_bucket", "gen_ai_client_operation_duration_seconds_bucket"):
        ids = wait_for(lambda: _exemplar_trace_ids(servers, prom, metric, dest["name"]),
                       timeout=90, interval=1, what=f"exemplars on {metric}")
        for trace_id in sorted(ids)[:5]:
            assert servers.has_trace(trace_id), (metric, trace_id)


def _unescape(text: str) -> str:
    return text.replace("$$", "$")  # Grafana's provisioning writes a literal `$` as `$$`


def _interpolate(text: str, link: dict[str, Any], span: dict[str, str], trace_id: str, sep: str) -> str:
    """What Grafana makes of a link's query for a span: ``$__tags`` (the mapped tags the span
    has), ``${__span.tags["key"]}`` / ``${__span.tags.key}``, ``${__trace.traceId}``."""
    tags = sep.join(f'{t.get("value") or t["key"]}="{span[t["key"]]}"' for t in link.get("tags", []) if t["key"] in span)
    text = _unescape(text).replace("${__tags}", tags).replace("$__tags", tags)
    text = re.sub(r'\$\{__span\.tags\["([^"]+)"\]\}', lambda m: span[m.group(1)], text)
    text = re.sub(r"\$\{__span\.tags\.([\w]+)\}", lambda m: span[m.group(1)], text)
    text = text.replace("${__trace.traceId}", trace_id)
    assert "$" not in text, text
    return text


def _span_tags(span: dict[str, Any]) -> dict[str, str]:
    tags = {a["key"]: str(next(iter(a["value"].values()))) for a in span.get("attributes", [])}
    tags["service.name"] = SERVICE  # a resource attribute, among the span's tags in Grafana
    return tags


@pytest.mark.parametrize("prom", ["prometheus2", "prometheus3"])
def test_the_grafana_datasource_links_run_against_the_real_apis(servers: Servers, prom: str):
    _require(servers, prom)
    ds = {d["uid"]: d for d in yaml.safe_load(
        (REPO / "grafana" / "provisioning" / "datasources" / "datasources.yaml").read_text())["datasources"]}
    tempo = ds["tempo"]["jsonData"]
    trace_id = next(r["trace_id"] for r in servers.service.runs if r["outcome"] == "ok")
    spans = _spans(servers.trace(trace_id)[1])
    clicked = [next(s for s in spans if s["name"].startswith(prefix)) for prefix in ("chat ", "invoke_agent ")]

    for span in clicked:
        tags = _span_tags(span)
        # traces -> logs: the custom LogQL query
        to_logs = tempo["tracesToLogsV2"]
        assert to_logs["datasourceUid"] == "loki" and to_logs["customQuery"]
        query = _interpolate(to_logs["query"], to_logs, tags, trace_id, ", ")
        # the Loki sink ships in batches: the run's lines may still be on their way
        lines = wait_for(lambda: [(s["stream"], v) for s in servers.logql(query) for v in s["values"]],
                         timeout=60, interval=1, what=f"log lines for {query}")
        assert all(json.loads(v[1])["trace_id"] == trace_id for _, v in lines)

        # traces -> metrics: every query
        to_metrics = tempo["tracesToMetrics"]
        assert to_metrics["datasourceUid"] == "prometheus"
        for item in to_metrics["queries"]:
            expr = _interpolate(item["query"], to_metrics, tags, trace_id, ",")
            def finite() -> list | None:
                result = servers.promql(prom, expr)
                return result if any(math.isfinite(float(r["value"][1])) for r in result) else None

            wait_for(finite, timeout=60, interval=1, what=f"{item['name']} for {span['name']}: {expr}")

    # Loki derived fields -> trace: the structured-metadata label and the in-line regex.
    derived = ds["loki"]["jsonData"]["derivedFields"]
    label_field = next(f for f in derived if f["matcherType"] == "label")
    regex_field = next(f for f in derived if f["matcherType"] == "regex")
    entries = servers.logql(f'{{service="{SERVICE}"}} | trace_id="{trace_id}"')
    assert entries
    for stream in entries:
        labels = stream["stream"]  # Loki returns structured metadata among the entry's labels
        (key,) = [k for k in labels if re.fullmatch(label_field["matcherRegex"], k)]
        for _, line in stream["values"]:
            from_line = re.search(regex_field["matcherRegex"], line).group(1)
            for field_, value in ((label_field, labels[key]), (regex_field, from_line)):
                target = _unescape(field_["url"]).replace("${__value.raw}", value)
                assert field_["datasourceUid"] == "tempo" and servers.has_trace(target)


# --- the Collector ------------------------------------------------------------------------------
@pytest.mark.skipif(not OTELCOL_BIN, reason="no Collector given (AGENT_OBS_OTELCOL_BIN)")
def test_the_collector_tiers_keep_errored_and_interrupted_runs_and_sample_the_rest(servers: Servers):
    tmp = servers.tmp / "collector"
    tmp.mkdir()
    ports = {k: free_port() for k in ("grpc", "http", "health")}
    (tmp / "otel-collector.yaml").write_text(yaml.safe_dump(collector_config(ports, servers.tempo_otlp)))
    lb_ports = {k: free_port() for k in ("grpc", "http", "health")}
    (tmp / "otel-lb.yaml").write_text(yaml.safe_dump(balancer_config(lb_ports, f"127.0.0.1:{ports['grpc']}")))
    for name, health in (("otel-collector", ports["health"]), ("otel-lb", lb_ports["health"])):
        log = tmp / f"{name}.log"
        proc = start_process(servers.es, [OTELCOL_BIN, f"--config=file:{tmp / f'{name}.yaml'}"], log)
        wait_for(lambda: ready(f"http://127.0.0.1:{health}/", proc, log), timeout=60, interval=0.2,
                 what=f"{name} healthy")
    # service -> load-balancing tier -> sampling tier -> Tempo, as in the compose profile
    service = _start_service(servers.es, tmp / "service", f"http://127.0.0.1:{lb_ports['grpc']}", servers.loki,
                             free_port())
    _drive(service, 24)
    every = service.trace_ids()
    must = _run_trace_ids(service, "interrupted") | service.trace_ids(lambda r: r.get("level") == "ERROR")
    plain = every - must - service.trace_ids(lambda r: r.get("level") == "WARNING")
    assert must and len(plain) >= 20

    def kept() -> set[str] | None:
        found = {i for i in every if servers.has_trace(i)}
        return found if must <= found else None

    wait_for(kept, timeout=90, interval=2, what="errored and interrupted runs in Tempo via the Collector")
    sampled = wait_for(lambda: (kept() or set()) & plain, timeout=30, interval=2, what="a share of the plain traces")
    assert sampled and sampled != plain, (len(sampled), len(plain))
