"""The agent-obs command: demo, replay and serve.

Each subcommand imports what it needs only when it runs, so ``agent-obs --help`` is fast and
``agent_obs`` stays free of FastAPI/SQLAlchemy imports. Errors a user can cause (bad file,
unknown trace id, unreachable server) print one line to stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from agent_obs.errors import CliError

__all__ = ["CliError", "main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-obs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the example optimizer agent on embedded defaults")
    demo.add_argument("--runs", type=int, default=20, help="number of optimizations (default 20)")
    demo.add_argument("--out", default="telemetry", help="telemetry folder (default telemetry/)")

    replay = sub.add_parser("replay", help="show the reasoning tree of a recorded run")
    replay.add_argument("source", help="a trace file (OTLP JSON lines) or a Tempo base URL")
    replay.add_argument("--trace-id", default=None, help="trace to show (default: the latest)")
    replay.add_argument("--html", default=None, help="also write a self-contained timeline page")
    replay.add_argument("--list", action="store_true", help="list the traces in SOURCE")

    serve = sub.add_parser("serve", help="run the example service for Prometheus to scrape")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (default 1); with more, /metrics sums over all of them")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.runs < 1:
                raise CliError("--runs must be at least 1")
            from agent_obs_example.demo import run_demo

            return run_demo(runs=args.runs, out_dir=args.out)
        if args.command == "replay":
            from agent_obs.replay.cli import run_replay

            return run_replay(args.source, trace_id=args.trace_id, html=args.html, list_only=args.list)
        if args.command == "serve":
            if not 0 < args.port < 65536:
                raise CliError(f"--port must be between 1 and 65535, not {args.port}")
            if args.workers < 1:
                raise CliError(f"--workers must be at least 1, not {args.workers}")
            from agent_obs_example.serve import run_server

            return run_server(host=args.host, port=args.port, workers=args.workers)
    except CliError as exc:
        print(f"agent-obs {args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that cannot be written, a port that cannot be bound
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"agent-obs {args.command}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
