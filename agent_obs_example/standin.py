"""A small Dremio-compatible HTTP API on loopback, serving the sample jobs.

It stands in for Dremio on machines without one; point ``AGENT_OBS_DREMIO_URL`` at a real
coordinator and the same client works. What mimics Dremio's REST API, and what does not:

* ``GET /api/v3/job/{id}`` – job status (``jobState``, ``rowCount``, ``startedAt``...), as Dremio v3.
* ``POST /api/v3/sql`` ``{"sql": ...}`` -> ``{"id": job}`` then ``GET /api/v3/job/{id}`` and
  ``GET /api/v3/job/{id}/results`` – as Dremio v3. Only ``EXPLAIN PLAN FOR`` statements about
  a sample job are answered (columns ``text`` and ``json``); other SQL fails like Dremio does.
* ``GET /api/v3/catalog/by-path/{a}/{b}/{c}`` – the dataset entity, as Dremio v3, plus a
  ``stats`` object (rows, bytes, files, partition columns) that real Dremio does not return.
* ``GET /api/v3/dataset/{id}/reflection`` – ``{"data": [...]}``, as Dremio v3.
* ``GET /apiv2/job/{id}/details`` – SQL text and queried datasets, in the spirit of the
  internal API Dremio's UI uses (``apiv2`` is not a public contract).
* ``GET /apiv2/support/{id}/download`` – the query profile as a zip holding ``profile.json``,
  like the UI's "download profile"; real profiles carry far more fields than the samples.

Misbehaviour on purpose (``_standin`` flags in the sample files): ``transient_503`` answers
every other status request for that job with 503, ``explain_error`` makes EXPLAIN fail.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .samples import sample_jobs

_MAX_SQL_JOBS = 1000


def dataset_id(path: str) -> str:
    """Stable dataset id for a dotted path (Dremio ids are UUIDs too)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "dremio-standin:" + path))


