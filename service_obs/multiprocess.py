"""Exact metrics when a service runs as several worker processes (prometheus_client multiprocess mode).

Each worker process keeps its own metric values; whichever worker answers ``GET /metrics``
would report only its own share. prometheus_client's multiprocess mode is the standard
answer: with ``PROMETHEUS_MULTIPROC_DIR`` set *before the service starts* (in the shell or
the process manager, so every worker inherits it; prometheus_client reads it when first
imported), every counter, histogram and gauge writes to memory-mapped files in that
directory, and the exposition merges all of them on each scrape.

- ``instrument_app`` serves :func:`exposition_registry` on ``/metrics``: a fresh registry
  holding a ``MultiProcessCollector`` (the documented set-up: never the registry the metrics
  live in, which would report this worker's values a second time), ``python_info``, and
  ``process_*`` for every live worker with a ``pid`` label (prometheus_client's own
  ``ProcessCollector`` does not work in multiprocess mode; dashboards sum by instance).
- Gauges carry the ``multiprocess_mode`` that keeps their meaning (``agent_obs_active_runs``
  is ``livesum``: summed over live workers), see ``agent_obs.semconv.METRIC_MULTIPROCESS_MODES``.
- Wipe the directory before the first worker starts (:func:`prepare_directory`) and call
  :func:`mark_process_dead` when a worker exits (``service_obs.gunicorn_hooks`` does both
  for gunicorn), so a restarted worker neither loses nor double-counts: counters of a dead
  worker stay in its files and keep being summed; its live gauges go away.

What multiprocess mode cannot do (prometheus_client's limits): no exemplars (histograms are
exposed without ``trace_id``/``span_id``), no custom collectors (the GC collector is left
out), no ``Info``/``Enum`` metrics, no ``Gauge.set_function``, no removing label children.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry

from agent_obs.shortcuts import registered_collectors

ENV_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
_PID_IN_NAME = re.compile(r"_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    """The multiprocess directory from the environment, or None in single-process mode."""
    return os.environ.get(ENV_MULTIPROC_DIR) or os.environ.get("prometheus_multiproc_dir") or None


def is_multiprocess() -> bool:
    """True when prometheus_client keeps this process's values in mmap'd files.

    Decided by prometheus_client once, when it is first imported; this asks it, so a variable
    set later (too late to take effect) is not mistaken for multiprocess mode.
    """
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue  # the mmap'd value class in multiprocess mode


def prepare_directory(path: str | os.PathLike[str]) -> str:
    """Create ``path`` if needed and delete the ``*.db`` files a previous run left; returns it.

    prometheus_client requires the directory to be wiped between runs of the service (before
    the first worker starts), or counts from the last run are added to this one.
    """
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    for name in glob.glob(os.path.join(path, "*.db")):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass
    return path


def mark_process_dead(pid: int, path: str | None = None) -> None:
    """Bookkeeping for a worker that exited: its live gauges stop counting (counters stay)."""
    from prometheus_client import multiprocess

    path = path or multiprocess_dir()
    if path:
        multiprocess.mark_process_dead(pid, path)


def exposition_registry(registry: CollectorRegistry, path: str | None = None) -> CollectorRegistry:
    """The registry ``/metrics`` should serve: ``registry`` itself in single-process mode.

    In multiprocess mode, a new registry with the merged files of every worker, ``python_info``
    and per-worker ``process_*`` (see the module docstring).
    """
    if not is_multiprocess():
        return registry
    from prometheus_client import PlatformCollector
    from prometheus_client.multiprocess import MultiProcessCollector

    path = path or multiprocess_dir()
    merged = CollectorRegistry()
    merged.register(MergedWorkersCollector(MultiProcessCollector(None, path=path), path, registry))  # type: ignore[arg-type]
    PlatformCollector(registry=merged)
    merged.register(WorkerProcessCollector(path))  # type: ignore[arg-type]
    return merged


class MergedWorkersCollector:
    """prometheus_client's ``MultiProcessCollector``, after clearing the live gauges of dead
    workers.

    gunicorn's ``child_exit`` hook does that bookkeeping when a worker exits; other process
    managers (uvicorn's own ``--workers`` supervisor) have no such hook, so the scrape does
    it too: a crashed worker's runs stop counting as in progress.

    The files only hold values that were set, so a family nothing has touched yet would be
    missing from the scrape; the families defined in ``defined`` (the service's registry)
    are listed without samples instead, as a single process lists them.
    """

    def __init__(self, collector: Any, path: str | None, defined: CollectorRegistry | None = None) -> None:
        self._collector = collector
        self._path = path
        self._defined = defined

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        if self._path:
            for pid in _pids_with_files(self._path, live_gauges_only=True):
                if not _alive(pid):
                    mark_process_dead(pid, self._path)
        families = list(self._collector.collect())
        yield from families
        if self._defined is not None:
            yield from _untouched_families(self._defined, {f.name for f in families})


class WorkerProcessCollector:
    """``process_*`` metrics of every live process that has files in the multiprocess directory.

    Each series gets a ``pid`` label. Workers that exited are skipped (their counters are
    still in the merged metrics; their memory and CPU are gone with them).
    """

    def __init__(self, path: str | None) -> None:
        self.path = path

    def describe(self) -> list[Any]:
        return []  # not known until collect; keeps the registry from collecting at register time

    def collect(self) -> Iterator[Any]:
        from prometheus_client import ProcessCollector
        from prometheus_client.metrics_core import Metric

        families: dict[str, Any] = {}
        for pid in self._live_pids():
            collector = ProcessCollector(pid=lambda pid=pid: pid, registry=None)
            for metric in collector.collect():
                family = families.get(metric.name)
                if family is None:
                    family = families[metric.name] = Metric(metric.name, metric.documentation, metric.type)
                for sample in metric.samples:
                    family.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        yield from families.values()

    def _live_pids(self) -> list[int]:
        if not self.path:
            return []
        return sorted(pid for pid in _pids_with_files(self.path) if _alive(pid))


def _untouched_families(registry: CollectorRegistry, present: set[str]) -> Iterator[Any]:
    from prometheus_client.metrics import MetricWrapperBase

    for collector in registered_collectors(registry) or ():
        if isinstance(collector, MetricWrapperBase):
            for family in collector.describe():
                if family.name not in present:
                    yield family


def _pids_with_files(path: str, live_gauges_only: bool = False) -> set[int]:
    pids = set()
    for name in os.listdir(path):
        if live_gauges_only and not name.startswith("gauge_live"):
            continue
        match = _PID_IN_NAME.search(name)
        if match:
            pids.add(int(match.group(1)))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return os.path.exists(f"/proc/{pid}/stat")
