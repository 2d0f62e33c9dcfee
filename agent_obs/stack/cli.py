"""``agent-obs stack export DIR`` and ``agent-obs stack list``: the command-line side.

Called by ``agent_obs.cli``; plain ``print`` output, one line per file, so it reads the same
in a terminal and in a CI log.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable

from .customize import StackOptions
from .export import NEW, OVERWRITTEN, UNCHANGED, export_stack
from .manifest import MARKER
from .source import find_source

_SECTIONS = (
    ("grafana/dashboards/", "Grafana dashboards"),
    ("grafana/", "Grafana provisioning"),
    ("prometheus/rules/", "Prometheus alert rules"),
    ("prometheus/tests/", "promtool unit tests of the rules"),
    ("prometheus/", "Prometheus config"),
    ("alertmanager/", "Alertmanager config"),
    ("tempo/", "Tempo config"),
    ("loki/", "Loki config"),
    ("collector/", "OpenTelemetry Collector configs"),
    ("docs/", "runbooks the alerts link to"),
    ("", "compose file"),
)


def _section(rel: str) -> tuple[int, str]:
    """The listing section of a file: its position in ``_SECTIONS`` and its title."""
    return next((i, title) for i, (prefix, title) in enumerate(_SECTIONS) if rel.startswith(prefix))


def next_command(target: Path) -> str:
    """What to run after an export: compose needs Grafana's admin credentials set."""
    return (f"cd {shlex.quote(str(target))} && export GRAFANA_ADMIN_USER=admin "
            f"GRAFANA_ADMIN_PASSWORD='choose-a-long-secret' && docker compose -f {MARKER} up -d")


def run_list(out: Callable[[str], None] = print) -> int:
    source = find_source()
    files = source.files()
    where = "the installed package" if source.kind == "package" else "the repository checkout"
    out(f"agent-obs stack: {len(files)} files from {where} ({source.root})")
    current = None
    for rel in sorted(files, key=lambda r: (_section(r)[0], r)):
        section = _section(rel)[1]
        if section != current:
            out(f"{section}:")
            current = section
        out(f"  {rel}")
    return 0


def run_export(target: str, options: StackOptions, *, force: bool = False,
               out: Callable[[str], None] = print) -> int:
    result = export_stack(target, options, force=force)
    for rel, state in result.files:
        out(f"{state:>11}  {Path(target) / rel}")
    out(f"agent-obs stack: {result.count(NEW)} new, {result.count(OVERWRITTEN)} overwritten, "
        f"{result.count(UNCHANGED)} unchanged in {target}")
    out(f"next: {next_command(Path(target))}")
    return 0
