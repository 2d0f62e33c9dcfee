#!/usr/bin/env python3
"""Where AgentObserver spends its time on the overhead workload: per callback, per function.

Three views of the same workload (``workload.py``, spans + metrics + logs, content off):

1. Per callback: a forwarding handler times each ``on_*`` call of the observer (and of the
   minimal span handler, for comparison) with ``perf_counter_ns``: the handler's own cost,
   without LangChain's dispatch.
2. pyinstrument (sampling, low distortion): the call tree below the observer's callbacks, on
   the main thread only (parallel tool calls run on pool threads and show as lock waits).
3. cProfile (deterministic, inflates small calls): self time per function in agent_obs,
   OpenTelemetry, prometheus_client and loguru, with call counts per invoke, for the full
   observer and for its core alone (every sink a no-op).
4. Shares (pyinstrument samples of real invokes, main thread): the time spent inside each
   handler's callbacks, split by whose code runs: agent_obs's own, the OpenTelemetry SDK's,
   prometheus_client's, loguru's. Unlike the replayed or timed views, this includes what a
   real invoke costs the handler's code between LangGraph's own work (cold caches).

    .venv/bin/python bench/profile_hot_path.py [--invokes 1500] [--out bench/results]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import threading
import time
from collections import defaultdict
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workload
from bench_agent_obs import make_observer
from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

CALLBACKS = ("on_chain_start", "on_chain_end", "on_chain_error", "on_chat_model_start", "on_llm_start",
             "on_llm_new_token", "on_llm_end", "on_llm_error", "on_tool_start", "on_tool_end", "on_tool_error")
PACKAGES = ("agent_obs", "opentelemetry", "prometheus_client", "loguru")


class TimingProxy(BaseCallbackHandler):
    """Forwards every callback to ``inner`` and accumulates its time per callback name (wall
    time by default; ``clock=time.thread_time_ns`` counts only the thread's CPU time, which a
    busy machine disturbs less)."""

    run_inline = True
    raise_error = False

    def __init__(self, inner: BaseCallbackHandler, clock: Any = time.perf_counter_ns) -> None:
        self.inner = inner
        self._clock = clock
        self.ns: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)
        for name in CALLBACKS:
            setattr(self, name, self._timed(name, getattr(inner, name)))

    def _timed(self, name: str, method: Any) -> Any:
        ns, calls, clock = self.ns, self.calls, self._clock

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return method(*args, **kwargs)
            finally:
                ns[name] += clock() - start
                calls[name] += 1

        return timed


def _pipeline() -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(workload.CountingExporter()))
    return provider


def per_callback(graph: Any, handler: BaseCallbackHandler, invokes: int,
                 clock: Any = time.perf_counter_ns) -> dict[str, Any]:
    proxy = TimingProxy(handler, clock)
    cfg = {"callbacks": [proxy]}
    for _ in range(50):
        graph.invoke(workload.graph_input(), cfg)
    proxy.ns.clear()
    proxy.calls.clear()
    for _ in range(invokes):
        graph.invoke(workload.graph_input(), cfg)
    rows = {name: {"calls_per_invoke": proxy.calls[name] / invokes,
                   "us_per_call": proxy.ns[name] / proxy.calls[name] / 1e3,
                   "us_per_invoke": proxy.ns[name] / invokes / 1e3}
            for name in sorted(proxy.calls, key=lambda n: -proxy.ns[n])}
    return {"rows": rows, "total_us_per_invoke": sum(proxy.ns.values()) / invokes / 1e3}


class _NullSink:
    """Stands in for one of the observer's sinks in the ablation: every method does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class _TracerWithoutAttributes:
    """Starts spans with no attributes (the ablation's view of a tracer)."""

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer

    def start_span(self, name: str, **kwargs: Any) -> Any:
        kwargs["attributes"] = None
        return self._tracer.start_span(name, **kwargs)