class DremioStandIn:
    """The stand-in server; ``start()`` binds 127.0.0.1 on a free port, ``stop()`` undoes it."""

    def __init__(self, jobs: dict[str, dict[str, Any]] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self._jobs = jobs if jobs is not None else sample_jobs()
        self._datasets: dict[str, dict[str, Any]] = {}
        self._reflections: dict[str, list[dict[str, Any]]] = {}
        for job in self._jobs.values():
            for ds in job["profile"]["datasetProfile"]:
                self._datasets[ds["datasetPath"]] = ds
            for path, refl in job.get("reflections", {}).items():
                self._reflections[dataset_id(path)] = refl
        self._sql_jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._status_calls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests_served = 0

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("stand-in not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> DremioStandIn:
        if self._server is not None:
            return self
        handler = type("_Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        # a short poll interval keeps stop() quick (shutdown waits for the loop's next poll)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="dremio-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DremioStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request handling (called from server threads) ---------------------------------
    def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests_served += 1
        parts = [unquote(p) for p in urlsplit(path).path.strip("/").split("/")]
        if method == "GET" and parts[:3] == ["api", "v3", "job"] and len(parts) == 4:
            return self._job_status(parts[3])
        if method == "GET" and parts[:3] == ["api", "v3", "job"] and len(parts) == 5 and parts[4] == "results":
            return self._job_results(parts[3])
        if method == "POST" and parts == ["api", "v3", "sql"]:
            return self._submit_sql(body)
        if method == "GET" and parts[:4] == ["api", "v3", "catalog", "by-path"] and len(parts) > 4:
            return self._catalog(".".join(parts[4:]))
        if method == "GET" and parts[:3] == ["api", "v3", "dataset"] and len(parts) == 5 and parts[4] == "reflection":
            return _json(HTTPStatus.OK, {"data": self._reflections.get(parts[3], [])})
        if method == "GET" and len(parts) == 4 and parts[:2] == ["apiv2", "job"] and parts[3] == "details":
            job = self._jobs.get(parts[2])
            return _json(HTTPStatus.OK, job["details"]) if job else _not_found(f"Cannot find job with id {parts[2]}")
        if method == "GET" and len(parts) == 4 and parts[:2] == ["apiv2", "support"] and parts[3] == "download":
            return self._profile_zip(parts[2])
        return _json(HTTPStatus.NOT_FOUND, {"errorMessage": f"No route for {method} {path}", "moreInfo": ""})

    def _job_status(self, job_id: str) -> tuple[int, str, bytes]:
        job = self._jobs.get(job_id)
        if job is not None:
            if job.get("_standin", {}).get("transient_503"):
                with self._lock:
                    calls = self._status_calls[job_id] = self._status_calls.get(job_id, 0) + 1
                if calls % 2 == 1:
                    return _json(HTTPStatus.SERVICE_UNAVAILABLE,
                                 {"errorMessage": "Coordinator is busy, retry later", "moreInfo": ""})
            return _json(HTTPStatus.OK, job["job"])
        with self._lock:
            sql_job = self._sql_jobs.get(job_id)
        if sql_job is None:
            return _not_found(f"Cannot find job with id {job_id}")
        return _json(HTTPStatus.OK, sql_job["status"])

    def _job_results(self, job_id: str) -> tuple[int, str, bytes]:
        with self._lock:
            sql_job = self._sql_jobs.get(job_id)
        if sql_job is None:
            return _not_found(f"Cannot find job with id {job_id}")
        if sql_job["status"]["jobState"] != "COMPLETED":
            return _json(HTTPStatus.BAD_REQUEST, {"errorMessage": "Job has not completed successfully", "moreInfo": ""})
        return _json(HTTPStatus.OK, sql_job["results"])

    def _submit_sql(self, body: bytes) -> tuple[int, str, bytes]:
        try:
            sql = json.loads(body or b"{}")["sql"]
            if not isinstance(sql, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _json(HTTPStatus.BAD_REQUEST, {"errorMessage": "Body must be {\"sql\": string}", "moreInfo": ""})
        new_id = str(uuid.uuid4())
        status: dict[str, Any] = {"jobState": "COMPLETED", "rowCount": 1, "errorMessage": "", "queryType": "REST"}
        results: dict[str, Any] = {"rowCount": 0, "schema": [], "rows": []}
        target = self._explained_job(sql)
        if target is None:
            status.update(jobState="FAILED", rowCount=0,
                          errorMessage="UNSUPPORTED_OPERATION ERROR: the Dremio stand-in only answers EXPLAIN PLAN FOR sample queries")
        elif target.get("_standin", {}).get("explain_error"):
            status.update(jobState="FAILED", rowCount=0, errorMessage=target["_standin"]["explain_error"])
        else:
            results = {
                "rowCount": 1,
                "schema": [{"name": "text", "type": {"name": "VARCHAR"}}, {"name": "json", "type": {"name": "VARCHAR"}}],
                "rows": [{"text": _plan_text(target), "json": json.dumps({"fragments": len(target["profile"]["fragmentProfile"])})}],
            }
        with self._lock:
            self._sql_jobs[new_id] = {"status": status, "results": results}
            while len(self._sql_jobs) > _MAX_SQL_JOBS:
                self._sql_jobs.popitem(last=False)
        return _json(HTTPStatus.OK, {"id": new_id})

    def _explained_job(self, sql: str) -> dict[str, Any] | None:
        head = "EXPLAIN PLAN FOR"
        if not sql.strip().upper().startswith(head):
            return None
        statement = " ".join(sql.strip()[len(head):].split())
        for job in self._jobs.values():
            if " ".join(job["details"]["sql"].split()) == statement:
                return job
        return None

    def _catalog(self, path: str) -> tuple[int, str, bytes]:
        ds = self._datasets.get(path)
        if ds is None:
            return _not_found(f"Could not find entity with path [{path}]")
        entity = {
            "entityType": "dataset",
            "id": dataset_id(path),
            "type": ds["type"],
            "path": path.split("."),
            "fields": [{"name": name, "type": {"name": "VARCHAR" if "id" not in name else "BIGINT"}} for name in ds["fields"]],
            "format": {"type": "Parquet"},
            "stats": {  # stand-in extension: real Dremio does not return table statistics here
                "rowCount": ds["rowCount"], "sizeBytes": ds["sizeBytes"], "fileCount": ds["fileCount"],
                "partitionColumns": ds["partitionColumns"],
            },
        }
        return _json(HTTPStatus.OK, entity)

    def _profile_zip(self, job_id: str) -> tuple[int, str, bytes]:
        job = self._jobs.get(job_id)
        if job is None:
            return _not_found(f"Cannot find job with id {job_id}")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("profile.json", json.dumps(job["profile"]))
        return HTTPStatus.OK, "application/zip", buffer.getvalue()


def _plan_text(job: dict[str, Any]) -> str:
    lines = []
    for fragment in job["profile"]["fragmentProfile"]:
        first = fragment["minorFragmentProfile"][0]
        for index, op in enumerate(first["operatorProfile"]):
            lines.append(f"{fragment['majorFragmentId']:02d}-{index:02d}  {op['operatorType']}"
                         f"(rowcount = {float(op['outputRecords']):.1f})")
    for ds in job["profile"]["datasetProfile"]:
        lines.append(f"  table=[{ds['datasetPath']}], partitions={ds['partitionColumns'] or 'none'}")
    return "\n".join(lines)


def _json(status: int, payload: Any) -> tuple[int, str, bytes]:
    return int(status), "application/json", json.dumps(payload).encode()


def _not_found(message: str) -> tuple[int, str, bytes]:
    return _json(HTTPStatus.NOT_FOUND, {"errorMessage": message, "moreInfo": ""})


class _Handler(BaseHTTPRequestHandler):
    standin: DremioStandIn
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one write (no delayed-ACK stall per request)
    disable_nagle_algorithm = True

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, content_type, payload = self.standin.handle(method, self.path, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request stderr lines
        return
