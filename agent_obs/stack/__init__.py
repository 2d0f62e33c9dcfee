"""The observability stack shipped with the package: dashboards, rules, configs, compose file.

``agent-obs stack export DIR`` writes it into a folder, ready for ``docker compose up``;
``agent-obs stack list`` shows what it holds. In code::

    from agent_obs.stack import StackOptions, export_stack
    export_stack("stack", StackOptions(service_name="my-agent", scrape_target="host.docker.internal:8000"))

The files are the repository's own folders (``grafana/``, ``prometheus/``, ...), copied into
the wheel when it is built; see :mod:`agent_obs.stack.source`.
"""

from .customize import StackError, StackOptions
from .export import ExportResult, StackConflict, export_stack, render_stack
from .source import StackNotFound, StackSource, find_source

__all__ = [
    "ExportResult", "StackConflict", "StackError", "StackNotFound", "StackOptions", "StackSource",
    "export_stack", "find_source", "render_stack",
]
