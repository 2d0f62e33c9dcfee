#!/usr/bin/env python3
"""Per-invoke overhead of AgentObserver against no callbacks, a no-op and a minimal span handler.

Why: the handler runs on every node, LLM call and tool call of every agent run, so its cost
is paid on every request. This script times one realistic tool-calling LangGraph agent
(``workload.py``: 31 runs, 62 callback events per invoke, scripted model) under each
configuration, alternating the configurations in rounds (A B C ... C B A ...) so slow drifts
of a noisy machine cancel, and reports overhead per invoke and per callback event as the
median of per-round paired differences against the no-callback baseline, and as a ratio to
the minimal span-per-run handler's overhead. It then measures streaming (time to first
token, per-token callback cost), memory growth over many invokes once warm, and what is left
behind by abandoned runs (streams broken off, tasks cancelled).

    .venv/bin/python bench/overhead.py            # full run, a few minutes on 2 cores
    .venv/bin/python bench/overhead.py --quick    # smoke run, ~20 s
    .venv/bin/python bench/overhead.py --json bench/results/overhead.json --md bench/results/overhead.md
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workload
from bench_agent_obs import make_observer, sampled_provider
from langchain_core.messages import AIMessageChunk
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TARGETS = {"agent-obs full": 1.3, "agent-obs content": 2.0}


@dataclass
class Config:
    name: str
    callbacks: list[Any] = field(default_factory=list)
    provider: Any = None
    exporter: workload.CountingExporter | None = None
    observer: Any = None

    def flush(self) -> None:
        if self.provider is not None:
            self.provider.force_flush()

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


def _pipeline() -> tuple[TracerProvider, workload.CountingExporter]:
    exporter = workload.CountingExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


def _observer_config(name: str, **options: Any) -> Callable[[], Config]:
    def build() -> Config:
        provider, exporter = _pipeline()
        observer = make_observer(provider, **options)
        return Config(name, [observer], provider, exporter, observer)

    return build


def _public(name: str, base: str) -> Callable[[], Config]:
    """``base`` (full, content or sampled) with private-internals shortcut ``name`` (or ``all``)
    switched off: the public path it stands for (agent_obs/shortcuts.py)."""

    def build() -> Config:
        from agent_obs import shortcuts

        names = () if name == "all" else (name,)
        with shortcuts.public_only(*names):
            config = BUILDERS[base]()
        config.name = f"{config.name} public:{name}"
        return config

    return build


def _sampled() -> Config:
    exporter = workload.CountingExporter()
    provider = sampled_provider(exporter, 0.1)
    observer = make_observer(provider)
    return Config("agent-obs sampled10", [observer], provider, exporter, observer)


def _minimal() -> Config:
    provider, exporter = _pipeline()
    return Config("minimal span handler", [workload.MinimalSpanHandler(provider.get_tracer("bench"))],
                  provider, exporter)


BUILDERS: dict[str, Callable[[], Config]] = {
    "baseline": lambda: Config("baseline"),
    "noop": lambda: Config("no-op handler", [workload.NoopHandler()]),
    "minimal": _minimal,
    "spans": _observer_config("agent-obs spans", logs=None),
    "full": _observer_config("agent-obs full"),
    "debuglogs": _observer_config("agent-obs full+DEBUG logs", logs="DEBUG"),
    "content": _observer_config("agent-obs content", capture_content=True),
    "sampled": _sampled,
}
DESCRIPTIONS = {
    "baseline": "no callbacks",
    "no-op handler": "BaseCallbackHandler with every on_* a no-op (LangChain's dispatch cost)",
    "minimal span handler": "run_id -> span dict, start/end only, no attributes",
    "agent-obs spans": "AgentObserver: spans + metrics, logger without sinks",
    "agent-obs full": "AgentObserver: spans + metrics + logs (null sink at INFO), content off",
    "agent-obs full+DEBUG logs": "as full, null sink at DEBUG (all 25 log records per invoke formatted)",
    "agent-obs content": "as full, capture_content=True",
    "agent-obs sampled10": "as full, ParentBased(TraceIdRatioBased(0.1)) on its own provider",
}


# --- timing -----------------------------------------------------------------------------
def _cfg(config: Config) -> dict[str, Any] | None:
    return {"callbacks": list(config.callbacks)} if config.callbacks else None


def invoke_once(graph: Any, config: Config, check: int | None = None) -> int:
    cfg = _cfg(config)
    start = time.perf_counter_ns()
    out = graph.invoke(workload.graph_input(), cfg)
    elapsed = time.perf_counter_ns() - start
    if check is not None and len(out["messages"]) != check:
        raise RuntimeError(f"{config.name}: the graph produced {len(out['messages'])} messages, not {check}")
    return elapsed


def stream_once(graph: Any, config: Config, check: int | None = None) -> tuple[int, int]:
    cfg = _cfg(config)
    start = time.perf_counter_ns()
    first = 0
    tokens = 0
    for chunk, _ in graph.stream(workload.graph_input(), cfg, stream_mode="messages"):
        if isinstance(chunk, AIMessageChunk) and chunk.content:
            tokens += 1
            if not first:
                first = time.perf_counter_ns()
    elapsed = time.perf_counter_ns() - start
    if check is not None and tokens != check:
        raise RuntimeError(f"{config.name}: streamed {tokens} tokens, not {check}")
    return elapsed, first - start


def timed_rounds(graph: Any, configs: list[Config], *, stream: bool, rounds: int, block: int,
                 warmup: int, check: int) -> dict[str, dict[str, list[float]]]:
    data = {c.name: {"block_med": [], "ttft_med": [], "cpu": [], "all": []} for c in configs}
    run = stream_once if stream else invoke_once
    for config in configs:
        for _ in range(warmup):
            run(graph, config, check)
        config.flush()
    for r in range(rounds):
        for config in configs if r % 2 == 0 else list(reversed(configs)):
            gc.collect()
            run(graph, config, check)  # untimed: checks the output after the switch
            config.flush()
            cpu0 = time.process_time_ns()
            times, ttfts = [], []
            for _ in range(block):
                if stream:
                    total, first = stream_once(graph, config)
                    times.append(total)
                    ttfts.append(first)
                else:
                    times.append(invoke_once(graph, config))
            config.flush()  # export work lands in this block's CPU time
            d = data[config.name]
            d["cpu"].append((time.process_time_ns() - cpu0) / block)
            d["block_med"].append(statistics.median(times))
            d["all"].extend(times)
            if ttfts:
                d["ttft_med"].append(statistics.median(ttfts))
    return data


def _quantile(values: list[float], q: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summarize(data: dict[str, dict[str, list[float]]], events: int, reference: str) -> dict[str, dict[str, Any]]:
    base = data["baseline"]
    rows: dict[str, dict[str, Any]] = {}
    for name, d in data.items():
        diffs = [a - b for a, b in zip(d["block_med"], base["block_med"])]
        cpu_diffs = [a - b for a, b in zip(d["cpu"], base["cpu"])]
        row = {
            "median_ms": statistics.median(d["all"]) / 1e6,
            "overhead_us": statistics.median(diffs) / 1e3,
            "overhead_iqr_us": [_quantile(diffs, 0.25) / 1e3, _quantile(diffs, 0.75) / 1e3],
            "overhead_us_per_event": statistics.median(diffs) / 1e3 / events,
            "cpu_overhead_us": statistics.median(cpu_diffs) / 1e3,
        }
        if d["ttft_med"]:
            row["ttft_us"] = statistics.median(d["ttft_med"]) / 1e3
            row["ttft_overhead_us"] = statistics.median(
                [a - b for a, b in zip(d["ttft_med"], base["ttft_med"])]) / 1e3
        rows[name] = row
    ref = rows.get(reference, {}).get("overhead_us")
    ref_cpu = rows.get(reference, {}).get("cpu_overhead_us")
    for row in rows.values():
        row["ratio_to_minimal"] = row["overhead_us"] / ref if ref and ref > 0 else float("nan")
        row["cpu_ratio_to_minimal"] = row["cpu_overhead_us"] / ref_cpu if ref_cpu and ref_cpu > 0 else float("nan")
    return rows


def token_cost(configs: list[Config], tokens: int, rounds: int) -> dict[str, float]:
    """µs per on_llm_new_token through LangChain's CallbackManager, minus the baseline's."""
    from langchain_core.callbacks import CallbackManager
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult

    chunks = [(w, ChatGenerationChunk(message=AIMessageChunk(content=w, id="t")))
              for w in workload.words(workload.ANSWER)]
    per: dict[str, list[float]] = {c.name: [] for c in configs}
    for r in range(rounds):
        for config in configs if r % 2 == 0 else list(reversed(configs)):
            manager = CallbackManager.configure(inheritable_callbacks=list(config.callbacks) or None)
            run = manager.on_chat_model_start(
                {"name": "ScriptedModel", "id": ["bench", "ScriptedModel"]}, [[HumanMessage(workload.QUESTION)]],
                invocation_params={"model_name": workload.MODEL_NAME, "stream": True}, name="ScriptedModel")[0]
            start = time.perf_counter_ns()
            for i in range(tokens):
                text, chunk = chunks[i % len(chunks)]
                run.on_llm_new_token(text, chunk=chunk)
            per[config.name].append((time.perf_counter_ns() - start) / tokens / 1e3)
            run.on_llm_end(LLMResult(generations=[[ChatGeneration(message=AIMessage(workload.ANSWER))]]))
            config.flush()
    base = per["baseline"]
    return {n: statistics.median([a - b for a, b in zip(v, base)]) for n, v in per.items()}


# --- memory -----------------------------------------------------------------------------
def memory_growth(graph: Any, config: Config, invokes: int, warmup: int) -> dict[str, Any]:
    """Live allocator blocks and RSS over ``invokes`` invokes after ``warmup``, in this process."""
    for _ in range(warmup):
        invoke_once(graph, config)
    config.flush()
    gc.collect()
    samples = [(0, sys.getallocatedblocks(), _rss())]
    step = max(1, invokes // 4)
    for i in range(1, invokes + 1):
        invoke_once(graph, config)
        if i % step == 0 or i == invokes:
            config.flush()
            gc.collect()
            samples.append((i, sys.getallocatedblocks(), _rss()))
    half = samples[len(samples) // 2]
    last = samples[-1]
    return {
        "invokes": invokes,
        "blocks_per_invoke_2nd_half": (last[1] - half[1]) / max(1, last[0] - half[0]),
        "rss_growth_kib": (last[2] - samples[0][2]) / 1024,
        "open_runs_after": config.observer.open_runs if config.observer is not None else 0,
        "samples": samples,
    }


def abandoned_runs(graph: Any, config: Config, count: int) -> dict[str, Any]:
    """Streams broken off after the first token, and ainvoke tasks cancelled mid-run."""
    observer = config.observer
    cfg = _cfg(config)
    for _ in range(20):  # warm
        stream = graph.stream(workload.graph_input(), cfg, stream_mode="messages")
        next(stream)
        stream.close()
    gc.collect()
    blocks0 = sys.getallocatedblocks()
    for _ in range(count):
        stream = graph.stream(workload.graph_input(), cfg, stream_mode="messages")
        next(stream)
        stream.close()
    config.flush()
    gc.collect()
    broken = {"streams": count, "open_runs_after": observer.open_runs,
              "blocks_per_stream": (sys.getallocatedblocks() - blocks0) / count}

    async def cancel_many() -> int:
        cancelled = 0
        for i in range(count):
            task = asyncio.ensure_future(graph.ainvoke(workload.graph_input(), cfg))
            for _ in range(3 + i % 7):  # cancel at varying points of the run
                await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled += 1
        return cancelled

    gc.collect()
    blocks0 = sys.getallocatedblocks()
    cancelled = asyncio.run(cancel_many())
    config.flush()
    gc.collect()
    tasks = {"tasks": count, "cancelled": cancelled, "open_runs_after": observer.open_runs,
             "blocks_per_task": (sys.getallocatedblocks() - blocks0) / count}
    return {"broken_streams": broken, "cancelled_tasks": tasks}


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


# --- output -----------------------------------------------------------------------------
def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "cpus": str(os.cpu_count())}
    for name in ("agent-obs", "langchain-core", "langgraph", "opentelemetry-sdk", "prometheus-client", "loguru"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def markdown(result: dict[str, Any]) -> str:
    inv, stm, tok = result["invoke"], result.get("stream", {}), result.get("token_us", {})
    ev = result["events_per_invoke"]
    lines = [
        f"Overhead per invoke ({ev} callback events, {result['baseline_ms']:.1f} ms baseline; "
        "median of per-round paired differences):",
        "",
        "| config | ovh µs/invoke [IQR] | µs/event | × minimal | CPU ovh µs | × minimal (CPU) "
        "| TTFT ovh µs | µs/token | spans/invoke |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in inv.items():
        if name == "baseline":
            continue
        s = stm.get(name, {})
        iqr = f"[{r['overhead_iqr_us'][0]:,.0f}, {r['overhead_iqr_us'][1]:,.0f}]"
        lines.append(
            f"| {name} | {r['overhead_us']:,.0f} {iqr} | {r['overhead_us_per_event']:.1f} | "
            f"{r['ratio_to_minimal']:.2f} | {r['cpu_overhead_us']:,.0f} | {r['cpu_ratio_to_minimal']:.2f} | "
            f"{s.get('ttft_overhead_us', float('nan')):,.0f} | {tok.get(name, float('nan')):.2f} | "
            f"{r.get('spans_per_invoke', 0):.1f} |")
    mem = result.get("memory")
    if mem:
        lines += ["", "Memory (agent-obs full, this process, after warm-up):", "",
                  "| invokes | live blocks/invoke (2nd half) | RSS growth KiB | open runs after |",
                  "| --- | --- | --- | --- |",
                  f"| {mem['invokes']:,} | {mem['blocks_per_invoke_2nd_half']:.2f} | "
                  f"{mem['rss_growth_kib']:,.0f} | {mem['open_runs_after']} |"]
    ab = result.get("abandoned")
    if ab:
        b, t = ab["broken_streams"], ab["cancelled_tasks"]
        lines += ["", "Abandoned runs (agent-obs full):", "",
                  "| how | runs | open runs after | live blocks per abandoned run |", "| --- | --- | --- | --- |",
                  f"| stream closed after first token | {b['streams']} | {b['open_runs_after']} | "
                  f"{b['blocks_per_stream']:.2f} |",
                  f"| ainvoke task cancelled mid-run | {t['tasks']} ({t['cancelled']} cancelled) | "
                  f"{t['open_runs_after']} | {t['blocks_per_task']:.2f} |"]
    return "\n".join(lines) + "\n"


def verdicts(result: dict[str, Any]) -> list[str]:
    inv = result["invoke"]
    out = []
    for name, limit in TARGETS.items():
        if name in inv:
            ratio = inv[name]["ratio_to_minimal"]
            cpu_ratio = inv[name]["cpu_ratio_to_minimal"]
            state = "met" if ratio <= limit else f"NOT met (by {ratio / limit - 1:.0%})"
            out.append(f"{name}: {ratio:.2f}x minimal wall overhead (CPU {cpu_ratio:.2f}x), target <= {limit}x: {state}")
    return out


# --- main -------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="baseline,noop,minimal,spans,full,debuglogs,content,sampled",
                    help=f"comma-separated among {', '.join(BUILDERS)} (baseline is always included)")
    ap.add_argument("--rounds", type=int, default=5, help="tool rounds per agent run")
    ap.add_argument("--invoke-rounds", type=int, default=16)
    ap.add_argument("--block", type=int, default=20, help="timed invokes per config per round")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--stream-rounds", type=int, default=8, help="0 skips streaming")
    ap.add_argument("--token-bench", type=int, default=2000, help="tokens per config per round (0 skips)")
    ap.add_argument("--mem-invokes", type=int, default=2000, help="0 skips the memory phase")
    ap.add_argument("--mem-warmup", type=int, default=200)
    ap.add_argument("--abandoned", type=int, default=300, help="broken-off streams and cancelled tasks (0 skips)")
    ap.add_argument("--public", default="",
                    help="comma-separated shortcut names of agent_obs/shortcuts.py (or 'all'): adds the 'full' "
                         "configuration with each one switched off, to compare both paths in the same run")
    ap.add_argument("--public-base", default="full", help="the configuration --public varies (full, content, sampled)")
    ap.add_argument("--json", default=None, help="write the result as JSON here")
    ap.add_argument("--md", default=None, help="write the tables as markdown here")
    ap.add_argument("--quick", action="store_true", help="smoke run (~20 s)")
    ap.add_argument("--workload", choices=("agent", "supervisor"), default="agent",
                    help="agent: workload.py's tool agent; supervisor: supervisor_workload.py's langgraph-supervisor "
                         "team around it (handoffs, a named sub-agent; no streaming phase: its tokens stream in "
                         "the worker's subgraph)")
    args = ap.parse_args(argv)
    if args.workload == "supervisor":
        args.stream_rounds = 0
    if args.quick:
        args.invoke_rounds, args.block, args.warmup = 4, 6, 5
        args.stream_rounds, args.token_bench = 2, 300
        args.mem_invokes, args.mem_warmup, args.abandoned = 200, 30, 40
    return args


def build_workload(args: argparse.Namespace) -> tuple[Any, int]:
    """The graph ``--workload`` names and the message count each of its invokes must produce."""
    if args.workload == "supervisor":
        import supervisor_workload

        return supervisor_workload.build_graph(args.rounds), supervisor_workload.expected_messages()
    return workload.build_graph(args.rounds), workload.expected_messages(args.rounds)


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> dict[str, Any]:
    wanted = ["baseline"] + [n.strip() for n in args.configs.split(",") if n.strip() and n.strip() != "baseline"]
    unknown = [n for n in wanted if n not in BUILDERS]
    if unknown:
        raise SystemExit(f"unknown configs {unknown}; choose among {', '.join(BUILDERS)}")
    configs = [BUILDERS[n]() for n in wanted]
    for name in (n.strip() for n in args.public.split(",")):
        if name:
            configs.append(_public(name, args.public_base)())
    graph, check = build_workload(args)
    counter = _EventCounter()
    invoke_once(graph, Config("count", [counter]), check)
    events = sum(counter.counts.values())
    reference = "minimal span handler"
    started = time.time()
    try:
        spans_before = {c.name: c.exporter.spans if c.exporter else 0 for c in configs}
        inv_data = timed_rounds(graph, configs, stream=False, rounds=args.invoke_rounds, block=args.block,
                                warmup=args.warmup, check=check)
        invoke = summarize(inv_data, events, reference)
        timed = args.warmup + args.invoke_rounds * (args.block + 1)
        for c in configs:
            c.flush()
            invoke[c.name]["spans_per_invoke"] = ((c.exporter.spans - spans_before[c.name]) / timed
                                                  if c.exporter else 0.0)
        result: dict[str, Any] = {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "versions": versions(),
            "settings": {k: v for k, v in vars(args).items()},
            "events_per_invoke": events,
            "event_counts": dict(sorted(counter.counts.items())),
            "baseline_ms": invoke["baseline"]["median_ms"],
            "descriptions": {c.name: DESCRIPTIONS.get(c.name, c.name.replace(" public:", " on the public path of "))
                             for c in configs},
            "invoke": invoke,
        }
        out(f"invoke phase done ({time.time() - started:.0f} s)")
        if args.stream_rounds:
            stm = timed_rounds(graph, configs, stream=True, rounds=args.stream_rounds,
                               block=max(3, args.block * 3 // 4), warmup=max(2, args.warmup // 3),
                               check=workload.streamed_tokens(args.rounds))
            result["stream"] = summarize(stm, events, reference)
            out(f"stream phase done ({time.time() - started:.0f} s)")
        if args.token_bench:
            result["token_us"] = token_cost(configs, args.token_bench, 5)
        full = next((c for c in configs if c.name == "agent-obs full"), None)
        if full is not None and args.mem_invokes:
            result["memory"] = memory_growth(graph, full, args.mem_invokes, args.mem_warmup)
            out(f"memory phase done ({time.time() - started:.0f} s)")
        if full is not None and args.abandoned:
            result["abandoned"] = abandoned_runs(graph, full, args.abandoned)
        result["wall_s"] = time.time() - started
    finally:
        for c in configs:
            c.shutdown()
    return result


class _EventCounter(workload.NoopHandler):
    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_") and name != "on_llm_new_token":
            counts = object.__getattribute__(self, "counts")

            def hit(*args: Any, **kwargs: Any) -> None:
                counts[name] = counts.get(name, 0) + 1

            return hit
        return object.__getattribute__(self, name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    table = markdown(result)
    print()
    print(table)
    for line in verdicts(result):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
    if args.md:
        with open(args.md, "w") as f:
            f.write(f"# bench/overhead.py, {result['date']}\n\n")
            f.write("Versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + "\n\n")
            f.write(table)
            f.write("\n" + "\n".join(f"- {v}" for v in verdicts(result)) + "\n")
    print(f"\n(total {result['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
