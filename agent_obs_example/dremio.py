"""A ``requests``-based client for the parts of Dremio's REST API the optimizer reads.

Works against a real Dremio coordinator and against the local stand-in (``standin.py``).
Failures raise typed errors so the agent can tell a transient outage (retried by the
graph's RetryPolicy) from a missing job (a 404 for the caller) or a failed SQL job (a tool
error the LLM is told about). Every request attempt is reported to ``on_request`` with a
bounded ``endpoint`` name (``dremio_api_requests_total``), and every failed call to
``on_error`` with that name and a status code (``dremio_api_errors_total``), so the error
ratio is errors over attempts.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

ErrorHook = Callable[[str, str], None]
RequestHook = Callable[[str], None]


class DremioError(Exception):
    """A Dremio API call failed."""

    def __init__(self, message: str, *, endpoint: str, status_code: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status_code = status_code


class DremioNotFound(DremioError):
    """The job or dataset does not exist (HTTP 404)."""


class DremioTransientError(DremioError):
    """Worth retrying: 429/5xx, timeouts and refused connections."""


class DremioQueryError(DremioError):
    """A SQL job submitted through the API ended FAILED or CANCELED."""


class DremioClient:
    """Calls Dremio; ``session`` and the hooks are injected so tests and metrics can see them."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
        on_error: ErrorHook | None = None,
        on_request: RequestHook | None = None,
        sql_job_deadline_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        self._session = session or requests.Session()
        self._on_error = on_error
        self._on_request = on_request
        self._sql_deadline = sql_job_deadline_s
        self._clock = clock
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self._session.close()

    # --- the job being optimised ------------------------------------------------------
    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._get_json("job_status", f"/api/v3/job/{quote(job_id, safe='')}")

    def get_job_details(self, job_id: str) -> dict[str, Any]:
        return self._get_json("job_details", f"/apiv2/job/{quote(job_id, safe='')}/details")

    def get_profile(self, job_id: str) -> dict[str, Any]:
        """The query profile; Dremio serves it as a zip holding one JSON file."""
        response = self._request("profile", "GET", f"/apiv2/support/{quote(job_id, safe='')}/download")
        if response.headers.get("Content-Type", "").startswith("application/zip"):
            try:
                with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                    name = next(n for n in archive.namelist() if n.endswith(".json"))
                    return json.loads(archive.read(name))
            except (zipfile.BadZipFile, StopIteration, ValueError) as exc:
                raise self._fail(DremioError, "profile", "bad_payload", f"unreadable profile: {exc}") from exc
        return self._decode("profile", response)

    # --- what the tools ask -----------------------------------------------------------
    def get_dataset(self, path: str) -> dict[str, Any]:
        segments = "/".join(quote(part, safe="") for part in path.split("."))
        return self._get_json("catalog", f"/api/v3/catalog/by-path/{segments}")

    def list_reflections(self, dataset_id: str) -> list[dict[str, Any]]:
        return self._get_json("reflections", f"/api/v3/dataset/{quote(dataset_id, safe='')}/reflection").get("data", [])

    def run_sql(self, sql: str) -> list[dict[str, Any]]:
        """Submit SQL, wait for the job with a deadline, return its result rows."""
        submitted = self._decode("sql", self._request("sql", "POST", "/api/v3/sql", json={"sql": sql}))
        job_id = submitted["id"]
        deadline = self._clock() + self._sql_deadline
        delay = 0.05
        while True:
            status = self._get_json("job_status", f"/api/v3/job/{quote(job_id, safe='')}")
            state = status.get("jobState")
            if state == "COMPLETED":
                break
            if state in ("FAILED", "CANCELED"):
                raise self._fail(DremioQueryError, "sql", "job_failed", status.get("errorMessage") or f"job {state}")
            if self._clock() > deadline:
                raise self._fail(DremioTransientError, "sql", "timeout", f"SQL job {job_id} still {state}")
            time.sleep(delay)  # a real coordinator needs time; the stand-in completes at once
            delay = min(delay * 2, 1.0)
        results = self._get_json("job_results", f"/api/v3/job/{quote(job_id, safe='')}/results?offset=0&limit=500")
        return list(results.get("rows", []))

    # --- plumbing ---------------------------------------------------------------------
    def _get_json(self, endpoint: str, path: str) -> dict[str, Any]:
        return self._decode(endpoint, self._request(endpoint, "GET", path))

    def _request(self, endpoint: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        if self._on_request is not None:
            try:
                self._on_request(endpoint)
            except Exception:  # noqa: BLE001 - counting a request must never stop it
                pass
        try:
            response = self._session.request(method, self._base + path, timeout=self._timeout, **kwargs)
        except requests.Timeout as exc:
            raise self._fail(DremioTransientError, endpoint, "timeout", f"Dremio timed out: {exc}") from exc
        except requests.ConnectionError as exc:
            raise self._fail(DremioTransientError, endpoint, "connection_error", f"Dremio unreachable: {exc}") from exc
        if response.status_code < 400:
            return response
        message = _error_message(response)
        code = str(response.status_code)
        if response.status_code == 404:
            raise self._fail(DremioNotFound, endpoint, code, message)
        if response.status_code == 429 or response.status_code >= 500:
            raise self._fail(DremioTransientError, endpoint, code, message)
        raise self._fail(DremioError, endpoint, code, message)

    def _decode(self, endpoint: str, response: requests.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError as exc:
            raise self._fail(DremioError, endpoint, "bad_payload", "Dremio sent a non-JSON body") from exc
        if not isinstance(payload, dict):
            raise self._fail(DremioError, endpoint, "bad_payload", "Dremio sent an unexpected JSON shape")
        return payload

    def _fail(self, kind: type[DremioError], endpoint: str, status_code: str, message: str) -> DremioError:
        if self._on_error is not None:
            try:
                self._on_error(endpoint, status_code)
            except Exception:  # noqa: BLE001 - counting an error must never replace it
                pass
        return kind(f"Dremio {endpoint}: {message}", endpoint=endpoint, status_code=status_code)


def _error_message(response: requests.Response) -> str:
    try:
        return str(response.json().get("errorMessage") or response.reason)
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code} {response.reason}"
