"""Gunicorn server hooks for a service set up with ``setup_observability``.

Use them as the whole config (``gunicorn -c python:service_obs.gunicorn_hooks ...``) or
import them into your own ``gunicorn.conf.py``::

    from service_obs.gunicorn_hooks import child_exit, on_starting, post_worker_init, worker_exit

- ``on_starting`` (master, before the first worker): wipes the ``*.db`` files of the last run
  from ``PROMETHEUS_MULTIPROC_DIR``, as prometheus_client's multiprocess mode requires.
- ``child_exit`` (master, after a worker exited, e.g. recycled by ``--max-requests``):
  ``mark_process_dead`` for it, so its live gauges (runs in progress) stop counting; its
  counters stay in the sum, so restarts neither lose nor double-count.
- ``post_worker_init`` (the worker, before it serves): makes sure a worker stopped by SIGTERM
  or SIGINT leaves through gunicorn's normal exit, so that ``worker_exit`` runs. uvicorn's
  worker resets these signals to their default action and, after its graceful shutdown,
  raises the signal it caught again: by default that kills the worker before gunicorn runs
  ``worker_exit``. The hook gives them a handler that exits the worker normally instead.
- ``worker_exit`` (the worker, on its way out): shuts down every observability handle of the
  process within its ``shutdown_timeout`` setting: queued spans and log records leave before
  it exits.

No ``post_fork`` hook is needed, even with ``--preload``: what a fork loses (the span batch
processor's and the Loki sink's threads, the exporter's connection) is re-created in the
child by ``os.register_at_fork`` handlers (see ``service_obs.forksafe``).

Only hook functions are defined here: gunicorn reads every public name of a config module
as a setting.
"""

from __future__ import annotations

from typing import Any


def on_starting(server: Any) -> None:
    """Wipe the multiprocess directory before the first worker starts."""
    from service_obs.multiprocess import multiprocess_dir, prepare_directory

    path = multiprocess_dir()
    if path:
        prepare_directory(path)


def child_exit(server: Any, worker: Any) -> None:
    """Bookkeeping for a worker that exited (runs in the master)."""
    from service_obs.multiprocess import mark_process_dead

    mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """SIGTERM/SIGINT left at their default action (uvicorn's worker does that) exit the worker
    normally, through gunicorn's ``worker_exit``; workers with their own handlers keep them."""
    import signal

    for signum in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _exit_normally)


def _exit_normally(signum: int, frame: Any) -> None:
    # SystemExit unwinds to gunicorn's spawn_worker, whose ``finally`` runs worker_exit.
    raise SystemExit(0)


def worker_exit(server: Any, worker: Any) -> None:
    """Flush and shut down this worker's telemetry (runs in the exiting worker)."""
    from service_obs.setup import shutdown_all

    shutdown_all()
