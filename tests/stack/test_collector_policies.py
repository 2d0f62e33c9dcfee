"""The shipped Collector configs (collector/) against what the demo's spans really carry.

The demo runs for real (``agent-obs demo``, its trace and log files); the run outcomes in its
log lines are the ground truth, and each tail-sampling policy is read against the spans of the
same traces (tests/stack/tail_sampling.py). The Collector itself runs only where a binary is
given (tests/stack/test_stack_servers.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from agent_obs import semconv as sc
from stack_helpers import REPO
from tail_sampling import Trace, kept_by, load_traces, matches

SAMPLER = REPO / "collector" / "otel-collector.yaml"
BALANCER = REPO / "collector" / "otel-collector-loadbalancer.yaml"


def _policies() -> list[dict]:
    return yaml.safe_load(SAMPLER.read_text(encoding="utf-8"))["processors"]["tail_sampling"]["policies"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Trace], list[dict]]:
    out = tmp_path_factory.mktemp("collector-demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OBS_", "OTEL_"))}
    done = subprocess.run([sys.executable, "-m", "agent_obs.cli", "demo", "--runs", "8", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    logs = [json.loads(line) for line in (out / "logs.jsonl").read_text().splitlines()]
    return load_traces(out / "traces.jsonl"), logs


def _trace_ids(logs: list[dict], pred) -> set[str]:
    return {r["trace_id"] for r in logs if r.get("trace_id") and pred(r)}


def test_the_sampler_pipeline_samples_after_limiting_memory_and_before_batching():
    cfg = yaml.safe_load(SAMPLER.read_text(encoding="utf-8"))
    pipeline = cfg["service"]["pipelines"]["traces"]
    assert pipeline["processors"] == ["memory_limiter", "tail_sampling", "batch"]
    assert pipeline["exporters"] == ["otlp/tempo"]
    assert cfg["exporters"]["otlp/tempo"]["endpoint"] == "tempo:4317"
    assert {p["name"]: p["type"] for p in _policies()} == {
        "keep-errors": "status_code", "keep-slow-runs": "latency",
        "keep-interrupted-runs": "boolean_attribute", "keep-some-of-the-rest": "probabilistic"}
    interrupted = next(p for p in _policies() if p["type"] == "boolean_attribute")["boolean_attribute"]
    assert interrupted == {"key": sc.LANGGRAPH_INTERRUPTED, "value": True}


def test_the_balancer_routes_whole_traces_to_the_samplers():
    cfg = yaml.safe_load(BALANCER.read_text(encoding="utf-8"))
    lb = cfg["exporters"]["loadbalancing"]
    assert lb["routing_key"] == "traceID"
    assert lb["resolver"]["static"]["hostnames"] == ["otel-sampler:4317"]
    assert cfg["service"]["pipelines"]["traces"]["exporters"] == ["loadbalancing"]
    assert "tail_sampling" not in cfg.get("processors", {})


def test_interrupted_runs_carry_the_boolean_the_policy_reads(demo):
    traces, logs = demo
    interrupted = _trace_ids(logs, lambda r: r.get("event") == "agent.run.end" and r.get("status") == "interrupted")
    assert interrupted, "the demo had no interrupted run"
    for trace_id in interrupted:
        assert "keep-interrupted-runs" in kept_by(_policies(), traces[trace_id]), trace_id


def test_errored_nodes_tools_and_runs_are_visible_to_the_status_code_policy(demo):
    traces, logs = demo
    errored = _trace_ids(logs, lambda r: r.get("level") == "ERROR"
                         or (r.get("event") == "agent.run.end" and r.get("status") == "error"))
    assert errored, "the demo had no errored node, tool or run"
    for trace_id in errored:
        assert "keep-errors" in kept_by(_policies(), traces[trace_id]), trace_id


def test_plain_runs_are_left_to_the_probabilistic_share(demo):
    traces, logs = demo
    plain = (_trace_ids(logs, lambda r: r.get("event") == "agent.run.end" and r.get("status") == "ok")
             - _trace_ids(logs, lambda r: r.get("level") in ("WARNING", "ERROR")))
    assert plain, "the demo had no plain run"
    for trace_id in plain:
        assert kept_by(_policies(), traces[trace_id]) == set(), trace_id


def test_the_boolean_policy_ignores_a_string_true():
    """The reading in tail_sampling.py follows the Collector: a string "true" is not a boolean."""
    policy = next(p for p in _policies() if p["type"] == "boolean_attribute")
    span = {"startTimeUnixNano": "1", "endTimeUnixNano": "2",
            "attributes": [{"key": sc.LANGGRAPH_INTERRUPTED, "value": {"stringValue": "true"}}]}
    assert not matches(policy, Trace("t", [span], [{"attributes": []}]))
    span["attributes"][0]["value"] = {"boolValue": True}
    assert matches(policy, Trace("t", [span], [{"attributes": []}]))


def test_compose_offers_the_collector_tiers_as_an_optional_profile():
    services = yaml.safe_load((REPO / "docker-compose.observability.yml").read_text())["services"]
    for name, config in (("otel-sampler", SAMPLER), ("otel-lb", BALANCER)):
        svc = services[name]
        assert svc["profiles"] == ["collector"]
        mounted = {v.split(":")[0] for v in svc["volumes"]}
        assert f"./{config.relative_to(REPO)}" in mounted
    assert "4317" in " ".join(services["otel-lb"].get("expose", []) + services["otel-lb"].get("ports", []))


def test_the_guide_shows_the_shipped_files_not_a_copy():
    guide = (REPO / "docs" / "running-the-stack.md").read_text(encoding="utf-8")
    assert "collector/otel-collector.yaml" in guide and "collector/otel-collector-loadbalancer.yaml" in guide
    assert "tail_sampling:\n    decision_wait" not in guide  # the snippet nobody ran is gone
