"""Every PromQL example in docs/ returns data from a real Prometheus.

The stack is the stack tests' own (tests/stack/test_stack_e2e.py): the example optimizer service
with real observability, scraped every second by a real Prometheus of each release line (Debian's 2.42, and 3.x) with the
project's prometheus.yml, after two waves of real traffic (approvals, retries, tool errors, an
LLM outage). Only the LLM is a fake (the example's scripted model). Dashboard queries copied
into the reference get Grafana's variables substituted the way the dashboards' "All" does.
"""

from __future__ import annotations

import math

import pytest

from docs_helpers import grafana_values, runnable
from stack_helpers import FLOOR, LINES
from test_stack_e2e import Stack, stack, traffic  # noqa: F401 - the module-scoped stack fixtures

# The one-process stack only: the dashboards and alerts are also checked against two workers in
# test_stack_e2e, while some examples here (troubleshooting's GC pauses) read per-process
# metrics that multiprocess mode cannot serve, as the guide's "Several workers" says.
pytestmark = pytest.mark.parametrize("stack", [1], indirect=True, ids=["one-process"])


@pytest.mark.parametrize("line", LINES)
def test_every_promql_example_returns_data(stack: Stack, line: str, traffic: dict[str, int], doc_blocks):
    """On Prometheus 2.42 and 3.x alike (both scrape the stack's service)."""
    mon = stack.on(line)
    values = grafana_values()
    blocks = [(path, line, runnable(body, values)) for path, line, lang, body in doc_blocks if lang == "promql"]
    assert len(blocks) >= 60
    empty, nan_only = [], []
    for path, line, expr in blocks:
        result = mon.query(expr)
        if not result:
            empty.append(f"{path}:{line}: {expr}")
        elif not any(math.isfinite(float(r["value"][1])) for r in result):
            nan_only.append(f"{path}:{line}: {expr}")
    assert not empty, "PromQL examples returning nothing:\n" + "\n".join(empty)
    assert not nan_only, "PromQL examples returning only NaN:\n" + "\n".join(nan_only)


def test_a_query_for_a_missing_metric_is_reported_empty(stack: Stack, traffic: dict[str, int]):
    """The check can fail: a misspelt metric returns no series."""
    assert stack.on(FLOOR).query('sum(rate(agent_obs_runs_totl{service="optimizer-agent"}[5m]))') == []
