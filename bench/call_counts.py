#!/usr/bin/env python3
"""Python function calls per invoke that the observer adds, before vs the working tree.

Why: on a shared 2-core machine timings of the same code differ by more than a structural
change costs; the number of Python-level calls a handler makes per invoke does not move
with the load. cProfile counts every call (LangGraph's, the SDK's, ours) over 100 invokes
of the overhead workload, with and without the observer; the difference is the observer's.
It is a proxy, not a time: calls differ in cost. ``--public`` adds rows for the working
tree with each private-internals shortcut switched off (``agent_obs.shortcuts``).

    .venv/bin/python bench/call_counts.py --before bfd910d --public
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

_CHILD = """
import cProfile, json, pstats, sys
sys.path.insert(0, {bench!r})
import workload
from profile_hot_path import _pipeline
from bench_agent_obs import make_observer
graph = workload.build_graph()

def calls(cfg, n=100):
    for _ in range(30):
        graph.invoke(workload.graph_input(), cfg)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        graph.invoke(workload.graph_input(), cfg)
    profile.disable()
    return pstats.Stats(profile).total_calls / n

def observer(content, public):
    if public is None:
        return make_observer(_pipeline(), capture_content=content)
    from agent_obs import shortcuts
    with shortcuts.public_only(*public):
        return make_observer(_pipeline(), capture_content=content)

base = calls({{}})
out = {{}}
for name, content, public in {rows!r}:
    out[name] = round(calls({{"callbacks": [observer(content, public)]}}) - base)
print(json.dumps(out))
"""


def one_run(pythonpath: str | None, rows: list[tuple[str, bool, list[str] | None]]) -> dict[str, int]:
    from ab_overhead import run_child

    return run_child(_CHILD.format(bench=str(ROOT / "bench"), rows=rows), pythonpath)


def main(argv: list[str] | None = None) -> int:
    from ab_overhead import export

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the commit to compare the working tree with")
    ap.add_argument("--public", action="store_true", help="also each shortcut switched off (working tree)")
    args = ap.parse_args(argv)
    plain = [("full", False, None), ("content", True, None)]
    with tempfile.TemporaryDirectory() as tmp:
        export(args.before, Path(tmp))
        before = one_run(tmp, plain)
    after_rows = list(plain)
    if args.public:
        from agent_obs import shortcuts

        after_rows += [(f"full, public {name}", False, [name]) for name in
                       (shortcuts.SPAN_ATTRIBUTES, shortcuts.SAMPLER_SHAPE, shortcuts.HISTOGRAM_EXEMPLAR,
                        shortcuts.LOG_LEVEL)]
        after_rows.append(("full, all public", False, []))
    after = one_run(None, after_rows)
    print(f"| config | calls/invoke at {args.before} | now | now/before |\n| --- | --- | --- | --- |")
    for name, calls in after.items():
        base = before.get(name.split(",")[0])
        ratio = f"{calls / base:.3f}" if base and name in before else "–"
        then = f"{before[name]:,}" if name in before else "–"
        print(f"| {name} | {then} | {calls:,} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
