"""traced(): sync, async, generators; ERROR status + exception; only record_args recorded."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from opentelemetry.trace import StatusCode

from service_obs import traced


def test_sync_success_keeps_metadata_and_signature(tracer_provider, span_exporter) -> None:
    @traced(attributes={"component": "loader"}, tracer_provider=tracer_provider)
    def load(job_id: str, token: str = "") -> str:
        """Load a job."""
        return job_id.upper()

    assert load("a", token="secret") == "A"
    assert load.__name__ == "load" and load.__doc__ == "Load a job."
    assert list(inspect.signature(load).parameters) == ["job_id", "token"]
    (span,) = span_exporter.get_finished_spans()
    assert span.name.endswith("load") and span.attributes["component"] == "loader"
    assert not any("secret" in str(v) for v in span.attributes.values())
    assert not any(k.startswith("code.arg") for k in span.attributes)
    assert span.status.status_code is StatusCode.UNSET


def test_record_args_only_those_named(tracer_provider, span_exporter) -> None:
    @traced("fetch", record_args=("job_id",), tracer_provider=tracer_provider)
    def fetch(job_id: str, token: str) -> None:
        return None

    fetch("j-1", "secret")
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes["code.arg.job_id"] == "j-1"
    assert "secret" not in str(dict(span.attributes))


def test_record_args_unknown_name_fails_at_decoration() -> None:
    with pytest.raises(ValueError, match="nope"):
        traced(record_args=("nope",))(lambda x: x)


def test_failure_sets_error_status_and_records_exception(tracer_provider, span_exporter) -> None:
    @traced("boom", tracer_provider=tracer_provider)
    def boom() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        boom()
    (span,) = span_exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "KeyError"
    assert [e.name for e in span.events] == ["exception"]


async def test_async_function_runs_inside_its_span(tracer_provider, span_exporter) -> None:
    @traced("outer", tracer_provider=tracer_provider)
    async def outer() -> int:
        await asyncio.sleep(0)
        return await inner()

    @traced("inner", tracer_provider=tracer_provider)
    async def inner() -> int:
        raise ValueError("bad")

    assert inspect.iscoroutinefunction(outer)
    with pytest.raises(ValueError):
        await outer()
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    assert spans["inner"].parent.span_id == spans["outer"].context.span_id
    assert spans["outer"].status.status_code is StatusCode.ERROR
    assert spans["outer"].end_time >= spans["inner"].end_time


def test_generator_span_covers_iteration_not_the_consumer(tracer_provider, span_exporter) -> None:
    tracer = tracer_provider.get_tracer("t")

    @traced("gen", tracer_provider=tracer_provider)
    def numbers(n: int):
        for i in range(n):
            with tracer.start_as_current_span(f"item {i}"):
                pass
            yield i
        return "done"

    assert inspect.isgeneratorfunction(numbers)
    seen = []
    for value in numbers(2):
        with tracer.start_as_current_span(f"consumer {value}"):
            seen.append(value)
    assert seen == [0, 1]
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    gen_id = spans["gen"].context.span_id
    assert spans["item 0"].parent.span_id == gen_id
    assert spans["consumer 0"].parent is None  # the consumer is not inside the generator's span


def test_generator_failure_and_close(tracer_provider, span_exporter) -> None:
    @traced("failing", tracer_provider=tracer_provider)
    def failing():
        yield 1
        raise RuntimeError("late")

    with pytest.raises(RuntimeError):
        list(failing())

    @traced("closed", tracer_provider=tracer_provider)
    def endless():
        while True:
            yield 1

    gen = endless()
    next(gen)
    gen.close()
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    assert spans["failing"].status.status_code is StatusCode.ERROR
    assert spans["closed"].status.status_code is StatusCode.UNSET


async def test_async_generator(tracer_provider, span_exporter) -> None:
    @traced("agen", tracer_provider=tracer_provider)
    async def agen():
        yield 1
        yield 2

    assert inspect.isasyncgenfunction(agen)
    assert [x async for x in agen()] == [1, 2]
    (span,) = span_exporter.get_finished_spans()
    assert span.name == "agen" and span.end_time is not None



def test_bare_traced_decorates_the_function() -> None:
    """Guards issue 14 item 10: bare ``@traced`` used to turn the function into a decorator
    (the first call failed with "'int' object is not callable"-style errors)."""
    from service_obs import tracing

    @traced
    def add(a: int, b: int) -> int:
        return a + b

    @traced
    async def twice(x: int) -> int:
        return 2 * x

    assert add.__name__ == "add" and add(2, 3) == 5
    assert asyncio.run(twice(4)) == 8
    with pytest.raises(TypeError, match="name must be a span name"):
        tracing.traced(42)


def test_obs_traced_bare_and_called(make_obs, span_exporter) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    obs = make_obs(span_processors=[SimpleSpanProcessor(span_exporter)])

    @obs.traced
    def bare(x: int) -> int:
        return x + 1

    @obs.traced("named")
    def called(x: int) -> int:
        return x - 1

    assert bare(1) == 2 and called(1) == 0
    names = sorted(s.name for s in span_exporter.get_finished_spans())
    assert names == sorted([bare.__qualname__, "named"])
