#!/usr/bin/env python3
"""Same-run A/B of the time spent inside AgentObserver's callbacks, before vs the working tree.

Why: ``ab_overhead.py`` compares whole invokes against a no-callback baseline, and on a
shared machine the baseline moves by more than a structural change costs. This one times
only the observer's own callbacks (``profile_hot_path.per_callback``: a forwarding handler
around each ``on_*`` call) in thread CPU time (``time.thread_time_ns``), so LangGraph's work
and the time other processes hold the CPU drop out (cache and frequency effects remain). ``--before`` is exported with ``git archive`` into a temporary folder and put
first on ``PYTHONPATH``; before and after processes alternate (ABBA), each measuring the
``full`` and ``content`` observers on the overhead workload (``--workload supervisor``: the
langgraph-supervisor team of ``supervisor_workload.py``, handoffs and a named sub-agent);
the verdict is the median and the minimum per side and their ratios. ``--after`` compares two
commits instead of a commit and the working tree.

    .venv/bin/python bench/ab_handler_time.py --before bfd910d --rounds 6
    .venv/bin/python bench/ab_handler_time.py --before a6658b0^ --after 8f10f0f --workload supervisor
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

CONFIGS = ("full", "content")

_CHILD = """
import json, sys, time
sys.path.insert(0, {bench!r})
import workload
import supervisor_workload
from profile_hot_path import _pipeline, per_callback
from bench_agent_obs import make_observer
graph = {build}()
out = {{}}
for config in {configs!r}:
    observer = make_observer(_pipeline(), capture_content=config == "content")
    out[config] = per_callback(graph, observer, {invokes}, clock=time.thread_time_ns)["total_us_per_invoke"]
print(json.dumps(out))
"""


def one_run(pythonpath: str | None, invokes: int, workload: str = "agent") -> dict[str, float]:
    from ab_overhead import run_child

    build = "supervisor_workload.build_graph" if workload == "supervisor" else "workload.build_graph"
    return run_child(_CHILD.format(bench=str(ROOT / "bench"), configs=CONFIGS, invokes=invokes, build=build),
                     pythonpath)


def main(argv: list[str] | None = None) -> int:
    from ab_overhead import export

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the commit to compare the working tree with")
    ap.add_argument("--after", default=None, help="a later commit instead of the working tree")
    ap.add_argument("--workload", choices=("agent", "supervisor"), default="agent",
                    help="workload.py's tool agent or supervisor_workload.py's langgraph-supervisor team")
    ap.add_argument("--rounds", type=int, default=6, help="before/after pairs (ABBA order)")
    ap.add_argument("--invokes", type=int, default=300, help="timed invokes per config and run")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": str(Path(tmp) / "before"), "after": str(Path(tmp) / "after") if args.after else None}
        export(args.before, Path(trees["before"]))
        if args.after:
            export(args.after, Path(trees["after"]))
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for side in order:
                runs[side].append(one_run(trees[side], args.invokes, args.workload))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    rows = ["| config | before µs/invoke (median, min) | after µs/invoke (median, min) | after/before: medians, minima |",
            "| --- | --- | --- | --- |"]
    for config in CONFIGS:
        before = [run[config] for run in runs["before"]]
        after = [run[config] for run in runs["after"]]
        bm, am = statistics.median(before), statistics.median(after)
        rows.append(f"| {config} | {bm:,.0f}, {min(before):,.0f} | {am:,.0f}, {min(after):,.0f} | "
                    f"{am / bm:.3f}, {min(after) / min(before):.3f} |")
    print("\n".join(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
