"""The dashboard's per-agent views on a real supervisor's metrics, evaluated by a real Prometheus.

A langgraph-supervisor team (``team``: the ``supervisor`` hands off to ``math_agent``, whose
react agent calls ``add`` and a failing ``divide`` handled by its ``ToolNode``) runs under an
AgentObserver whose registry is served on an ephemeral port and scraped every second by
Debian's Prometheus. The "Per agent" row's queries and the ``$agent`` variable, exactly as the
committed dashboard has them (variables as Grafana's "All"), must split cost, tokens, tool
errors, latency and handoffs by the worker agents, and a handoff must leave no interrupt.
"""

from __future__ import annotations

import sys
import urllib.parse
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from stack_helpers import (
    free_port,
    http_json,
    iter_panels,
    load_dashboards,
    ready,
    require_binary,
    start_process,
    substitute,
    target_query,
    variable_values,
    wait_for,
)

_AGENT_TESTS = Path(__file__).resolve().parents[1] / "agent"
if str(_AGENT_TESTS) not in sys.path:
    sys.path.insert(0, str(_AGENT_TESTS))

from graphs import ScriptedChatModel, tool_call, user  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SERVICE = "team-svc"


def _team() -> Any:
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.prebuilt import ToolNode
    from langgraph_supervisor import create_supervisor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @tool
    def divide(a: int, b: int) -> float:
        """Divide a by b."""
        return a / b

    math_model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[tool_call("add", {"a": 1, "b": 2}, "c1")]),
        AIMessage(content="", tool_calls=[tool_call("divide", {"a": 1, "b": 0}, "c2")]),
        AIMessage(content="3, and 1/0 has no answer")], by_conversation=False, id_prefix="math-")
    boss_model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[tool_call("transfer_to_math_agent", {}, "h1")]),
        AIMessage(content="done")], by_conversation=False, id_prefix="boss-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        math = create_react_agent(math_model, ToolNode([add, divide], handle_tool_errors=True), name="math_agent")
        return create_supervisor([math], model=boss_model, supervisor_name="supervisor").compile(name="team")


def _query(prom_url: str, expr: str) -> list[dict[str, Any]]:
    status, body = http_json(f"{prom_url}/api/v1/query?query={urllib.parse.quote(expr)}")
    assert status == 200 and body["status"] == "success", (expr, body)
    return body["data"]["result"]


@pytest.fixture(scope="module")
def scraped_team(tmp_path_factory: pytest.TempPathFactory):
    """Prometheus URL after 2 + 2 supervisor runs, each batch seen by a scrape."""
    from prometheus_client import CollectorRegistry, start_http_server

    from agent_obs import AgentObserver
    from opentelemetry.sdk.trace import TracerProvider

    prometheus = require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("per-agent")
    registry = CollectorRegistry()
    observer = AgentObserver(tracer_provider=TracerProvider(), registry=registry, logs=False)
    with ExitStack() as es:
        server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
        es.callback(thread.join, 5)
        es.callback(server.server_close)
        es.callback(server.shutdown)
        prom_port = free_port()
        (tmp / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "team", "static_configs": [{
                "targets": [f"127.0.0.1:{server.server_port}"], "labels": {"service": SERVICE}}]}]}))
        log = tmp / "prometheus.log"
        prom = start_process(es, [prometheus, f"--config.file={tmp / 'prometheus.yml'}",
                                  f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}",
                                  "--log.level=warn"], log)
        prom_url = f"http://127.0.0.1:{prom_port}"
        wait_for(lambda: ready(f"{prom_url}/-/ready", prom, log), timeout=30, interval=0.1, what="prometheus ready")
        team = _team()
        runs = f'agent_obs_runs_total{{service="{SERVICE}", agent="team", status="ok"}}'
        for total in (2, 4):  # the second batch gives every series an increase to rate over
            for _ in range(2):
                team.invoke(user("1+2 and 1/0?"), config={"callbacks": [observer]})
            wait_for(lambda: [r for r in _query(prom_url, runs) if float(r["value"][1]) == total],
                     timeout=30, interval=0.2, what=f"a scrape with {total} runs")
        yield prom_url


def _per_agent_panels() -> dict[str, str]:
    dashboard = load_dashboards()["llm_agent.json"]
    values = variable_values(dashboard)
    panels, in_row = {}, False
    for panel in iter_panels(dashboard):
        if panel["type"] == "row":
            in_row = panel["title"].startswith("Per agent")
            continue
        if in_row:
            [target] = panel["targets"]
            panels[panel["title"]] = substitute(target_query(target), values)
    return panels


def test_the_per_agent_row_splits_by_worker_agent(scraped_team: str):
    panels = _per_agent_panels()
    assert set(panels) == {"Cost per hour by agent", "Tokens per second by agent", "Tool error ratio by agent",
                           "Agent latency P95 by agent", "Handoffs"}

    def by(title: str, label: str) -> dict[str, float]:
        return {r["metric"][label]: float(r["value"][1]) for r in _query(scraped_team, panels[title])}

    cost = by("Cost per hour by agent", "agent")
    assert set(cost) == {"supervisor", "math_agent"} and all(v > 0 for v in cost.values())
    assert cost["math_agent"] == pytest.approx(1.5 * cost["supervisor"])  # 3 LLM calls per run against 2

    tokens = {(r["metric"]["agent"], r["metric"]["gen_ai_token_type"]): float(r["value"][1])
              for r in _query(scraped_team, panels["Tokens per second by agent"]) if float(r["value"][1]) > 0}
    assert set(tokens) == {(a, t) for a in ("supervisor", "math_agent") for t in ("input", "output")}

    errors = by("Tool error ratio by agent", "gen_ai_agent_name")
    assert errors == pytest.approx({"supervisor": 0.0, "math_agent": 0.5})  # divide failed, add did not

    latency = by("Agent latency P95 by agent", "gen_ai_agent_name")
    assert set(latency) == {"team", "supervisor", "math_agent"}

    [handoffs] = _query(scraped_team, panels["Handoffs"])
    assert float(handoffs["value"][1]) > 0


def test_the_agent_variable_lists_the_sub_agents(scraped_team: str):
    dashboard = load_dashboards()["llm_agent.json"]
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "agent"]
    definition = substitute(variable["definition"], variable_values(dashboard))
    series = definition[len("label_values("):definition.rindex(",")]
    status, body = http_json(f"{scraped_team}/api/v1/label/agent/values?match[]={urllib.parse.quote(series)}")
    assert status == 200
    assert set(body["data"]) == {"team", "supervisor", "math_agent"}


def test_handoffs_leave_no_interrupt_and_no_interrupted_run(scraped_team: str):
    interrupts = _query(scraped_team, f'sum(agent_obs_interrupts_total{{service="{SERVICE}"}})')
    assert not interrupts or float(interrupts[0]["value"][1]) == 0
    assert _query(scraped_team, f'agent_obs_runs_total{{service="{SERVICE}", status="interrupted"}}') == []
    handoffs = _query(scraped_team, f'agent_obs_handoffs_total{{service="{SERVICE}"}}')
    assert {(r["metric"]["agent"], r["metric"]["destination"], r["value"][1]) for r in handoffs} == {
        ("supervisor", "math_agent", "4")}
