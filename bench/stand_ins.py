"""Tempo, Loki and Dremio stand-ins in their own processes, for the service and Loki benchmarks.

Tempo and Loki cannot be installed here; ``tests/receivers.py`` speaks their wire protocols
(OTLP gRPC ``TraceService/Export``, Loki ``POST /loki/api/v1/push`` with gzip). They run in a
child process, as the real servers would, so decoding pushes does not compete with the
measured code for the GIL. With ``dremio=True`` the example's Dremio stand-in
(``agent_obs_example.standin``) runs in a second child process, as a real Dremio would be
another machine: the service under test then pays for its HTTP calls, not for answering them,
and the Dremio answers are not slowed down by the Tempo stand-in decoding spans. The parent
talks to the first child over stdin/stdout, one JSON line per request::

    with StandIns(dremio=True) as backends:
        backends.otlp_endpoint, backends.loki_url, backends.dremio_url
        backends.stats()   # {"spans": ..., "otlp_requests": ..., "loki_entries": ..., "loki_pushes": ...}
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class StandIns:
    """Starts ``python bench/stand_ins.py`` and reads its endpoints."""

    def __init__(self, otlp: bool = True, loki: bool = True, dremio: bool = False) -> None:
        args = [sys.executable, os.path.abspath(__file__)]
        if otlp:
            args.append("--otlp")
        if loki:
            args.append("--loki")
        self._dremio: subprocess.Popen[str] | None = None
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = json.loads(self._proc.stdout.readline() or "{}")  # type: ignore[union-attr]
        if "error" in ready or not ready:
            self.close()
            raise RuntimeError(f"stand-ins did not start: {ready}")
        self.otlp_endpoint: str | None = ready.get("otlp")
        self.loki_url: str | None = ready.get("loki")
        self.dremio_url: str | None = None
        if dremio:
            self._dremio = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--dremio"],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
            self.dremio_url = json.loads(self._dremio.stdout.readline() or "{}").get("dremio")  # type: ignore[union-attr]
            if not self.dremio_url:
                self.close()
                raise RuntimeError("the Dremio stand-in did not start")

    def stats(self) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("stats\n")
        self._proc.stdin.flush()
        return json.loads(self._proc.stdout.readline())

    def close(self) -> None:
        for proc in (self._proc, self._dremio):
            if proc is not None and proc.poll() is None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.close()
                    proc.wait(10)
                except Exception:  # noqa: BLE001
                    proc.kill()
                    proc.wait(5)

    def __enter__(self) -> StandIns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(otlp: bool, loki: bool) -> None:
    sys.path.insert(0, ROOT)
    from tests.receivers import LokiReceiver, OtlpGrpcReceiver

    tempo = OtlpGrpcReceiver() if otlp else None
    loki_receiver = LokiReceiver() if loki else None
    print(json.dumps({"otlp": tempo.endpoint if tempo else None,
                      "loki": loki_receiver.url if loki_receiver else None}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "stats":
                stats: dict[str, Any] = {}
                if tempo is not None:
                    stats["spans"] = len(tempo.spans())
                    stats["otlp_requests"] = tempo.requests
                if loki_receiver is not None:
                    with loki_receiver._lock:
                        stats["loki_entries"] = len(loki_receiver.entries)
                        stats["loki_pushes"] = len(loki_receiver.pushes)
                        stats["loki_gzip_pushes"] = sum(
                            1 for p in loki_receiver.pushes if p["headers"].get("content-encoding") == "gzip")
                    stats["loki_requests"] = loki_receiver.requests
                print(json.dumps(stats), flush=True)
    finally:
        if tempo is not None:
            tempo.close()
        if loki_receiver is not None:
            loki_receiver.close()


def _serve_dremio() -> None:
    sys.path.insert(0, ROOT)
    from agent_obs_example.standin import DremioStandIn

    standin = DremioStandIn().start()
    print(json.dumps({"dremio": standin.url}), flush=True)
    try:
        for _ in sys.stdin:  # runs until the parent closes stdin
            pass
    finally:
        standin.stop()


if __name__ == "__main__":
    if "--dremio" in sys.argv:
        _serve_dremio()
    else:
        _serve("--otlp" in sys.argv, "--loki" in sys.argv)
