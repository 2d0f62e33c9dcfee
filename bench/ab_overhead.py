#!/usr/bin/env python3
"""Same-run A/B of ``overhead.py`` between an earlier commit of agent_obs and the working tree.

Why: a change to the observer's structure must not make it slower, and on a shared machine
two runs minutes apart differ by more than the change. This script exports ``agent_obs`` of
``--before`` (``git archive``, our own repository) into a temporary folder and alternates
short ``overhead.py`` processes, before and after, ABBA..., each measuring its overhead
against its own no-callback baseline; the verdict is the median over rounds, per config,
of the before/after ratio of the wall and the CPU overhead, and the ratio of the minima (the
least disturbed run of each side, which a busy machine shifts least).

    .venv/bin/python bench/ab_overhead.py --before bfd910d --rounds 6
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ("full", "content")
NAMES = {"full": "agent-obs full", "content": "agent-obs content"}


def export(rev: str, into: Path) -> None:
    data = subprocess.run(["git", "archive", rev, "agent_obs"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as archive:
        archive.extractall(into, filter="data")


def run_child(code: str, pythonpath: str | None) -> dict:
    """Run ``code`` in a fresh interpreter (``pythonpath`` first on its path, e.g. an exported
    older ``agent_obs``); its last stdout line is the JSON result."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_run(pythonpath: str | None, args: argparse.Namespace, out: Path) -> dict[str, dict[str, float]]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(ROOT / "bench" / "overhead.py"), "--configs", ",".join(CONFIGS),
           "--invoke-rounds", str(args.invoke_rounds), "--block", str(args.block), "--warmup", "10",
           "--stream-rounds", "0", "--token-bench", "0", "--mem-invokes", "0", "--abandoned", "0",
           "--workload", args.workload, "--json", str(out)]
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=tempfile.gettempdir())
    invoke = json.loads(out.read_text())["invoke"]
    return {c: {"wall": invoke[NAMES[c]]["overhead_us"], "cpu": invoke[NAMES[c]]["cpu_overhead_us"]}
            for c in CONFIGS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the commit to compare the working tree with")
    ap.add_argument("--rounds", type=int, default=6, help="before/after pairs (ABBA order)")
    ap.add_argument("--invoke-rounds", type=int, default=6)
    ap.add_argument("--block", type=int, default=10)
    ap.add_argument("--workload", choices=("agent", "supervisor"), default="agent",
                    help="overhead.py's workload: the tool agent or the langgraph-supervisor team")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        before_tree = Path(tmp) / "before"
        export(args.before, before_tree)
        runs: dict[str, list[dict[str, dict[str, float]]]] = {"before": [], "after": []}
        for i in range(args.rounds):
            order = ("before", "after") if i % 2 == 0 else ("after", "before")
            for side in order:
                path = str(before_tree) if side == "before" else None
                runs[side].append(one_run(path, args, Path(tmp) / f"{side}-{i}.json"))
            print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
    rows = []
    for config in CONFIGS:
        row = {"config": NAMES[config]}
        for metric in ("wall", "cpu"):
            before = [r[config][metric] for r in runs["before"]]
            after = [r[config][metric] for r in runs["after"]]
            row[f"{metric}_before_us"] = statistics.median(before)
            row[f"{metric}_after_us"] = statistics.median(after)
            row[f"{metric}_ratio"] = statistics.median(a / b for a, b in zip(after, before) if b > 0)
            row[f"{metric}_min_ratio"] = min(after) / min(before) if min(before) > 0 else float("nan")
        rows.append(row)
    print("| config | wall ovh before µs | after µs | after/before: median of pairs, of minima | "
          "CPU ovh before µs | after µs | after/before: median of pairs, of minima |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['config']} | {r['wall_before_us']:,.0f} | {r['wall_after_us']:,.0f} | "
              f"{r['wall_ratio']:.3f}, {r['wall_min_ratio']:.3f} | {r['cpu_before_us']:,.0f} | "
              f"{r['cpu_after_us']:,.0f} | {r['cpu_ratio']:.3f}, {r['cpu_min_ratio']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"before": args.before, "workload": args.workload,
                                               "rounds": args.rounds, "rows": rows, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
