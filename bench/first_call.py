#!/usr/bin/env python3
"""The first LLM call of a fresh process, when the model reports no token usage.

Why: agent_obs counts such calls with a tiktoken vocabulary, and loading one takes from a few
hundred milliseconds to seconds. Before issue 14 the first call loaded it inside the
``on_llm_end`` callback, and the load was recorded as the model's latency (chat span,
``gen_ai_client_operation_duration_seconds``) and added to the request. This measures, in a
new interpreter each time, an instant fake model's first call: the chat span's duration, the
metric's sum, the whole ``invoke``, and how tokens were counted. With ``--before DIR`` (a
checkout of an older agent_obs, e.g. ``git archive <rev> agent_obs | tar -x -C DIR``) the
same child runs against that code too, alternating A B A B.

    .venv/bin/python bench/first_call.py [--repeat 5] [--before DIR] [--md PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in a new interpreter. A prelude may define ``settle()`` (what to do between the two
# calls) before it: tests/agent/test_own_time.py gates the vocabulary load that way.
CHILD = r"""
import json, threading, time
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langgraph.graph import START, MessagesState, StateGraph
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from agent_obs import AgentObserver

if "settle" not in globals():
    def settle():
        time.sleep(3)  # let a background vocabulary load finish before the second call

def loaders():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("agent-obs-tokenizer"))

def total(name):
    return sum(s.value for m in registry.collect() for s in m.samples if s.name == name)

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
registry = CollectorRegistry()
observer = AgentObserver(tracer_provider=provider, registry=registry, logs=False)
model = FakeListChatModel(responses=["the answer is forty-two"])  # instant, reports no usage

def agent(state):
    return {"messages": [model.invoke(state["messages"])]}

graph = StateGraph(MessagesState)
graph.add_node("agent", agent)
graph.add_edge(START, "agent")
app = graph.compile(name="first")
out = {"loaders_before": loaders()}
for label in ("first", "second"):
    exporter.clear()
    start = time.perf_counter()
    app.invoke({"messages": [("user", "what is the answer?")]}, config={"callbacks": [observer]})
    wall = time.perf_counter() - start
    chat = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")][0]
    out[label] = {"invoke_s": wall, "chat_span_s": (chat.end_time - chat.start_time) / 1e9,
                  "input_tokens": chat.attributes.get("gen_ai.usage.input_tokens"),
                  "output_tokens": chat.attributes.get("gen_ai.usage.output_tokens"),
                  "estimated": chat.attributes.get("agent_obs.usage.estimated"),
                  "estimator": chat.attributes.get("agent_obs.usage.estimator", "tiktoken")}
    if label == "first":
        out["loaders_after"] = loaders()
        out["metric_count"] = total("gen_ai_client_operation_duration_seconds_count")
        out["metric_sum_s"] = total("gen_ai_client_operation_duration_seconds_sum")
        out["token_observations"] = total("gen_ai_client_token_usage_count")
        settle()
print(json.dumps(out))
"""


def run_child(code_dir: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = code_dir + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=code_dir, env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per code tree")
    parser.add_argument("--before", help="an older agent_obs source tree to compare with")
    parser.add_argument("--md", help="also write the table as markdown to this path")
    args = parser.parse_args(argv)
    trees = [("before", os.path.abspath(args.before))] if args.before else []
    trees.append(("now", ROOT))
    results: dict[str, list[dict]] = {name: [] for name, _ in trees}
    for _ in range(args.repeat):
        for name, path in trees:
            results[name].append(run_child(path))
    lines = ["| code | first chat span (ms) | first metric sum (ms) | first invoke (ms) | second invoke (ms) | "
             "first call counted with | second call counted with | tokens in/out (first) |", "|---|---|---|---|---|---|---|---|"]
    for name, runs in results.items():
        def med(key: str, sub: str | None = "first") -> str:
            values = [(r[sub][key] if sub else r[key]) * 1000 for r in runs]
            return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"

        first = runs[0]["first"]
        lines.append(f"| {name} | {med('chat_span_s')} | {med('metric_sum_s', None)} | {med('invoke_s')} | "
                     f"{med('invoke_s', 'second')} | {first['estimator']} | {runs[0]['second']['estimator']} | "
                     f"{first['input_tokens']}/{first['output_tokens']} |")
    table = "\n".join(lines)
    print(f"median (min-max) over {args.repeat} fresh processes per code tree\n")
    print(table)
    if args.md:
        with open(args.md, "w", encoding="utf-8") as handle:
            handle.write(table + "\n")


if __name__ == "__main__":
    main()
