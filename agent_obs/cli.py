"""The agent-obs command: demo, replay, serve and stack.

Each subcommand imports what it needs only when it runs, so ``agent-obs --help`` is fast and
``agent_obs`` stays free of FastAPI/SQLAlchemy imports. Errors a user can cause (bad file,
unknown trace id, unreachable server) print one line to stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from agent_obs.errors import CliError

SERVICE_EXTRA = "pip install 'agent-obs[service]'"
# What the example service imports beyond the base install (the ``service`` extra).
DEMO_NEEDS = ("fastapi", "starlette", "httpx", "requests", "sqlalchemy",
              "opentelemetry.instrumentation.fastapi", "opentelemetry.instrumentation.sqlalchemy")
SERVE_NEEDS = (*DEMO_NEEDS, "uvicorn")

__all__ = ["CliError", "main"]


def version() -> str:
    """The installed distribution's version (the package's own when run from a source tree)."""
    from importlib import metadata

    try:
        return metadata.version("agent-obs")
    except metadata.PackageNotFoundError:
        from agent_obs import __version__

        return __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-obs", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    with_defaults = argparse.ArgumentDefaultsHelpFormatter
    service_name_help = ("service.name of its telemetry (default: AGENT_OBS_SERVICE_NAME, else "
                         "OTEL_SERVICE_NAME, else optimizer-agent)")

    demo = sub.add_parser("demo", help="run the example optimizer agent on embedded defaults",
                          formatter_class=with_defaults)
    demo.add_argument("--runs", type=int, default=20, help="number of optimizations")
    demo.add_argument("--out", default="telemetry",
                      help="telemetry folder; an earlier run's files there move to OUT/previous/")
    demo.add_argument("--service-name", default=None, help=service_name_help)

    replay = sub.add_parser("replay", help="show the reasoning tree of a recorded run")
    replay.add_argument("source", help="a trace file (OTLP JSON lines) or a Tempo base URL")
    replay.add_argument("--trace-id", default=None, help="trace to show (default: the latest)")
    replay.add_argument("--html", default=None, help="also write a self-contained timeline page")
    replay.add_argument("--list", action="store_true", help="list the traces in SOURCE")

    serve = sub.add_parser("serve", help="run the example service for Prometheus to scrape",
                           formatter_class=with_defaults)
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port; Prometheus scrapes /metrics on it")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes; with more than one, /metrics sums over all of them")
    serve.add_argument("--service-name", default=None, help=service_name_help)

    stack = sub.add_parser("stack", help="the observability stack shipped with the package")
    stack_sub = stack.add_subparsers(dest="stack_command", required=True)
    export = stack_sub.add_parser(
        "export", help="write the stack (dashboards, rules, configs, compose file) into DIR")
    export.add_argument("dir", help="folder to write into (created if missing)")
    export.add_argument("--force", action="store_true", help="overwrite files that differ")
    export.add_argument("--service-name", default=None,
                        help="your service's name: the Prometheus job and `service` label "
                             "(default: the example's optimizer-agent)")
    export.add_argument("--scrape-target", default=None,
                        help="HOST:PORT Prometheus scrapes for /metrics (default: optimizer:8000)")
    for kind in ("prometheus", "loki", "tempo"):
        export.add_argument(f"--{kind}-uid", default=None,
                            help=f"uid of your Grafana {kind.capitalize()} datasource (default: {kind})")
    stack_sub.add_parser("list", help="show the files the stack holds")
    return parser


def _require(modules: Sequence[str]) -> None:
    """Import what a command needs up front, so a base install gets one line, not a traceback."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or name
            raise CliError(f"needs the 'service' extra ({missing} is not installed): {SERVICE_EXTRA}") from None


def _service_name(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise CliError("--service-name must not be empty")
    return value.strip() if value is not None else None


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.runs < 1:
                raise CliError("--runs must be at least 1")
            service_name = _service_name(args.service_name)
            _require(DEMO_NEEDS)
            from agent_obs_example.demo import run_demo

            return run_demo(runs=args.runs, out_dir=args.out, service_name=service_name)
        if args.command == "replay":
            from agent_obs.replay.cli import run_replay

            return run_replay(args.source, trace_id=args.trace_id, html=args.html, list_only=args.list)
        if args.command == "serve":
            if not 0 < args.port < 65536:
                raise CliError(f"--port must be between 1 and 65535, not {args.port}")
            if args.workers < 1:
                raise CliError(f"--workers must be at least 1, not {args.workers}")
            service_name = _service_name(args.service_name)
            _require(SERVE_NEEDS)
            from agent_obs_example.serve import run_server

            return run_server(host=args.host, port=args.port, workers=args.workers, service_name=service_name)
        if args.command == "stack":
            return _stack(args)
    except CliError as exc:
        command = f"stack {args.stack_command}" if args.command == "stack" else args.command
        print(f"agent-obs {command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that cannot be written, a port that cannot be bound
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"agent-obs {args.command}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _stack(args: argparse.Namespace) -> int:
    from agent_obs.stack.cli import run_export, run_list
    from agent_obs.stack.customize import StackOptions

    if args.stack_command == "list":
        return run_list()
    options = StackOptions(service_name=args.service_name, scrape_target=args.scrape_target,
                           prometheus_uid=args.prometheus_uid, loki_uid=args.loki_uid,
                           tempo_uid=args.tempo_uid)
    return run_export(args.dir, options, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