def _without_attributes(observer: Any) -> Any:
    """The observer's spans start bare and are written nothing (genai_spans still maps)."""
    spans = observer._spans
    spans._tracer = _TracerWithoutAttributes(spans._tracer)
    spans._write = lambda span, attributes: None
    return observer


def _with(observer: Any, **sinks: Any) -> Any:
    """``observer`` with its metrics (``_metrics=``) and/or log (``_logs=``) sink replaced in the
    dispatcher's list."""
    from agent_obs.dispatch import Dispatcher

    kinds = {"_metrics": "MetricsSink", "_logs": "LogSink"}
    current = list(observer._dispatch._sinks)
    for name, sink in sinks.items():
        if name == "_metrics":
            observer._metrics = sink
        current = [sink if type(s).__name__ == kinds[name] else s for s in current]
    observer._dispatch = Dispatcher(observer._spans, current)
    return observer


def ablation(graph: Any, provider: TracerProvider, invokes: int, rounds: int = 4) -> dict[str, float]:
    """In-handler µs per invoke with parts of the observer switched off (private attributes:
    a diagnostic for the hot path, not an API). Differences price each part."""
    from opentelemetry.trace import NoOpTracerProvider

    variants = {
        "full (spans + metrics + logs at INFO)": lambda: make_observer(provider),
        "logs off (no loguru sink)": lambda: make_observer(provider, logs=None),
        "metrics sink replaced by a no-op": lambda: _with(make_observer(provider), _metrics=_NullSink()),
        "no span attributes (start_span with {})": lambda: _without_attributes(make_observer(provider)),
        "no-op tracer provider (non-recording spans)": lambda: make_observer(NoOpTracerProvider()),
        "all three sinks no-op (run table + callback parsing only)": lambda: _with(
            make_observer(NoOpTracerProvider(), logs=None), _metrics=_NullSink(), _logs=_NullSink()),
        "minimal span handler (reference)": lambda: workload.MinimalSpanHandler(provider.get_tracer("bench")),
    }
    handlers = {name: build() for name, build in variants.items()}
    per: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(rounds):
        for name in list(variants) if r % 2 == 0 else list(reversed(variants)):
            per[name].append(per_callback(graph, handlers[name], invokes)["total_us_per_invoke"])
    return {name: sorted(v)[len(v) // 2] for name, v in per.items()}


def pyinstrument_profile(graph: Any, observer: Any, invokes: int, want_html: bool = False) -> tuple[str, str]:
    from pyinstrument import Profiler

    cfg = {"callbacks": [observer]}
    for _ in range(50):
        graph.invoke(workload.graph_input(), cfg)
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(invokes):
        graph.invoke(workload.graph_input(), cfg)
    profiler.stop()
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    return text, profiler.output_html() if want_html else ""


_PACKAGES_BY_LABEL = (("/opentelemetry/", "OpenTelemetry SDK/API"), ("/prometheus_client/", "prometheus_client"),
                      ("/loguru/", "loguru"), ("/agent_obs/", "agent_obs's own code"))
_SHARE_LABELS = [label for _, label in _PACKAGES_BY_LABEL] + ["handler code"]
_SHARE_HANDLERS = {"AgentObserver": "observer.py", "minimal span handler": "workload.py"}


def _shares_child(which: str, seconds: float) -> None:
    """The profiled process of ``shares``: invokes in a loop, then prints count and wall time."""
    graph = workload.build_graph()
    handler = (make_observer(_pipeline()) if which == "AgentObserver"
               else workload.MinimalSpanHandler(_pipeline().get_tracer("bench")))
    cfg = {"callbacks": [handler]}
    for _ in range(100):
        graph.invoke(workload.graph_input(), cfg)
    invokes, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        _profiled_invoke(graph, cfg)
        invokes += 1
    print("shares-child-result", invokes, time.perf_counter() - started, flush=True)


def _profiled_invoke(graph: Any, cfg: dict[str, Any]) -> None:
    graph.invoke(workload.graph_input(), cfg)


def shares(which: str, seconds: float = 20.0) -> dict[str, float] | None:
    """µs per invoke inside a handler's callbacks, by whose code runs, from py-spy samples.

    py-spy samples another process from outside, so unlike pyinstrument or cProfile it adds
    nothing to each Python call: call-heavy code is not inflated, and the samples include the
    cache misses a real invoke costs the handler. Time in the stdlib (locks, ``time``) counts
    for the package that called it. Returns None when py-spy is not installed.
    """
    import shutil
    import subprocess
    import tempfile

    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        return None
    child = [sys.executable, os.path.abspath(__file__), "--shares-child", which, str(seconds)]

    def run(command: list[str]) -> float:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        line = next(line for line in out.splitlines() if line.startswith("shares-child-result"))
        invokes, wall = line.split()[1:]
        return float(wall) / int(invokes) * 1e6

    invoke_us = run(child)  # unprofiled: py-spy pauses the process at every sample
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "stacks.txt")
        run([spy, "record", "--rate", "400", "--format", "raw", "--full-filenames", "--output", raw, "--"] + child)
        with open(raw) as f:
            stacks = [line.rstrip("\n").rpartition(" ") for line in f]
    totals: dict[str, float] = defaultdict(float)
    in_invokes = 0
    for stack, _, count in stacks:
        frames = [frame.partition(" (") for frame in stack.split(";")]
        # The loop's invokes on the main thread, and the tool calls ToolNode runs on pool threads.
        if not any(function in ("_profiled_invoke", "_WorkItem.run") for function, _, _ in frames):
            continue
        samples = int(count)
        in_invokes += samples
        owner = None
        for function, _, where in frames:
            path = where.split(":")[0]
            if owner is None:
                method = function.rpartition(".")[2]
                if not (method.startswith("on_") and path.rpartition("/")[2] == _SHARE_HANDLERS[which]):
                    continue
                owner = "handler code"
            for package, label in _PACKAGES_BY_LABEL:
                if package in path:
                    owner = label
                    break
        if owner is not None:
            totals[owner] += samples
    # Shares of the sampled invoke time, priced at the unprofiled time per invoke (the pool
    # threads' samples overlap the main thread's, so this slightly understates each part).
    result = {label: totals.get(label, 0.0) / max(in_invokes, 1) * invoke_us for label in _SHARE_LABELS}
    result["whole invoke"] = invoke_us
    return result


def cprofile_table(graph: Any, observer: Any, invokes: int, top: int = 35) -> str:
    """Deterministic profile of every thread: ToolNode runs parallel tool calls on pool threads."""
    cfg = {"callbacks": [observer]}
    for _ in range(50):
        graph.invoke(workload.graph_input(), cfg)
    profiles: list[cProfile.Profile] = []

    def start_in_thread(*_: Any) -> None:
        thread_profile = cProfile.Profile()
        profiles.append(thread_profile)
        thread_profile.enable()  # replaces this hook for the rest of the thread

    prof = cProfile.Profile()
    threading.setprofile(start_in_thread)
    prof.enable()
    try:
        for _ in range(invokes):
            graph.invoke(workload.graph_input(), cfg)
    finally:
        prof.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
    stats = pstats.Stats(prof)
    for thread_profile in profiles:
        stats.add(thread_profile)
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if any(f"/{p}/" in filename for p in PACKAGES):
            short = filename.split("site-packages/")[-1].split("/work/main/")[-1]
            rows.append((tt, ct, nc, f"{short}:{line}({func})"))
    rows.sort(reverse=True)
    out = io.StringIO()
    out.write(f"cProfile over {invokes} invokes, all threads (times inflated by the profiler; compare, don't add)\n")
    out.write(f"{'self µs/inv':>11} {'cum µs/inv':>11} {'calls/inv':>10}  function\n")
    for tt, ct, nc, name in rows[:top]:
        out.write(f"{tt / invokes * 1e6:>11.1f} {ct / invokes * 1e6:>11.1f} {nc / invokes:>10.1f}  {name}\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--invokes", type=int, default=1500)
    ap.add_argument("--out", default=None, help="folder for profile-*.txt and profile-callbacks.md")
    ap.add_argument("--html", action="store_true", help="also write pyinstrument's HTML (large) to --out")
    ap.add_argument("--shares-child", nargs=2, metavar=("HANDLER", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.shares_child:
        _shares_child(args.shares_child[0], float(args.shares_child[1]))
        return 0
    graph = workload.build_graph()
    provider = _pipeline()
    try:
        observer = make_observer(provider)
        minimal = workload.MinimalSpanHandler(_pipeline().get_tracer("bench"))
        report = io.StringIO()
        for title, handler in (("AgentObserver (spans + metrics + logs, content off)", observer),
                               ("minimal span handler", minimal)):
            result = per_callback(graph, handler, args.invokes)
            report.write(f"\n{title}: {result['total_us_per_invoke']:.0f} µs per invoke inside the handler\n\n")
            report.write("| callback | calls/invoke | µs/call | µs/invoke |\n| --- | --- | --- | --- |\n")
            for name, r in result["rows"].items():
                report.write(f"| {name} | {r['calls_per_invoke']:.0f} | {r['us_per_call']:.1f} | "
                             f"{r['us_per_invoke']:.0f} |\n")
        report.write("\nAblation: µs per invoke inside the handler (median of 4 ABAB rounds)\n\n")
        report.write("| variant | µs/invoke | saved vs full |\n| --- | --- | --- |\n")
        ablated = ablation(graph, provider, max(100, args.invokes // 5))
        full_us = next(iter(ablated.values()))
        for name, us in ablated.items():
            report.write(f"| {name} | {us:.0f} | {full_us - us:+.0f} |\n")
        share_rows = {title: shares(title) for title in _SHARE_HANDLERS}
        if all(share_rows.values()):
            report.write("\nShares: µs per invoke inside the handler's callbacks by whose code runs (py-spy "
                         "samples of real invokes from outside the process: main thread and the pool "
                         "threads of parallel tool calls)\n\n")
            report.write("| handler | " + " | ".join(_SHARE_LABELS) + " | all callbacks | whole invoke |\n")
            report.write("| --- |" + " --- |" * (len(_SHARE_LABELS) + 2) + "\n")
            for title, row in share_rows.items():
                inside = sum(row[label] for label in _SHARE_LABELS)
                cells = [f"{row[label]:.0f}" for label in _SHARE_LABELS]
                report.write(f"| {title} | " + " | ".join(cells) + f" | {inside:.0f} | {row['whole invoke']:.0f} |\n")
        else:
            report.write("\n(Shares skipped: py-spy is not installed; `pip install py-spy`.)\n")
        print(report.getvalue())
        text, html = pyinstrument_profile(graph, make_observer(provider), args.invokes, args.html)
        print(text)
        table = cprofile_table(graph, make_observer(provider), max(200, args.invokes // 3))
        print(table)
        from opentelemetry.trace import NoOpTracerProvider

        core = _with(make_observer(NoOpTracerProvider(), logs=None), _metrics=_NullSink(), _logs=_NullSink())
        core_table = "Core only (all three sinks no-op): " + cprofile_table(graph, core, max(200, args.invokes // 3))
        print(core_table)
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "profile-callbacks.md"), "w") as f:
                f.write(report.getvalue())
            with open(os.path.join(args.out, "profile-pyinstrument.txt"), "w") as f:
                f.write(text)
            if args.html:
                with open(os.path.join(args.out, "profile-pyinstrument.html"), "w") as f:
                    f.write(html)
            with open(os.path.join(args.out, "profile-cprofile.txt"), "w") as f:
                f.write(table)
            with open(os.path.join(args.out, "profile-cprofile-core.txt"), "w") as f:
                f.write(core_table)
    finally:
        provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
