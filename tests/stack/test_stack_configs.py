"""Tempo, Loki, Alertmanager, Grafana provisioning and the compose file.

Tempo, Loki and Grafana cannot be installed here (no Debian packages; Docker cannot run), so
their files are checked structurally against what those servers require: the keys, ports,
storage and feature switches the rest of the stack relies on. Alertmanager's file is checked
by the real `amtool check-config` and routed by `amtool config routes test`, both on Debian
stable's amtool 0.25 (the floor) and a current one (the ``amtool`` fixture).
"""

from __future__ import annotations

import re

import yaml

from stack_helpers import REPO, run

COMPOSE = REPO / "docker-compose.observability.yml"


def _yaml(path: str):
    return yaml.safe_load((REPO / path).read_text(encoding="utf-8"))


def test_amtool_accepts_alertmanager_config(amtool: str):
    done = run([amtool, "check-config", str(REPO / "alertmanager" / "alertmanager.yml")])
    assert done.returncode == 0, done.stdout + done.stderr


def test_alertmanager_routes_by_severity_and_inhibits_warnings_per_service():
    cfg = _yaml("alertmanager/alertmanager.yml")
    route = cfg["route"]
    assert "service" in route["group_by"] and "alertname" in route["group_by"]
    routed = {m for r in route["routes"] for m in r["matchers"]}
    assert routed == {'severity="critical"', 'severity="warning"', 'severity="info"'}
    receivers = {r["name"]: r for r in cfg["receivers"]}
    for r in [route, *route["routes"]]:
        hooks = receivers[r["receiver"]]["webhook_configs"]
        assert hooks and all(h["send_resolved"] for h in hooks)
    (inhibit,) = cfg["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity="critical"']
    assert inhibit["target_matchers"] == ['severity="warning"']
    assert inhibit["equal"] == ["service"]
    text = (REPO / "alertmanager" / "alertmanager.yml").read_text()
    assert "# slack_configs:" in text and "# email_configs:" in text


def test_prometheus_scrapes_the_service_with_a_service_label_and_itself():
    cfg = _yaml("prometheus/prometheus.yml")
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert "prometheus" in jobs
    service_jobs = [j for j in jobs.values()
                    if any("service" in sc.get("labels", {}) for sc in j["static_configs"])]
    assert service_jobs and service_jobs[0]["metrics_path"] == "/metrics"
    assert cfg["rule_files"] == ["rules/*.yml"]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_tempo_receives_otlp_stores_locally_and_generates_metrics():
    cfg = _yaml("tempo/tempo.yaml")
    protocols = cfg["distributor"]["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert cfg["server"]["http_listen_port"] == 3200
    assert cfg["storage"]["trace"]["backend"] == "local"
    assert cfg["storage"]["trace"]["local"]["path"] and cfg["storage"]["trace"]["wal"]["path"]
    generator = cfg["metrics_generator"]
    (remote,) = generator["storage"]["remote_write"]
    assert remote["url"] == "http://prometheus:9090/api/v1/write" and remote["send_exemplars"]
    overrides = cfg["overrides"]["defaults"]["metrics_generator"]
    assert {"service-graphs", "span-metrics"} <= set(overrides["processors"])
    assert overrides["trace_id_label_name"] == "trace_id"  # what Grafana's exemplar link reads
    assert "search" in cfg["query_frontend"]


def test_tempo_config_is_tempo_3_shaped():
    """Tempo 3 refuses the 2.x blocks (`field ingester not found in type app.Config`)."""
    cfg = _yaml("tempo/tempo.yaml")
    assert not {"ingester", "compactor", "ingester_client", "metrics_generator_client"} & set(cfg)
    assert "traces_storage" not in cfg["metrics_generator"]
    assert "local-blocks" not in cfg["overrides"]["defaults"]["metrics_generator"]["processors"]
    assert cfg["backend_worker"]["compaction"]["block_retention"] == "168h"
    for path in (cfg["live_store"]["wal"]["path"], cfg["live_store"]["shutdown_marker_dir"],
                 cfg["storage"]["trace"]["wal"]["path"], cfg["storage"]["trace"]["local"]["path"],
                 cfg["metrics_generator"]["storage"]["path"]):
        assert path.startswith("/var/tempo/"), path  # the tempo-data volume


def test_loki_keeps_structured_metadata_on_a_schema_that_supports_it():
    cfg = _yaml("loki/loki-config.yaml")
    assert cfg["limits_config"]["allow_structured_metadata"] is True
    (schema,) = cfg["schema_config"]["configs"]
    assert schema["store"] == "tsdb" and schema["schema"] == "v13"  # required by structured metadata
    assert cfg["server"]["http_listen_port"] == 3100
    assert cfg["auth_enabled"] is False


def test_grafana_datasources_link_metrics_traces_and_logs():
    cfg = _yaml("grafana/provisioning/datasources/datasources.yaml")
    ds = {d["uid"]: d for d in cfg["datasources"]}
    assert {"prometheus", "tempo", "loki"} <= set(ds)
    prom = ds["prometheus"]["jsonData"]
    assert prom["exemplarTraceIdDestinations"] == [{"name": "trace_id", "datasourceUid": "tempo"}]
    tempo = ds["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert 'trace_id="$${__trace.traceId}"' in tempo["tracesToLogsV2"]["query"]
    assert tempo["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert tempo["serviceMap"]["datasourceUid"] == "prometheus"
    derived = ds["loki"]["jsonData"]["derivedFields"]
    assert any(f["matcherType"] == "label" and f["matcherRegex"] == "trace_id"
               and f["datasourceUid"] == "tempo" for f in derived)
    line_field = next(f for f in derived if f["matcherType"] == "regex")
    sample = '{"event": "agent.run.end", "trace_id": "' + "ab" * 16 + '"}'
    assert re.search(line_field["matcherRegex"], sample).group(1) == "ab" * 16
    providers = _yaml("grafana/provisioning/dashboards/dashboards.yaml")["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_compose_pins_images_has_healthchecks_and_mounts_files_that_exist():
    cfg = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = cfg["services"]
    assert {"tempo", "loki", "prometheus", "alertmanager", "grafana", "optimizer"} <= set(services)
    for name, svc in services.items():
        image = svc["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: unpinned image {image}"
        assert svc["healthcheck"]["test"], f"{name}: no health check"
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: mounts missing {source}"
            else:
                assert source in cfg["volumes"], f"{name}: undeclared volume {source}"
        for dep in svc.get("depends_on", {}):
            assert dep in services


def test_compose_pins_the_proven_majors_and_health_checks_distroless_images():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    tags = {name: svc["image"].rsplit(":", 1)[1] for name, svc in services.items()}
    assert tags["tempo"].startswith("3.0.") and tags["loki"].startswith("3.7.")
    assert tags["prometheus"].startswith("v3.") and tags["grafana"].startswith("12.")
    # Tempo 3 and Loki >= 3.5.8 images have no shell or wget: each binary checks its own /ready.
    assert services["tempo"]["healthcheck"]["test"][:3] == ["CMD", "/tempo", "-health"]
    assert services["loki"]["healthcheck"]["test"][:3] == ["CMD", "/usr/bin/loki", "-health"]


def test_compose_grafana_has_no_default_credentials_or_anonymous_access():
    """Regression for seed defect 18 (admin/admin, anonymous access on)."""
    env = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_SECURITY_ADMIN_USER"].startswith("${GRAFANA_ADMIN_USER:?")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_compose_wires_the_service_to_tempo_loki_and_prometheus():
    cfg = yaml.safe_load(COMPOSE.read_text())
    services = cfg["services"]
    env = services["optimizer"]["environment"]
    assert env["AGENT_OBS_TEMPO_ENDPOINT"] == "${OPTIMIZER_OTLP_ENDPOINT:-http://tempo:4317}"
    assert env["AGENT_OBS_LOKI_ENDPOINT"] == "http://loki:3100"
    prom_cfg = _yaml("prometheus/prometheus.yml")
    targets = [t for j in prom_cfg["scrape_configs"] for sc in j["static_configs"] for t in sc["targets"]]
    assert "optimizer:8000" in targets
    service_label = next(sc["labels"]["service"] for j in prom_cfg["scrape_configs"]
                         for sc in j["static_configs"] if "labels" in sc)
    assert env["AGENT_OBS_SERVICE_NAME"] == service_label  # Loki/Tempo and Prometheus agree
    flags = services["prometheus"]["command"]
    assert "--enable-feature=exemplar-storage" in flags
    assert "--web.enable-remote-write-receiver" in flags


def test_amtool_routes_each_severity_to_its_receiver(amtool: str):
    config = str(REPO / "alertmanager" / "alertmanager.yml")
    expected = {"severity=critical": "webhook-critical", "severity=warning": "webhook-warning",
                "severity=info": "webhook-info", "team=unknown": "webhook-default"}
    for labels, receiver in expected.items():
        done = run([amtool, "config", "routes", "test", f"--config.file={config}", labels, "service=svc"])
        assert done.stdout.strip() == receiver, (labels, done.stdout, done.stderr)
