"""Write grafana/dashboards/*.json from the Python definitions in grafana/dashgen/.

    python grafana/generate_dashboards.py           # regenerate the committed JSON
    python grafana/generate_dashboards.py --check   # exit 1 if the committed JSON is stale

The JSON files are what Grafana provisions (grafana/provisioning/dashboards/); this script
is the source of truth, and tests/stack checks that both agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "dashboards"


def builders() -> dict[str, Callable[[], dict[str, Any]]]:
    """File name -> function building that dashboard."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from dashgen import business, llm_agent, overview, performance

    return {
        "overview.json": overview.build,
        "performance.json": performance.build,
        "business_metrics.json": business.build,
        "llm_agent.json": llm_agent.build,
    }


def render(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, indent=2, sort_keys=True) + "\n"


def generate() -> dict[str, str]:
    """File name -> JSON text, for every dashboard."""
    return {name: render(build()) for name, build in builders().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    stale = []
    for name, text in generate().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.stderr.write(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
