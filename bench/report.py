"""Where a benchmark's result goes: stdout, and optionally a JSON file and a markdown file."""

from __future__ import annotations

import json
from typing import Any


def publish(script: str, result: dict[str, Any], table: str, verdict: str,
            json_path: str | None, md_path: str | None) -> None:
    """Print the table and verdict; write ``result`` as JSON and the table as markdown if asked."""
    print(table)
    print(verdict)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=1, default=str)
    if md_path:
        with open(md_path, "w") as f:
            f.write(f"# bench/{script}, {result['date']}\n\n{table}\n- {verdict}\n")
