"""Smoke test of the benchmark scripts: a tiny run of bench/overhead.py and the rig factories.

The benchmarks themselves are not part of the test suite (they take minutes and their
numbers depend on the machine); this proves that they still run against the current
agent_obs, that every configuration produces the telemetry it claims, and that nothing is
left open after broken-off streams and cancelled tasks.
"""

from __future__ import annotations

import os
import sys

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

import bench_agent_obs
import overhead
import workload

# One invoke of the workload: 1 agent + 11 node + 6 chat + 7 tool spans; 31 LangChain runs.
AGENT_OBS_SPANS = 25
LANGCHAIN_RUNS = 31
# One invoke of the supervisor team: 1 agent + 19 node (the supervisor's twice with its agent and
# tools nodes, the worker's with its 11) + 8 chat + 8 tool spans (7 tools, 1 handoff).
SUPERVISOR_SPANS = 36


def test_overhead_script_runs_every_phase_and_counts_what_each_config_exports():
    args = overhead.parse_args([
        "--configs", "baseline,noop,minimal,full,content,sampled",
        "--invoke-rounds", "2", "--block", "2", "--warmup", "1", "--stream-rounds", "1",
        "--token-bench", "50", "--mem-invokes", "40", "--mem-warmup", "5", "--abandoned", "6",
    ])
    lines: list[str] = []
    result = overhead.run(args, out=lines.append)

    assert result["events_per_invoke"] == 2 * LANGCHAIN_RUNS
    invoke = result["invoke"]
    assert set(invoke) == {"baseline", "no-op handler", "minimal span handler", "agent-obs full",
                           "agent-obs content", "agent-obs sampled10"}
    assert invoke["baseline"]["overhead_us"] == 0
    assert invoke["minimal span handler"]["spans_per_invoke"] == LANGCHAIN_RUNS
    assert invoke["agent-obs full"]["spans_per_invoke"] == AGENT_OBS_SPANS
    assert invoke["agent-obs content"]["spans_per_invoke"] == AGENT_OBS_SPANS
    assert invoke["agent-obs sampled10"]["spans_per_invoke"] < AGENT_OBS_SPANS
    assert invoke["no-op handler"]["spans_per_invoke"] == 0
    assert "ttft_overhead_us" in result["stream"]["agent-obs full"]
    assert set(result["token_us"]) == set(invoke)

    memory = result["memory"]
    assert memory["invokes"] == 40 and memory["open_runs_after"] == 0
    abandoned = result["abandoned"]
    assert abandoned["broken_streams"]["open_runs_after"] == 0
    assert abandoned["cancelled_tasks"]["cancelled"] == 6
    assert abandoned["cancelled_tasks"]["open_runs_after"] == 0

    table = overhead.markdown(result)
    assert "| agent-obs full |" in table and "Abandoned runs" in table
    assert any("agent-obs full" in v for v in overhead.verdicts(result))


def test_rig_factories_build_working_observers(tracer_provider, span_exporter):
    graph = workload.build_graph()
    handlers = bench_agent_obs.full(tracer_provider=tracer_provider)
    handlers += bench_agent_obs.spans(tracer_provider=tracer_provider)
    handlers += bench_agent_obs.content(tracer_provider=tracer_provider)
    for handler in handlers:
        graph.invoke(workload.graph_input(), {"callbacks": [handler]})
        assert handler.open_runs == 0
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 3 * AGENT_OBS_SPANS
    assert sum(1 for s in spans if "gen_ai.input.messages" in (s.attributes or {})) >= 6  # content only

    counting = workload.CountingExporter()
    plug = bench_agent_obs.sampled10(span_exporter=counting)
    try:
        for _ in range(40):
            graph.invoke(workload.graph_input(), {"callbacks": plug["callbacks"]})
        assert counting.spans % AGENT_OBS_SPANS == 0
        assert counting.spans < 40 * AGENT_OBS_SPANS  # 10% head sampling: whole traces or nothing
    finally:
        plug["shutdown"]()


