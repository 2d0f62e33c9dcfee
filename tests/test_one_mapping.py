"""Each signal's mapping from run facts lives in one module of agent_obs (issue 17, item 1).

The observer fills facts on a Run; spans are named and given attributes and events only in
genai_spans.py, metric families and labels only in metrics.py, log events and fields only in
logs.py. Checked on the vocabulary names each module uses (``sc.NAME``); replay reads spans
back and is not a writer.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_USE = re.compile(r"\bsc\.([A-Z][A-Z0-9_]*)")
SIGNALS = {
    "agent_obs/genai_spans.py": re.compile(
        r"^(GEN_AI_|LANGGRAPH_|AGENT_PARENT$|AGENT_ROOT$|COST_|USAGE_|GRAPH_|EVENT_|ROUTE_|HANDOFF_|ERROR_TYPE$"
        r"|EXCEPTION_TYPE$|LINK_|SPAN_|OUTCOME$|OPENAI_|CONTENT_TRUNCATED)"),
    "agent_obs/metrics.py": re.compile(r"^(METRIC_|LABEL_)"),
    "agent_obs/logs.py": re.compile(r"^(LOG_|FIELD_)"),
}


def _writers() -> dict[str, set[str]]:
    uses = {}
    for path in sorted((ROOT / "agent_obs").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative.startswith(("agent_obs/replay/", "agent_obs/stack/")) or relative == "agent_obs/semconv.py":
            continue
        uses[relative] = set(_USE.findall(path.read_text()))
    return uses


def test_each_signal_is_mapped_from_facts_in_one_module():
    uses = _writers()
    for home, names in SIGNALS.items():
        elsewhere = {path: sorted(n for n in used if names.match(n)) for path, used in uses.items() if path != home}
        assert {path: found for path, found in elsewhere.items() if found} == {}, home
        assert any(names.match(n) for n in uses[home]), f"{home} maps nothing: the check is broken"


def test_the_observer_fills_facts_and_names_no_attribute():
    observer = (ROOT / "agent_obs/observer.py").read_text()
    assert "set_attribute" not in observer and "add_event" not in observer
    assert not re.search(r"""["'](gen_ai|langgraph|agent_obs)\.[a-z_.]+["']""", observer)


def test_only_the_span_sink_touches_its_state_on_a_run():
    """Run's span, context and previous_context belong to the span sink (spans.py); the other
    sinks get the ids from the dispatcher, the observer asks spans.py (runs.py declares them)."""
    state = re.compile(r"\.(span|context|previous_context)\b(?!\()")
    touching = {path for path in _writers()
                if path not in ("agent_obs/spans.py", "agent_obs/runs.py")
                and state.search((ROOT / path).read_text())}
    assert touching == set()
    assert state.search((ROOT / "agent_obs/spans.py").read_text())
