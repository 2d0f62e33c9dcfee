"""Reading the docs: fenced query blocks, Markdown links and GitHub heading anchors."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
QUERY_LANGUAGES = ("promql", "logql", "traceql")
_FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)")


def doc_files() -> list[Path]:
    return sorted(DOCS.glob("**/*.md"))


def fenced_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line number, language tag, body) of each fenced code block."""
    out = []
    for m in _FENCE.finditer(text):
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1).lower(), m.group(2).rstrip("\n")))
    return out


def query_blocks(files: list[Path] | None = None) -> list[tuple[str, int, str, str]]:
    out = []
    for path in files if files is not None else doc_files():
        for line, lang, body in fenced_blocks(path.read_text(encoding="utf-8")):
            if lang in QUERY_LANGUAGES:
                where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
                out.append((str(where), line, lang, body))
    return out


def grafana_values() -> dict[str, str]:
    """What Grafana substitutes for each dashboard variable with "All" selected (union of the
    dashboards), so panel queries copied into the docs run outside Grafana."""
    from stack_helpers import load_dashboards, variable_values

    values: dict[str, str] = {}
    for dash in load_dashboards().values():
        values.update(variable_values(dash))
    return values


def runnable(query: str, values: dict[str, str]) -> str:
    from stack_helpers import substitute

    return substitute(query, values)


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[`*_]", lambda m: "_" if m.group(0) == "_" else "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Anchors of every heading, with GitHub's -1, -2 suffixes for repeated ones."""
    seen: dict[str, int] = {}
    out = set()
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        m = None if in_fence else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            out.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
    return out


def links(text: str) -> list[str]:
    """Link targets outside code blocks."""
    prose = _FENCE.sub("", text)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return _LINK.findall(prose)
