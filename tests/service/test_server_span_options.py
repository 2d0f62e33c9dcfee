"""The ASGI ``http send``/``http receive`` spans: off by default, kept on request.

They are one INTERNAL span per ASGI message under every server span (three for a small JSON
response), a tenth of the example service's spans per request, and their timing is already
the server span's. ``http_send_receive_spans`` (``AGENT_OBS_HTTP_SEND_RECEIVE_SPANS``) or
``instrument_app(..., send_receive_spans=True)`` brings them back.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from service_obs import ObservabilitySettings
from service_obs.fastapi import instrument_app

_INTERNAL_SUFFIXES = (" http send", " http receive")


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/items/{item_id}")
    def create(item_id: str, body: dict) -> dict:
        return {"item_id": item_id, **body}

    return app


def _serve_one(obs, span_exporter, **options) -> tuple[object, list[object]]:
    app = _app()
    instrument_app(app, obs, **options)
    with TestClient(app) as client:
        assert client.post("/items/7", json={"a": 1}).status_code == 200
    spans = span_exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    internal = [s for s in spans if s.name.endswith(_INTERNAL_SUFFIXES)]
    return server, internal


def test_send_receive_spans_are_left_out_by_default_and_the_server_span_keeps_the_status(
        make_obs, make_settings, span_exporter) -> None:
    obs = make_obs(make_settings(), span_processors=[SimpleSpanProcessor(span_exporter)])
    assert obs.settings.http_send_receive_spans is False
    server, internal = _serve_one(obs, span_exporter)
    assert internal == []
    assert server.name == "POST /items/{item_id}"
    assert server.attributes["http.status_code"] == 200  # set on the server span, not only on "http send"
    assert len(span_exporter.get_finished_spans()) == 1


def test_the_setting_brings_them_back_as_children_of_the_server_span(make_obs, make_settings, span_exporter) -> None:
    obs = make_obs(make_settings(http_send_receive_spans=True), span_processors=[SimpleSpanProcessor(span_exporter)])
    server, internal = _serve_one(obs, span_exporter)
    names = sorted(s.name for s in internal)
    assert "POST /items/{item_id} http receive" in names
    assert names.count("POST /items/{item_id} http send") == 2  # response start and body
    assert all(s.parent.span_id == server.context.span_id for s in internal)


@pytest.mark.parametrize("setting, argument, expected", [(False, True, True), (True, False, False)])
def test_the_instrument_app_argument_wins_over_the_setting(make_obs, make_settings, span_exporter,
                                                           setting, argument, expected) -> None:
    obs = make_obs(make_settings(http_send_receive_spans=setting), span_processors=[SimpleSpanProcessor(span_exporter)])
    _, internal = _serve_one(obs, span_exporter, send_receive_spans=argument)
    assert bool(internal) is expected


def test_environment_variable_and_bad_value(monkeypatch) -> None:
    monkeypatch.setenv("AGENT_OBS_HTTP_SEND_RECEIVE_SPANS", "true")
    assert ObservabilitySettings().http_send_receive_spans is True
    assert ObservabilitySettings(http_send_receive_spans=False).http_send_receive_spans is False  # code wins
    monkeypatch.setenv("AGENT_OBS_HTTP_SEND_RECEIVE_SPANS", "sometimes")
    with pytest.warns(RuntimeWarning, match="AGENT_OBS_HTTP_SEND_RECEIVE_SPANS"):
        assert ObservabilitySettings().http_send_receive_spans is False
    with pytest.raises(ValueError, match="http_send_receive_spans"):
        ObservabilitySettings(http_send_receive_spans="sometimes")
