"""Load recorded runs from a trace file or from Tempo's HTTP API into ``Trace`` objects.

::

    traces = load_file("telemetry/traces.jsonl")       # every trace in the file
    traces.summaries()                                  # agent, start, duration, outcome
    trace = traces.get("4bf92f3577b34da6a3ce929d0e0e4736")   # or traces.latest()

    tempo = TempoClient("http://127.0.0.1:3200")
    tempo.search(agent="optimizer", outcome="error", min_duration_ms=2000)
    trace = tempo.get_trace(trace_id)

    trace = load_trace(source, trace_id=None)           # either, from a path or a URL

Every failure a user can cause raises ``ReplayError`` with a one-line message naming it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from agent_obs import semconv as sc
from agent_obs.errors import ReplayError
from agent_obs.otlp_json import (
    FlatSpan,
    TraceFileError,
    as_request,
    attributes_dict,
    iter_spans,
    parse_trace_id,
    read_requests,
)
from agent_obs.replay.model import Trace, TraceSummary


def _normalize_trace_id(trace_id: str) -> str:
    try:
        parsed = parse_trace_id(trace_id.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ReplayError(f"{trace_id!r} is not a trace id (32 hex digits)")
    return parsed


def traces_from_spans(spans: Iterable[FlatSpan]) -> dict[str, Trace]:
    """Group spans by trace id (a trace may span many lines) and build each tree."""
    grouped: dict[str, list[FlatSpan]] = {}
    for span in spans:
        grouped.setdefault(span.trace_id, []).append(span)
    return {tid: Trace.from_spans(spans) for tid, spans in grouped.items()}


@dataclass
class TraceFile:
    """The traces of one file, and the lines that could not be read."""

    path: str
    traces: dict[str, Trace]
    errors: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.traces)

    def __iter__(self) -> Iterator[Trace]:
        return iter(self.sorted())

    def sorted(self) -> list[Trace]:
        """Traces by start time, oldest first."""
        return sorted(self.traces.values(), key=lambda t: t.start_ns)

    def agent_runs(self) -> list[Trace]:
        """Only the traces that contain an agent run, oldest first."""
        return [t for t in self.sorted() if t.agent_spans]

    def summaries(self) -> list[TraceSummary]:
        return [t.summary() for t in self.sorted()]

    def get(self, trace_id: str) -> Trace:
        key = _normalize_trace_id(trace_id)
        try:
            return self.traces[key]
        except KeyError:
            raise ReplayError(f"trace {key} is not in {self.path} ({len(self.traces)} traces)") from None

    def latest(self) -> Trace:
        """The most recent agent run (or trace, when there is no agent run)."""
        runs = self.agent_runs() or self.sorted()
        if not runs:
            raise ReplayError(f"{self.path} holds no traces")
        return runs[-1]


def load_file(path: str | os.PathLike[str]) -> TraceFile:
    """Read every good trace of a file; raise when nothing in it is a trace."""
    name = os.fspath(path)
    errors: list[tuple[int, str]] = []
    spans: list[FlatSpan] = []
    good_lines = 0
    try:
        for line_no, request in read_requests(name, on_error=lambda n, why: errors.append((n, why))):
            try:
                batch = list(iter_spans(request))  # a line loads whole or not at all
            except (TraceFileError, ValueError, TypeError, AttributeError) as exc:
                errors.append((line_no, f"bad span: {exc}"))
                continue
            spans.extend(batch)
            good_lines += 1
    except FileNotFoundError:
        raise ReplayError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ReplayError(f"{name}: is a directory, not a trace file") from None
    except OSError as exc:
        raise ReplayError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if good_lines == 0 and errors:
        line_no, why = errors[0]
        raise ReplayError(f"{name}: not a trace file (line {line_no}: {why})")
    return TraceFile(path=name, traces=traces_from_spans(spans), errors=errors)


# --- Tempo -------------------------------------------------------------------------------


def _traceql(agent: str | None, outcome: str | None, min_duration_ms: float | None) -> str:
    conditions = [f'span.{sc.GEN_AI_OPERATION_NAME} = "{sc.OP_INVOKE_AGENT}"']
    if agent:
        conditions.append(f"span.{sc.GEN_AI_AGENT_NAME} = {json.dumps(agent)}")
    if outcome == sc.OUTCOME_ERROR:
        conditions.append("status = error")
    elif outcome == sc.OUTCOME_INTERRUPTED:
        conditions.append(f"span.{sc.LANGGRAPH_INTERRUPTED} = true")
    elif outcome == sc.OUTCOME_CANCELLED:
        conditions.append(f'span.{sc.OUTCOME} = "{sc.OUTCOME_CANCELLED}"')
    elif outcome == sc.OUTCOME_OK:
        conditions.append("status != error")
    elif outcome:
        raise ReplayError(f"unknown outcome {outcome!r}; expected one of {', '.join(sc.OUTCOMES)}")
    if min_duration_ms:
        conditions.append(f"duration >= {int(min_duration_ms)}ms")
    return "{ " + " && ".join(conditions) + " }"


class TempoClient:
    """Tempo's query API (``/api/v2/traces/{id}``, ``/api/traces/{id}``, ``/api/search``).

    Plain urllib with a timeout; headers (for example a Grafana Cloud token) are passed in.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0, headers: Mapping[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers = {"Accept": "application/json", **(headers or {})}

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ReplayError(f"Tempo at {self.base_url} is unreachable ({reason})") from None
        try:
            return status, json.loads(body)
        except ValueError:
            raise ReplayError(f"Tempo at {self.base_url} answered {path} with a body that is not JSON") from None

    def get_trace(self, trace_id: str) -> Trace:
        """One trace by id (v2 endpoint first, then v1 for Tempo before 2.5)."""
        key = _normalize_trace_id(trace_id)
        for path in (f"/api/v2/traces/{key}", f"/api/traces/{key}"):
            status, body = self._get(path)
            if status == 200 and isinstance(body, dict):
                break
            if status not in (404,):
                raise ReplayError(f"Tempo at {self.base_url} answered {path} with HTTP {status}")
        else:
            raise ReplayError(f"trace {key} was not found in Tempo at {self.base_url}")
        request = as_request(body)
        if request is None:
            raise ReplayError(f"Tempo at {self.base_url} returned a body without spans for trace {key}")
        try:
            spans = list(iter_spans(request))
        except TraceFileError as exc:
            raise ReplayError(f"Tempo returned a malformed trace {key}: {exc}") from None
        traces = traces_from_spans(spans)
        if key not in traces:
            raise ReplayError(f"trace {key} was not found in Tempo at {self.base_url}")
        return traces[key]

    def search(
        self,
        query: str | None = None,
        *,
        agent: str | None = None,
        outcome: str | None = None,
        min_duration_ms: float | None = None,
        limit: int = 20,
        start: int | None = None,
        end: int | None = None,
    ) -> list[TraceSummary]:
        """Find agent runs with TraceQL (built from agent/outcome/duration unless ``query``).

        ``start``/``end`` are Unix seconds, as Tempo's search API takes them.
        """
        q = query or _traceql(agent, outcome, min_duration_ms)
        status, body = self._get("/api/search", {"q": q, "limit": limit, "start": start, "end": end})
        if status != 200 or not isinstance(body, dict):
            raise ReplayError(f"Tempo at {self.base_url} answered /api/search with HTTP {status}")
        return [_search_summary(item, outcome) for item in body.get("traces") or ()]


    def latest_trace_id(self, *, agent: str | None = None) -> str:
        """The most recent agent run Tempo's search finds (results are not sorted by Tempo)."""
        found = self.search(agent=agent, limit=50)
        if not found:
            raise ReplayError(f"Tempo at {self.base_url} has no agent runs; pass --trace-id")
        return max(found, key=lambda s: s.start_ns).trace_id


def _search_summary(item: Mapping[str, Any], outcome: str | None) -> TraceSummary:
    agent = ""
    span_count = 0
    for span_set in item.get("spanSets") or ([item["spanSet"]] if item.get("spanSet") else []):
        span_count += int(span_set.get("matched", 0) or 0)
        for span in span_set.get("spans") or ():
            attrs = attributes_dict(span.get("attributes"))
            agent = agent or attrs.get(sc.GEN_AI_AGENT_NAME, "")
            name = span.get("name", "")
            if not agent and name.startswith(sc.SPAN_INVOKE_AGENT.format(agent="")):
                agent = name[len(sc.SPAN_INVOKE_AGENT.format(agent="")):]
    root_name = item.get("rootTraceName", "")
    if not agent and root_name.startswith(sc.SPAN_INVOKE_AGENT.format(agent="")):
        agent = root_name[len(sc.SPAN_INVOKE_AGENT.format(agent="")):]
    trace_id = item.get("traceID", "")
    return TraceSummary(
        trace_id=trace_id.rjust(32, "0") if trace_id else "",  # Tempo drops leading zeros
        agent=agent,
        start_ns=int(item.get("startTimeUnixNano", 0) or 0),
        duration_ms=float(item.get("durationMs", 0) or 0),
        outcome=outcome or "",
        span_count=span_count,
        root_name=root_name,
    )


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def load_trace(source: str | os.PathLike[str], trace_id: str | None = None, *, timeout: float = 10.0) -> Trace:
    """One trace from a file path or a Tempo base URL (the latest agent run by default)."""
    text = os.fspath(source)
    if is_url(text):
        client = TempoClient(text, timeout=timeout)
        return client.get_trace(trace_id or client.latest_trace_id())
    traces = load_file(text)
    return traces.get(trace_id) if trace_id else traces.latest()
