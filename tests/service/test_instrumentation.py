"""instrument_app, instrument_engine and outbound HTTP instrumentation, on real libraries."""

from __future__ import annotations

import socket

import httpx
import pytest
import requests
import sqlalchemy
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from http_fixtures import ApiServer
from service_obs.fastapi import instrument_app
from service_obs.sqlalchemy import instrument_engine


@pytest.fixture
def api():
    with ApiServer() as server:
        yield server


@pytest.fixture
def obs(make_obs, span_exporter):
    return make_obs(span_processors=[SimpleSpanProcessor(span_exporter)])


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict:
        if job_id == "missing":
            raise HTTPException(404)
        return {"job_id": job_id}

    @app.get("/health")
    def health() -> dict:
        return {"ok": True}

    return app


# --- FastAPI ---------------------------------------------------------------------------
def test_server_spans_route_template_metrics_and_exclusions(obs, span_exporter) -> None:
    app = _app()
    instrument_app(app, obs)
    with TestClient(app) as client:
        assert client.get("/jobs/42").status_code == 200
        assert client.get("/jobs/missing").status_code == 404
        assert client.get("/nowhere").status_code == 404
        assert client.get("/health").status_code == 200
        assert client.get("/metrics").status_code == 200
    servers = [s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert sorted(s.name for s in servers) == ["GET", "GET /jobs/{job_id}", "GET /jobs/{job_id}"]
    sample = obs.registry.get_sample_value
    assert sample("http_server_requests_total", {"method": "GET", "route": "/jobs/{job_id}", "status_code": "200"}) == 1
    assert sample("http_server_requests_total", {"method": "GET", "route": "/jobs/{job_id}", "status_code": "404"}) == 1
    assert sample("http_server_requests_total", {"method": "GET", "route": "unmatched", "status_code": "404"}) == 1
    assert sample("http_server_request_duration_seconds_count",
                  {"method": "GET", "route": "/jobs/{job_id}", "status_code": "200"}) == 1
    labels = [s.labels for m in obs.registry.collect() for s in m.samples if m.name == "http_server_requests"]
    assert not any(l.get("route") == "/jobs/42" for l in labels)  # never the raw path


def test_served_starlette_routes_are_labelled_by_path_and_only_404s_are_unmatched(obs) -> None:
    from starlette.responses import PlainTextResponse

    app = _app()
    app.add_route("/raw/{name}", lambda request: PlainTextResponse(request.path_params["name"]))
    sub = FastAPI()
    sub.add_route("/ping", lambda request: PlainTextResponse("pong"))
    app.mount("/sub", sub)
    instrument_app(app, obs)
    with TestClient(app) as client:
        for path in ("/metrics", "/docs", "/openapi.json", "/raw/abc", "/sub/ping"):
            assert client.get(path).status_code == 200, path
        assert client.post("/metrics").status_code == 405
        assert client.get("/nowhere").status_code == 404
    sample = obs.registry.get_sample_value
    for route in ("/metrics", "/docs", "/openapi.json", "/raw/{name}", "/sub/{path}"):  # a mount: its template
        assert sample("http_server_requests_total", {"method": "GET", "route": route, "status_code": "200"}) == 1, route
    assert sample("http_server_requests_total", {"method": "POST", "route": "/metrics", "status_code": "405"}) == 1
    unmatched = [(s.labels, s.value) for m in obs.registry.collect() for s in m.samples
                 if s.name == "http_server_requests_total" and s.labels["route"] == "unmatched"]
    assert unmatched == [({"method": "GET", "route": "unmatched", "status_code": "404"}, 1.0)]


def test_a_request_is_counted_before_its_last_byte_is_sent(obs, span_exporter) -> None:
    """A client that has the whole response and scrapes at once (another worker may answer)
    finds its request counted: the metrics are recorded before the final body message goes
    to the server, not after the app returns. The duration's exemplar is the server span."""
    import asyncio

    from starlette.responses import StreamingResponse

    app = _app()

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b", b"c"]))

    instrument_app(app, obs)

    def counted(route: str) -> float:
        labels = {"method": "GET", "route": route, "status_code": "200"}
        return (obs.registry.get_sample_value("http_server_requests_total", labels) or 0,
                obs.registry.get_sample_value("http_server_request_duration_seconds_count", labels) or 0)

    async def get(path: str, route: str) -> list[tuple[float, float]]:
        seen: list[tuple[float, float]] = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
                 "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1), "server": ("test", 80)}

        requested, done = [], asyncio.Event()

        async def receive() -> dict:
            if not requested:
                requested.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # a streaming response listens for the client going away
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body":
                seen.append(counted(route))
                if not message.get("more_body", False):
                    done.set()

        await app(scope, receive, send)
        return seen

    assert asyncio.run(get("/jobs/7", "/jobs/{job_id}"))[-1] == (1, 1)
    streamed = asyncio.run(get("/stream", "/stream"))
    assert streamed[0] == (0, 0) and streamed[-1] == (1, 1)  # counted once, at the last chunk
    (server,) = [s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.SERVER and "/jobs" in s.name]
    exemplars = [s.exemplar for m in obs.registry.collect() for s in m.samples
                 if s.name == "http_server_request_duration_seconds_bucket" and s.labels.get("route") == "/jobs/{job_id}"
                 and s.exemplar is not None]
    assert exemplars and {e.labels["trace_id"] for e in exemplars} == {format(server.context.trace_id, "032x")}


def test_fastapi_builtin_telemetry_does_not_duplicate_server_spans(obs, span_exporter) -> None:
    app = FastAPI(telemetry={"tracer_provider": obs.tracer_provider})  # FastAPI's own OTel on

    @app.get("/x")
    def x() -> dict:
        return {}

    instrument_app(app, obs)
    with TestClient(app) as client:
        client.get("/x")
    servers = [s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(servers) == 1


def test_metrics_endpoint_negotiates_openmetrics_with_exemplars(obs) -> None:
    app = _app()
    instrument_app(app, obs)
    with TestClient(app) as client:
        client.get("/jobs/1")
        text = client.get("/metrics")
        om = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "http_server_requests_total" in text.text and "trace_id" not in text.text
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")
    bucket_lines = [l for l in om.text.splitlines() if l.startswith("http_server_request_duration_seconds_bucket")]
    assert any("# {" in l and "trace_id=" in l for l in bucket_lines)


def test_uninstrument_on_shutdown(make_obs, span_exporter) -> None:
    obs = make_obs(span_processors=[SimpleSpanProcessor(span_exporter)])
    app = _app()
    instrument_app(app, obs)
    obs.shutdown(timeout=2)
    with TestClient(app) as client:
        assert client.get("/jobs/1").status_code == 200
        assert client.get("/metrics").status_code == 404
    assert span_exporter.get_finished_spans() == ()
    instrument_app(app, make_obs())  # can be instrumented again afterwards


# --- SQLAlchemy ------------------------------------------------------------------------
def test_query_spans_duration_and_parenting(obs, span_exporter, tmp_path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    instrument_engine(engine, obs)
    with obs.tracer().start_as_current_span("tool") as tool:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE t (x INTEGER)"))
            conn.execute(sqlalchemy.text("INSERT INTO t VALUES (1)"))
            assert conn.execute(sqlalchemy.text("SELECT x FROM t")).scalar() == 1
        with pytest.raises(sqlalchemy.exc.OperationalError):
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SELECT * FROM nope"))
    queries = [s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert [s.name.split()[0] for s in queries] == ["CREATE", "INSERT", "SELECT", "SELECT"]
    assert all(s.parent.span_id == tool.get_span_context().span_id for s in queries)
    assert queries[-1].status.status_code is StatusCode.ERROR
    sample = obs.registry.get_sample_value
    assert sample("db_query_duration_seconds_count", {"db_system": "sqlite", "operation": "SELECT", "status": "ok"}) == 1
    assert sample("db_query_duration_seconds_count", {"db_system": "sqlite", "operation": "SELECT", "status": "error"}) == 1
    assert not sample("db_connection_errors_total", {"db_system": "sqlite"})
    engine.dispose()


def test_connection_failures_are_counted(obs, tmp_path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'db.sqlite'}")
    instrument_engine(engine, obs)
    # exported at 0 from instrumentation (issue 14 item 3): increase() sees the first failure
    assert obs.registry.get_sample_value("db_connection_errors_total", {"db_system": "sqlite"}) == 0
    for _ in range(2):
        with pytest.raises(sqlalchemy.exc.OperationalError):
            engine.connect()
    assert obs.registry.get_sample_value("db_connection_errors_total", {"db_system": "sqlite"}) == 2


def test_engine_uninstrument_removes_spans(obs, span_exporter) -> None:
    engine = sqlalchemy.create_engine("sqlite://")
    handle = instrument_engine(engine, obs)
    handle.uninstrument()
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT 1"))
    assert span_exporter.get_finished_spans() == ()


def test_engine_uninstrument_without_the_listener_shortcut_removes_our_metrics_only(obs, span_exporter) -> None:
    """The public path (agent_obs.shortcuts.ENGINE_LISTENERS off): the instrumentation cannot
    tell its listeners apart per engine, so its spans stay; our query metrics still go."""
    from agent_obs import shortcuts

    engine = sqlalchemy.create_engine("sqlite://")
    with shortcuts.public_only(shortcuts.ENGINE_LISTENERS):
        handle = instrument_engine(engine, obs)
    handle.uninstrument()
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT 1"))
    labels = {"db_system": "sqlite", "operation": "SELECT", "status": "ok"}
    assert obs.registry.get_sample_value("db_query_duration_seconds_count", labels) is None
    assert [s.name for s in span_exporter.get_finished_spans()] == ["SELECT"]


# --- outbound HTTP ---------------------------------------------------------------------
def test_requests_and_httpx_client_spans_propagate_traceparent(obs, span_exporter, api) -> None:
    with obs.tracer().start_as_current_span("tool"):
        requests.get(api.url + "/ok", timeout=5)
        httpx.get(api.url + "/ok", timeout=5)
    clients = [s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(clients) == 2
    for headers, span in zip(api.seen, clients):
        ctx = span.get_span_context()
        assert headers["traceparent"].startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")


async def test_httpx_async_client_is_instrumented(obs, span_exporter, api) -> None:
    async with httpx.AsyncClient() as client:
        await client.get(api.url + "/ok")
    assert [s.kind for s in span_exporter.get_finished_spans()] == [SpanKind.CLIENT]
    assert "traceparent" in api.seen[0]


def test_per_host_error_counter_and_duration(obs, api) -> None:
    requests.get(api.url + "/ok", timeout=5)
    requests.get(api.url + "/fail", timeout=5)
    httpx.get(api.url + "/fail", timeout=5)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{dead_port}/", timeout=5)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{dead_port}/", timeout=5)
    sample = obs.registry.get_sample_value
    assert sample("http_client_errors_total", {"host": "127.0.0.1", "error_type": "500"}) == 2
    errors = [s for m in obs.registry.collect() if m.name == "http_client_errors" for s in m.samples
              if s.name.endswith("_total") and s.labels["error_type"] != "500"]
    assert sum(s.value for s in errors) == 2  # both connection failures, whatever their class name
    assert sample("http_client_request_duration_seconds_count",
                  {"host": "127.0.0.1", "method": "GET", "status_code": "200"}) == 1


def test_http_uninstrumented_after_shutdown(make_obs, span_exporter, api) -> None:
    obs = make_obs(span_processors=[SimpleSpanProcessor(span_exporter)])
    obs.shutdown(timeout=2)
    requests.get(api.url + "/ok", timeout=5)
    httpx.get(api.url + "/ok", timeout=5)
    assert span_exporter.get_finished_spans() == ()
    assert "traceparent" not in api.seen[0] and "traceparent" not in api.seen[1]
