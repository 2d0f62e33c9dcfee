"""The guide's Python examples run as written.

Blocks marked ``<!-- doc-test: NAME -->`` in docs/getting-started.md are executed in a fresh
interpreter in a temporary directory (no AGENT_OBS_* or OTEL_* variables, so telemetry goes to
the default files). The only fake is the LLM: langchain-core's GenericFakeChatModel, which the
quickstart itself uses and which the service example's ``build_graph()`` is given here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from docs_helpers import DOCS, fenced_blocks

GUIDE = DOCS / "getting-started.md"

BUILD_GRAPH = textwrap.dedent('''
    def build_graph():
        from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
        from langgraph.graph import START, MessagesState, StateGraph

        model = GenericFakeChatModel(messages=iter(["pong"]))
        builder = StateGraph(MessagesState)
        builder.add_node("answer", lambda state: {"messages": [model.invoke(state["messages"])]})
        builder.add_edge(START, "answer")
        return builder.compile(name="support_agent")
''')

CALL_THE_SERVICE = textwrap.dedent('''
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        response = client.post("/chat/thread-7", params={"question": "ping"})
        assert response.status_code == 200, response.text
        print("ANSWER", response.json()["answer"])
        print(client.get("/metrics").text)
''')


def marked_block(name: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    marker = text.index(f"<!-- doc-test: {name} -->")
    line = text.count("\n", 0, marker) + 1
    following = [(n, lang, body) for n, lang, body in fenced_blocks(text) if n > line]
    n, lang, body = following[0]
    assert lang == "python" and n == line + 1, f"the doc-test marker {name} must sit right above a python block"
    return body


def run_python(source: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OBS_", "OTEL_"))}
    return subprocess.run([sys.executable, "-c", source], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_quickstart_prints_the_span_tree_and_metrics(tmp_path):
    done = run_python(marked_block("quickstart"), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for name in ('"invoke_agent hello_agent"', '"node chat"', '"gen_ai.conversation.id": "thread-1"'):
        assert name in out, name
    assert re.search(r'"name": "chat \S+"', out)
    assert 'agent_obs_runs_total{agent="hello_agent",status="ok"} 1.0' in out


def test_service_example_makes_one_trace_per_request(tmp_path):
    done = run_python(BUILD_GRAPH + marked_block("service") + CALL_THE_SERVICE, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ANSWER pong" in done.stdout
    assert 'agent_obs_runs_total{agent="support_agent",status="ok"} 1.0' in done.stdout
    assert "http_server_requests_total" in done.stdout and "db_query_duration_seconds" in done.stdout

    spans = []
    for line in (tmp_path / "telemetry" / "traces.jsonl").read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                spans += ss["spans"]
    by_name = {s["name"]: s for s in spans}
    for name in ("POST /chat/{thread_id}", "load_history", "invoke_agent support_agent", "node answer"):
        assert name in by_name, sorted(by_name)
    trace_ids = {by_name[n]["traceId"] for n in ("POST /chat/{thread_id}", "load_history", "invoke_agent support_agent")}
    assert len(trace_ids) == 1, "the request, the traced function and the agent run must share one trace"
    logs = [json.loads(x) for x in (tmp_path / "telemetry" / "logs.jsonl").read_text().splitlines()]
    run_start = next(r for r in logs if r.get("event") == "agent.run.start")
    assert run_start["trace_id"] == by_name["invoke_agent support_agent"]["traceId"].lower()


@pytest.mark.parametrize("name", ["quickstart", "service"])
def test_marked_blocks_exist(name):
    assert marked_block(name)
