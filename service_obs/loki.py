"""LokiSink: a loguru sink that ships records to Loki's push API without ever blocking.

    sink = LokiSink("http://127.0.0.1:3100", labels={"service": "optimizer"}, registry=registry)
    handler_id = logger.add(sink, level="INFO", format="{message}")
    ...
    logger.remove(handler_id); sink.stop(timeout=5)

The caller's thread only serialises the record and appends it to a bounded queue (a few
microseconds). A daemon thread drains the queue in batches (by size and by time), gzips a
JSON push body and POSTs it to ``/loki/api/v1/push``. Stream labels stay low-cardinality
(``service``, ``environment``, ``level`` plus fixed user labels); ``trace_id``/``span_id``
travel as structured metadata (Loki 3) and inside the JSON line. 429, 5xx and connection
errors are retried with exponential backoff and jitter, honouring ``Retry-After``; other 4xx
are dropped. When the queue is full the oldest record is dropped. Every dropped record is
counted in ``agent_obs_dropped_total{signal="logs",reason=...}`` with reasons ``queue_full``,
``rejected`` (4xx), ``retries_exhausted``, ``shutdown`` and ``error`` (a record that could
not be serialised). A process forked after the sink was made (gunicorn ``--preload``) gets
its own worker thread and an empty queue. Problems are reported through
stdlib ``logging`` at most once a minute, never through loguru (that would feed the sink):
retry chatter and lost records separately, so records given up on after exhausted retries are
always named with their count and reason, and ``stop()`` ends with one warning for whatever
was not sent (left at the deadline, or not reported yet).
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

from agent_obs import semconv as sc
from agent_obs.guard import RateLimitedLog
from agent_obs.metrics import family
from service_obs._records import record_to_json

_log = logging.getLogger(__name__)
PUSH_PATH = "/loki/api/v1/push"
REASON_QUEUE_FULL = "queue_full"
REASON_REJECTED = "rejected"
REASON_RETRIES_EXHAUSTED = "retries_exhausted"
REASON_SHUTDOWN = "shutdown"
REASON_ERROR = "error"
SIGNAL_LOGS = "logs"
MAX_RETRY_AFTER = 300.0
REASON_TEXT = {
    REASON_QUEUE_FULL: "dropped from a full queue",
    REASON_REJECTED: "rejected by Loki (4xx)",
    REASON_RETRIES_EXHAUSTED: "given up after exhausted retries",
    REASON_SHUTDOWN: "left unsent at shutdown",
    REASON_ERROR: "not serialisable",
}


class _Entry:
    """One queued record. Built from a loguru record, it is serialised on the sink's worker
    thread (the first time a payload needs it), so the caller only pays for an append."""

    __slots__ = ("ts_ns", "line", "level", "metadata", "_record")

    def __init__(self, record: dict[str, Any]) -> None:
        self._record: dict[str, Any] | None = record

    def materialise(self) -> None:
        record = self._record
        if record is None:
            return
        metadata: dict[str, str] = {}
        extra = record["extra"]
        for key in (sc.FIELD_TRACE_ID, sc.FIELD_SPAN_ID):
            value = extra.get(key)
            if value:
                metadata[key] = str(value)
        self.ts_ns = int(record["time"].timestamp() * 1e9)
        self.line = record_to_json(record)
        self.level = record["level"].name.lower()
        self.metadata = metadata
        self._record = None


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class LokiSink:
    """A loguru sink object (``logger.add(LokiSink(...))``); see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        labels: Mapping[str, str] | None = None,
        registry: CollectorRegistry | None = None,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        queue_size: int = 10_000,
        timeout: float = 5.0,
        max_retries: int = 10,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        tenant_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        structured_metadata: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith(PUSH_PATH) else base + PUSH_PATH
        self.labels = {str(k): str(v) for k, v in (labels or {}).items()}
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue_size = queue_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.structured_metadata = structured_metadata
        self._clock = clock
        self._headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        if tenant_id:
            self._headers["X-Scope-OrgID"] = tenant_id
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        elif username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._dropped = family(registry if registry is not None else REGISTRY, sc.METRIC_DROPPED)
        for reason in REASON_TEXT:  # exported at 0 from the start, so increase() sees the first drop
            self._dropped.labels(SIGNAL_LOGS, reason)
        self._queue: deque[_Entry] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._deadline: float | None = None
        self._problems = RateLimitedLog(_log)
        self._drop_lock = threading.Lock()
        self._unreported: dict[str, int] = {}  # dropped records not named in a warning yet
        self.dropped: dict[str, int] = {}  # records lost, by reason (as agent_obs_dropped_total)
        self._sending_reported = False  # a push under way at the deadline is reported once
        self.sent_records = 0
        self.failed_attempts = 0  # pushes that failed and were retried or given up on
        self._thread = threading.Thread(target=self._run, name="agent-obs-loki", daemon=True)
        self._thread.start()
        if hasattr(os, "register_at_fork"):
            after_fork = weakref.WeakMethod(self._after_fork_in_child)

            def _after_in_child() -> None:
                method = after_fork()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=_after_in_child)

    def _after_fork_in_child(self) -> None:
        """A forked child gets no worker thread and maybe locks held by a parent thread:
        make new ones, and an empty queue (the parent sends what it had queued)."""
        stopped = self._stopping.is_set()
        self._queue = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._deadline = None
        self._problems = RateLimitedLog(_log)
        self._drop_lock = threading.Lock()
        self._unreported = {}  # the parent reports its own losses
        self.dropped = {}
        self._sending_reported = False
        self.sent_records = 0
        self.failed_attempts = 0
        self._thread = threading.Thread(target=self._run, name="agent-obs-loki", daemon=True)
        if stopped:
            self._stopping.set()
        else:
            self._thread.start()

    # --- caller side -------------------------------------------------------------------
    def __call__(self, message: Any) -> None:
        try:
            self.put(_Entry(message.record))
        except Exception:  # noqa: BLE001 - telemetry never breaks the caller
            self._count(REASON_ERROR, 1)
            self._problem("could not queue a log record", exc_info=True)

    def put(self, entry: _Entry) -> None:
        dropped = 0
        wake = False
        with self._lock:
            if self._stopping.is_set():
                dropped = 1
            else:
                while len(self._queue) >= self.queue_size:
                    self._queue.popleft()
                    dropped += 1
                self._queue.append(entry)
                wake = len(self._queue) >= self.batch_size
        if dropped:
            self._count(REASON_SHUTDOWN if self._stopping.is_set() else REASON_QUEUE_FULL, dropped)
            self._report_drops()
        elif wake:
            self._wake.set()

    @property
    def queued(self) -> int:
        """Records waiting in the queue (not counting a batch being sent)."""
        return len(self._queue)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued now has been sent or dropped; True if it has."""
        deadline = self._clock() + timeout
        self._wake.set()
        with self._idle:
            while self._queue or self._in_flight:
                remaining = deadline - self._clock()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._wake.set()
                self._idle.wait(min(remaining, 0.05))
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued within ``timeout`` seconds, then stop; safe to call twice."""
        if self._stopping.is_set() and not self._thread.is_alive():
            return
        self._deadline = self._clock() + max(0.0, timeout)
        self._stopping.set()
        self._wake.set()
        self._thread.join(max(0.0, timeout))
        with self._lock:
            left = len(self._queue)
            self._queue.clear()
            sending = self._in_flight if self._thread.is_alive() and not self._sending_reported else 0
            self._sending_reported = self._sending_reported or bool(sending)
        if left:
            self._count(REASON_SHUTDOWN, left)
        self._report_drops(force=True, sending=sending)

    # --- worker side -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            stopping = self._stopping.is_set()
            if not stopping and len(self._queue) < self.batch_size:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
            batch = self._take()
            if batch:
                try:
                    self._send_with_retries(batch)
                except Exception:  # noqa: BLE001 - the worker must survive anything
                    self._count(REASON_RETRIES_EXHAUSTED, len(batch))
                    self._problem("unexpected error while sending logs to Loki", exc_info=True)
                finally:
                    with self._idle:
                        self._in_flight = 0
                        self._idle.notify_all()
            elif stopping:
                return
            if self._past_deadline():
                return

    def _take(self) -> list[_Entry]:
        with self._lock:
            count = min(self.batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            self._in_flight = count
            if not batch:
                self._idle.notify_all()
            return batch

    def _past_deadline(self) -> bool:
        return self._deadline is not None and self._clock() >= self._deadline

    def _send_with_retries(self, batch: list[_Entry]) -> None:
        body = gzip.compress(self._payload(batch), compresslevel=5)
        attempt = 0
        while True:
            timeout = self.timeout
            if self._deadline is not None:
                timeout = min(timeout, self._deadline - self._clock())
                if timeout <= 0:
                    self._count(REASON_SHUTDOWN, len(batch))
                    return
            try:
                self._post(body, timeout)
                self.sent_records += len(batch)
                return
            except _Retryable as exc:
                attempt += 1
                self.failed_attempts += 1
                if attempt > self.max_retries:
                    self._count(REASON_RETRIES_EXHAUSTED, len(batch))
                    self._report_drops(f"; the last of {attempt} attempts failed with {exc}")
                    return
                delay = self._backoff(attempt, exc.retry_after)
                self._problem(f"Loki push failed ({exc}); retrying in {delay:.2f}s")
                if self._deadline is not None and self._clock() + delay >= self._deadline:
                    self._count(REASON_SHUTDOWN, len(batch))
                    return
                self._stopping.wait(delay)
            except urllib.error.HTTPError as exc:
                self._count(REASON_REJECTED, len(batch))
                self._report_drops(f"; Loki answered HTTP {exc.code}")
                return

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # The server knows best, within reason (a broken header must not stall us for hours).
            return min(MAX_RETRY_AFTER, max(0.0, retry_after))
        base = min(self.max_backoff, self.min_backoff * (2 ** (attempt - 1)))
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    def _post(self, body: bytes, timeout: float) -> None:
        request = urllib.request.Request(self.url, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                raise _Retryable(f"HTTP {exc.code}", _retry_after(exc.headers.get("Retry-After"))) from None
            raise
        except (OSError, urllib.error.URLError) as exc:
            raise _Retryable(type(exc).__name__) from None

    def _payload(self, batch: list[_Entry]) -> bytes:
        streams: dict[str, dict[str, Any]] = {}
        for entry in batch:
            try:
                entry.materialise()
            except Exception:  # noqa: BLE001 - one bad record must not lose the batch
                self._count(REASON_ERROR, 1)
                continue
            stream = streams.get(entry.level)
            if stream is None:
                stream = streams[entry.level] = {"stream": {**self.labels, "level": entry.level}, "values": []}
            value: list[Any] = [str(entry.ts_ns), entry.line]
            if self.structured_metadata and entry.metadata:
                value.append(entry.metadata)
            stream["values"].append(value)
        return json.dumps({"streams": list(streams.values())}, ensure_ascii=False).encode()

    def _count(self, reason: str, count: int) -> None:
        try:
            with self._drop_lock:
                self.dropped[reason] = self.dropped.get(reason, 0) + count
                self._unreported[reason] = self._unreported.get(reason, 0) + count
            self._dropped.labels(SIGNAL_LOGS, reason).inc(count)
        except Exception:  # noqa: BLE001 - counting must not raise either
            pass

    def _report_drops(self, detail: str = "", force: bool = False, sending: int = 0) -> None:
        """One warning naming the records lost since the last one, by count and reason.

        Rate-limited apart from the retry chatter (its own key); ``force`` (at ``stop()``)
        reports whatever is left regardless, with the ``sending`` records of a push that was
        still under way at the deadline (most likely lost with the process).
        """
        with self._drop_lock:
            counts = dict(self._unreported)
        if not counts and not sending:
            return
        reasons = [f"{n} {REASON_TEXT.get(r, r)}" for r, n in sorted(counts.items())]
        if sending:
            reasons.append(f"{sending} still being sent at the shutdown deadline")
        args = ("agent_obs Loki sink: %d log records were not sent to %s (%s)%s",
                sum(counts.values()) + sending, self.url, ", ".join(reasons), detail)
        if force:
            _log.warning(*args)
        elif not self._problems.warning("loki-dropped", *args):
            return
        with self._drop_lock:
            for reason, count in counts.items():
                self._unreported[reason] -= count
                if not self._unreported[reason]:
                    del self._unreported[reason]

    def _problem(self, text: str, exc_info: bool = False) -> None:
        self._problems.warning("loki", "agent_obs Loki sink: %s", text, exc_info=exc_info)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