def test_multiprocess_cost_script_prices_mmap_writes_against_single_process_values():
    import multiprocess_cost

    before = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    result = multiprocess_cost.run(quick=True)
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") == before  # later subprocesses stay single-process
    assert set(result["results"]) == {"counter inc", "gauge inc", "histogram observe"}
    for numbers in result["results"].values():
        assert numbers["single_process_us"] > 0 and numbers["multiprocess_us"] > 0
    assert result["writes_per_invoke"] > 25  # at least one value per span's observation
    assert "mmap'd values" in multiprocess_cost.markdown(result)


def test_first_call_script_runs_in_a_fresh_process(tmp_path):
    import first_call

    out = tmp_path / "first-call.md"
    first_call.main(["--repeat", "1", "--md", str(out)])
    table = out.read_text(encoding="utf-8")
    assert "| now |" in table and "chars/4" in table


def test_overhead_script_runs_the_supervisor_workload():
    args = overhead.parse_args([
        "--workload", "supervisor", "--configs", "baseline,minimal,full",
        "--invoke-rounds", "2", "--block", "2", "--warmup", "1",
        "--token-bench", "0", "--mem-invokes", "20", "--mem-warmup", "2", "--abandoned", "4",
    ])
    result = overhead.run(args, out=lambda line: None)
    assert "stream" not in result  # the worker's tokens stream inside its subgraph
    # 56 chain runs (graphs, nodes, plumbing), 8 chat and 8 tool runs (7 tools, 1 handoff)
    assert result["events_per_invoke"] == 2 * (56 + 8 + 8)
    invoke = result["invoke"]
    assert invoke["agent-obs full"]["spans_per_invoke"] == SUPERVISOR_SPANS
    assert result["memory"]["open_runs_after"] == 0
    assert result["abandoned"]["broken_streams"]["open_runs_after"] == 0


def test_langgraph_suite_plugin_puts_an_observer_on_every_run_of_a_foreign_suite(tmp_path):
    import subprocess
    import textwrap

    import langgraph_suite

    (tmp_path / "test_foreign.py").write_text(textwrap.dedent('''
        import operator
        from typing import Annotated, TypedDict

        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.graph import START, StateGraph
        from langgraph.types import Command, interrupt


        class State(TypedDict):
            log: Annotated[list, operator.add]


        def test_handoff():
            inner = StateGraph(State)
            inner.add_node("a", lambda s: Command(goto="b", graph=Command.PARENT, update={"log": ["a"]}))
            inner.add_edge(START, "a")
            outer = StateGraph(State)
            outer.add_node("sub", inner.compile())
            outer.add_node("b", lambda s: {"log": ["b"]})
            outer.add_edge(START, "sub")
            assert outer.compile().invoke({"log": []}) == {"log": ["a", "b"]}


        def test_interrupt():
            graph = StateGraph(State)
            graph.add_node("ask", lambda s: {"log": [interrupt("ok?")]})
            graph.add_edge(START, "ask")
            app = graph.compile(checkpointer=InMemorySaver())
            assert "__interrupt__" in app.invoke({"log": []}, {"configurable": {"thread_id": "t"}})
        '''))
    out = tmp_path / "suite.jsonl"
    env = {**os.environ, "AGENT_OBS_SUITE_OUT": str(out),
           "PYTHONPATH": BENCH + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "langgraph_suite",
                           str(tmp_path / "test_foreign.py")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = langgraph_suite.summarize(str(out))
    assert summary["tests"] == 2 and summary["tests_with_spans"] == 2
    assert summary["kinds"] == {"invoke_agent": 2, "node": 4}  # sub, a, b; ask
    assert (summary["handoff_spans"], summary["interrupted_spans"]) == (1, 2)  # node a; node ask and its root
    assert summary["handler_errors"] == 0 and summary["error_records"] == 0
    assert summary["orphans"] == [] and summary["tests_leaving_a_run_open"] == []
