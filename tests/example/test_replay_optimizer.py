"""Recorded optimizer runs re-run deterministically (issue #7): ``agent_obs_example.replay``.

The recording is a real ``agent-obs demo`` run (content capture on) over every sample job, so
it holds a node retry (the stand-in's transient 503), a failing ``explain_plan``, runs
interrupted for approval, their resumes, and a healthy job that never calls the LLM. The
re-runs use the recorded LLM outputs and run the real nodes and tools against a fresh Dremio
stand-in and an in-memory SQLite database.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from langchain_core.tools import tool
from rich.console import Console

from agent_obs import semconv as sc
from agent_obs.replay import Divergence, ReplayError, load_file
from agent_obs.replay.model import Trace
from agent_obs_example.demo import run_demo
from agent_obs_example.dremio import DremioQueryError
from agent_obs_example.replay import ReplaySandbox, replay_inputs, rerun_optimizer, rerunnable

JOB_FULL_SCAN = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b001"  # interrupted for approval
JOB_SMALL_FILES = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b004"
JOB_HEALTHY = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b006"      # no issues: no LLM call
JOB_FLAKY = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b007"        # fetch_job retried after a 503
JOB_EXPLAIN_FAILS = "2a7c5e1f-8b3d-4c61-9e0a-51f0c3d2b008"

NEW_PLAN = "00-00  SCREEN(rowcount = 10.0)\n01-00  PARQUET_ROW_GROUP_SCAN(rowcount = 10.0)"


@tool("explain_plan")
def explain_plan_v2(job_id: str) -> str:
    """The physical plan Dremio chooses today for the SQL of a job."""
    return NEW_PLAN


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "telemetry"
    assert run_demo(8, str(out), console=Console(file=io.StringIO())) == 0
    return out / "traces.jsonl"


def _runs(path: Path) -> list[Trace]:
    """A fresh load each time: tests may edit a trace's attributes."""
    return load_file(path).agent_runs()


def _run_of(path: Path, job_id: str) -> Trace:
    return next(t for t in _runs(path) if rerunnable(t) and replay_inputs(t)["job_id"] == job_id)


def test_every_recorded_optimizer_run_reruns_with_no_divergence(demo_file):
    runs = _runs(demo_file)
    assert len(runs) == 8 + 2  # two runs resumed after approval
    rerun_jobs = []
    for trace in runs:
        if trace.root.attributes.get(sc.LANGGRAPH_RESUMED):
            assert not rerunnable(trace)
            with pytest.raises(ReplayError, match="resumes an approval"):
                replay_inputs(trace)
            continue
        inputs = replay_inputs(trace)
        assert inputs == {"run_id": trace.root.conversation_id, "job_id": inputs["job_id"], "trace_id": trace.trace_id}
        if not trace.llm_calls():
            assert inputs["job_id"] == JOB_HEALTHY and not rerunnable(trace)
            continue
        report = rerun_optimizer(trace)
        assert report.ok, f"{inputs['job_id']}: {report}"
        assert report.node_path == trace.node_path
        assert report.replayed.outcome == trace.outcome
        rerun_jobs.append(inputs["job_id"])
    assert len(rerun_jobs) == 7 and JOB_FLAKY in rerun_jobs and JOB_EXPLAIN_FAILS in rerun_jobs


def test_rerun_reproduces_the_retry_the_tool_error_and_the_approval_interrupt(demo_file):
    flaky = rerun_optimizer(_run_of(demo_file, JOB_FLAKY))
    assert flaky.node_path[:2] == ["fetch_job", "fetch_job"]
    failing = rerun_optimizer(_run_of(demo_file, JOB_EXPLAIN_FAILS))
    explain = next(t for t in failing.replayed.tool_calls() if t.name == "explain_plan")
    assert explain.error is not None and explain.error[0].endswith(DremioQueryError.__name__)
    interrupted = rerun_optimizer(_run_of(demo_file, JOB_FULL_SCAN))
    assert interrupted.ok and interrupted.node_path[-1] == "human_approval"
    assert interrupted.replayed.outcome == sc.OUTCOME_INTERRUPTED
    assert interrupted.output["__interrupt__"]  # paused again, waiting for a human


def test_a_changed_explain_plan_is_exactly_one_tool_result_divergence(demo_file):
    trace = _run_of(demo_file, JOB_SMALL_FILES)
    recorded = next(t.result for t in trace.tool_calls() if t.name == "explain_plan")
    assert recorded and "PARQUET_ROW_GROUP_SCAN" in recorded

    report = rerun_optimizer(trace, replace_tools=[explain_plan_v2])

    assert report.error is None
    assert report.divergences == [Divergence("tool_result", "explain_plan#1", recorded, NEW_PLAN)]
    assert report.node_path == trace.node_path  # the recorded LLM outputs keep the path


def test_fixing_the_failing_tool_shows_as_a_tool_error_divergence(demo_file):
    report = rerun_optimizer(_run_of(demo_file, JOB_EXPLAIN_FAILS), replace_tools=[explain_plan_v2])
    assert [(d.kind, d.where, d.replayed) for d in report.divergences] == [("tool_error", "explain_plan#1", "ok")]


def test_a_recording_without_the_graph_input_uses_the_analysis_span(demo_file):
    trace = _run_of(demo_file, JOB_SMALL_FILES)
    del trace.root.attributes[sc.GRAPH_INPUT]
    inputs = replay_inputs(trace)
    assert inputs == {"run_id": trace.root.conversation_id, "job_id": JOB_SMALL_FILES, "trace_id": None}
    assert rerun_optimizer(trace).ok
    for span in trace.root.walk():
        span.attributes.pop("job_id", None)
    with pytest.raises(ReplayError, match="does not say which Dremio job"):
        replay_inputs(trace)


def test_what_cannot_be_rerun_says_why(demo_file, tmp_path):
    import sys

    notebooks = str(Path(__file__).resolve().parents[2] / "notebooks")
    sys.path.insert(0, notebooks)
    try:
        import replay_demo_agent
    finally:
        sys.path.remove(notebooks)
    other = load_file(replay_demo_agent.record(tmp_path / "other.jsonl", tables=["orders"])).latest()
    with pytest.raises(ReplayError, match="not an optimizer_agent run"):
        rerun_optimizer(other)
    with pytest.raises(ValueError, match="no stock tool named explain"):
        with ReplaySandbox() as sandbox:
            sandbox.build_graph(None, replace_tools=[replay_demo_agent.explain])


def test_the_sandbox_is_private_and_closes_what_it_started():
    with ReplaySandbox() as sandbox:
        url = sandbox.dremio_url
        assert url.startswith("http://127.0.0.1:")
        assert sandbox.client.get_job(JOB_SMALL_FILES)["jobState"] == "COMPLETED"
        assert sandbox.registry.get_sample_value("dremio_api_requests_total", {"endpoint": "job_status"}) == 1
    assert sandbox.client is None and sandbox.standin is None
    sandbox.close()  # idempotent
    with pytest.raises(RuntimeError, match="start the replay sandbox"):
        sandbox.build_graph(None)
