"""The generated reference cannot drift: docs/reference.md and the README settings table are
exactly what scripts/gen_reference.py renders from the code, and the generator covers and
describes every name the code defines."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys

import pytest

from docs_helpers import REPO

SCRIPT = REPO / "scripts" / "gen_reference.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO)


def test_committed_reference_and_readme_table_match_the_code():
    done = _run("--check")
    assert done.returncode == 0, (
        "docs/reference.md or README.md's settings table is stale; run "
        f"`.venv/bin/python scripts/gen_reference.py`:\n{done.stderr}")


@pytest.fixture
def copy_root(tmp_path):
    """A minimal copy of the generated files, so the check can be run against edited copies."""
    (tmp_path / "docs").mkdir()
    shutil.copy(REPO / "docs" / "reference.md", tmp_path / "docs" / "reference.md")
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    return tmp_path


def test_check_mode_fails_on_a_stale_reference_and_write_mode_repairs_it(copy_root):
    ref = copy_root / "docs" / "reference.md"
    ref.write_text(ref.read_text().replace("gen_ai_client_token_usage", "gen_ai_client_token_count"))
    done = _run("--check", "--root", str(copy_root))
    assert done.returncode == 1 and "reference.md is stale" in done.stderr
    assert _run("--root", str(copy_root)).returncode == 0
    assert _run("--check", "--root", str(copy_root)).returncode == 0
    assert ref.read_text() == (REPO / "docs" / "reference.md").read_text()


def test_check_mode_fails_on_a_stale_readme_settings_table(copy_root):
    readme = copy_root / "README.md"
    readme.write_text(readme.read_text().replace("`AGENT_OBS_LOKI_ENDPOINT`", "`AGENT_OBS_LOKI_URL`"))
    done = _run("--check", "--root", str(copy_root))
    assert done.returncode == 1 and "README.md is stale" in done.stderr


def test_a_renamed_metric_changes_the_rendered_reference(monkeypatch):
    """Regression guard for the generator itself: names are read from semconv, not copied."""
    import gen_reference
    from agent_obs import semconv as sc

    before = gen_reference.render_reference()
    renamed = {("agent_obs_runs_renamed_total" if k == sc.METRIC_RUNS else k): v for k, v in sc.METRICS.items()}
    monkeypatch.setattr(sc, "METRICS", renamed)
    after = gen_reference.render_reference()
    assert "agent_obs_runs_renamed_total" in after and "agent_obs_runs_renamed_total" not in before


def test_every_name_the_code_defines_is_described():
    import gen_reference

    missing = gen_reference.undescribed()
    assert not missing, ("add descriptions to the tables in scripts/gen_reference.py, then regenerate:\n"
                         + "\n".join(missing))


def test_reference_lists_every_vocabulary_name():
    """Checked against the code directly, independently of the generator's own tables."""
    from agent_obs import semconv as sc
    from agent_obs_example.settings import OptimizerSettings
    from service_obs.settings import ObservabilitySettings

    text = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    names = [v for k, v in vars(sc).items() if k.isupper() and isinstance(v, str)
             and k.startswith(("SPAN_", "OP_", "GEN_AI_", "LANGGRAPH_", "LOG_", "FIELD_", "LABEL_", "OUTCOME_"))]
    names += list(sc.METRICS) + list(sc.SERVICE_METRICS) + list(sc.EXAMPLE_METRICS)
    names += [f"AGENT_OBS_{f.name.upper()}" for f in dataclasses.fields(ObservabilitySettings)]
    names += [f"AGENT_OBS_{f.name.upper()}" for f in dataclasses.fields(OptimizerSettings)]
    absent = [n for n in names if f"`{n}" not in text]
    assert not absent, absent
    for name, buckets in sc.METRIC_BUCKETS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}_bucket`"))
        assert ", ".join(str(int(b)) if float(b).is_integer() and b >= 1 else f"{b:g}" for b in buckets) in row


def test_readme_settings_table_has_every_setting():
    from service_obs.settings import ObservabilitySettings

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = readme.index("<!-- settings-table:start -->"), readme.index("<!-- settings-table:end -->")
    block = readme[start:end]
    for f in dataclasses.fields(ObservabilitySettings):
        assert f"| `{f.name}` | `AGENT_OBS_{f.name.upper()}` |" in block, f.name
