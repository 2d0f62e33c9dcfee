"""The notebooks run top to bottom, offline, on a trace file the test records: once through the
exact ``jupyter nbconvert`` line notebooks/README.md gives, otherwise with nbclient.

Kernels talk over Unix sockets here (``KernelManager.transport = "ipc"``), not TCP: for TCP the
client picks five free ports and the kernel binds them seconds later (longer on a loaded
machine), once, and dies if any was taken meanwhile by another process ("Kernel died before
replying to kernel_info"). Sockets in a directory of the test's own cannot be taken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from agent_obs.replay import load_file
from agent_obs_example.replay import replay_inputs, rerunnable

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


STARTUP_TIMEOUT = 300  # seconds for a kernel to start on a loaded machine (nbclient's default: 60)


@pytest.fixture(scope="module")
def kernel_dir() -> Iterator[Path]:
    """A short private directory for the kernels' Unix sockets (paths must stay under ~100 bytes)
    and a Jupyter config that makes ``jupyter nbconvert`` use it."""
    path = Path(tempfile.mkdtemp(prefix="nbk-"))
    (path / "jupyter_nbconvert_config.py").write_text(
        f'c.KernelManager.transport = "ipc"\nc.KernelManager.ip = {str(path / "k")!r}\n'
        f"c.ExecutePreprocessor.startup_timeout = {STARTUP_TIMEOUT}\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _record_demo_agent(path: Path) -> Path:
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import replay_demo_agent
    finally:
        sys.path.remove(str(NOTEBOOKS))
    return replay_demo_agent.record(path)


def _execute(name: str, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], kernel_dir: Path) -> nbformat.NotebookNode:
    for key in ("AGENT_OBS_TEMPO_URL", "AGENT_OBS_TRACE_ID"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # the kernel imports agent_obs from this checkout, whatever the editable install says
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(kernel_dir / "k"))
    NotebookClient(nb, km=km, timeout=120, startup_timeout=STARTUP_TIMEOUT,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def _outputs(nb: nbformat.NotebookNode) -> tuple[str, str, int]:
    """(all stream text, all text/html, number of PNG images) of the executed notebook."""
    text, html, images = [], [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", "".join(out.get("traceback", []))
            text.append(out.get("text", ""))
            data = out.get("data", {})
            html.append(data.get("text/html", ""))
            images += "image/png" in data
    return "".join(text), "".join(html), images


def _readme_command() -> str:
    """The ``jupyter nbconvert`` line of notebooks/README.md, as written there."""
    lines = [line.split("  #")[0].strip() for line in (NOTEBOOKS / "README.md").read_text().splitlines()]
    (command,) = [line for line in lines if line.startswith("jupyter nbconvert ")]
    return command


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory, kernel_dir) -> tuple[Path, dict[str, nbformat.NotebookNode]]:
    """Both notebooks executed by the README's command, run by a shell from a copy of the
    repository's notebooks folder (so the outputs land in the temporary folder)."""
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(NOTEBOOKS, work / "notebooks", ignore=shutil.ignore_patterns("executed", ".ipynb_checkpoints"))
    trace_file = _record_demo_agent(work / "traces.jsonl")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OBS_", "OTEL_"))}
    env.update(JUPYTER_CONFIG_DIR=str(kernel_dir), JUPYTER_RUNTIME_DIR=str(kernel_dir),
               AGENT_OBS_TRACE_FILE=str(trace_file), MPLBACKEND="module://matplotlib_inline.backend_inline",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(["bash", "-c", _readme_command()], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = {path.name: nbformat.read(path, as_version=4) for path in (work / "notebooks" / "executed").glob("*.ipynb")}
    return trace_file, executed


def test_readme_command_executes_every_notebook(readme_run):
    _, executed = readme_run
    assert sorted(executed) == sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


def test_replay_trace_notebook(readme_run):
    trace_file, executed = readme_run
    latest = load_file(trace_file).latest()
    text, html, images = _outputs(executed["replay_trace.ipynb"])
    assert f"4 traces in {trace_file}" in text
    assert f"selected trace {latest.trace_id} (sql_tuner, error)" in text
    assert "agent sql_tuner" in html and "tool table_stats" in html, "the tree as rich HTML"
    assert "unknown table audit" in text, "the error run's tool error in the tree"
    assert images >= 1, "the timeline figure"
    assert "re-run matches the recording (5 node runs, no divergence)" in text
    assert "node path: agent -> tools -> agent -> tools -> agent" in text
    assert "1 divergence(s):" in text and "tool_result at table_stats#1" in text
    assert "wrote " in text and "run.html" in text


def test_llm_usage_notebook(readme_run):
    _, executed = readme_run
    text, html, images = _outputs(executed["llm_usage.ipynb"])
    assert "4 agent runs in" in text and "'ok': 3" in text and "'error': 1" in text
    assert "tokens: 1740 input, 228 output" in text
    assert "gpt-4o-mini" in html and "<td>agent</td>" in html and "<td>explain</td>" in html
    assert images == 3


def test_notebooks_record_demo_runs_when_no_trace_file_exists(tmp_path, monkeypatch, kernel_dir):
    nb = _execute("replay_trace.ipynb", monkeypatch, {"AGENT_OBS_TRACE_FILE": str(tmp_path / "missing.jsonl")},
                  kernel_dir)
    text, _, _ = _outputs(nb)
    assert "no trace file found; recorded demo runs into" in text
    assert "re-run matches the recording" in text


def _run_agent_obs_demo(out_dir: Path) -> Path:
    """``agent-obs demo`` in a subprocess (it sets up global providers), with content capture."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OBS_", "OTEL_"))}
    env["AGENT_OBS_CAPTURE_CONTENT"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "agent_obs.cli", "demo", "--runs", "6", "--out", str(out_dir)],
        env=env, cwd=str(out_dir.parent), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out_dir / "traces.jsonl"


def test_notebooks_on_the_example_agents_demo_file(tmp_path, monkeypatch, kernel_dir):
    trace_file = _run_agent_obs_demo(tmp_path / "telemetry")
    traces = load_file(trace_file)
    runs = traces.agent_runs()
    assert traces.errors == [] and len(runs) >= 6
    assert {t.agent_name for t in runs} == {"optimizer_agent"}
    with_llm = [t for t in runs if t.llm_calls()]
    assert with_llm and all(t.content_captured for t in with_llm)
    latest = traces.latest()

    # the notebook re-runs the latest optimizer run that called the LLM and did not resume an approval
    target = next(t for t in [latest, *reversed(runs)] if rerunnable(t))
    explain = next(t for t in target.tool_calls() if t.name == "explain_plan")

    nb = _execute("replay_trace.ipynb", monkeypatch, {"AGENT_OBS_TRACE_FILE": str(trace_file)}, kernel_dir)
    text, html, images = _outputs(nb)
    assert f"selected trace {latest.trace_id} (optimizer_agent, {latest.outcome})" in text
    assert "agent optimizer_agent" in html and "node fetch_job" in html
    assert images >= 1
    assert "recording a demo-agent run" not in text, "the demo's own optimizer run is re-run"
    assert f"re-running trace {target.trace_id} (optimizer_agent, {target.outcome})" in text
    assert f"'job_id': '{replay_inputs(target)['job_id']}'" in text
    assert f"re-run matches the recording ({len(target.node_path)} node runs, no divergence)" in text
    assert "node path: " + " -> ".join(target.node_path) in text
    changed = "tool_error" if explain.error else "tool_result"
    assert f"1 divergence(s):\n  - {changed} at explain_plan#1" in text

    nb = _execute("llm_usage.ipynb", monkeypatch, {"AGENT_OBS_TRACE_FILE": str(trace_file)}, kernel_dir)
    text, html, images = _outputs(nb)
    stats_line = f"tokens: {sum(t.input_tokens for t in runs)} input, {sum(t.output_tokens for t in runs)} output"
    assert f"{len(runs)} agent runs in" in text and stats_line in text
    assert "<td>recommend</td>" in html and images == 3
