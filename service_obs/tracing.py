"""``traced``: a span around any function, coroutine function or (async) generator.

    @traced                                     # span name = the function's qualified name
    def load(job_id): ...                       # (@traced() is the same)

    @traced("dremio.fetch_profile", record_args=("job_id",))
    async def fetch_profile(job_id, token): ...   # job_id is recorded, token never is

Failures set the span status to ERROR with ``error.type`` (``agent_obs.errors.error_type``:
the exception's fully-qualified class name, the same value the agent's spans, metrics and logs
use) and a recorded exception, and the exception passes through untouched. Arguments are copied onto the span (as ``code.arg.<name>``)
only when named in ``record_args``: recording everything leaks secrets and PII. The tracer is
looked up at call time, so ``tracer_provider=`` (or the global provider) can be set after
decoration.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, TracerProvider

from agent_obs import semconv as sc
from agent_obs.errors import error_type

F = TypeVar("F", bound=Callable[..., Any])
_SCOPE = "service_obs"
_ATTR_TYPES = (str, bool, int, float)


def traced(
    name: str | Callable[..., Any] | None = None,
    *,
    attributes: Mapping[str, Any] | None = None,
    record_args: Iterable[str] = (),
    tracer_provider: TracerProvider | None = None,
) -> Any:
    """Decorate a function so each call runs inside a span called ``name``.

    Both ``@traced`` and ``@traced(...)`` work: given the function itself, ``traced``
    decorates it with the defaults (span name = its qualified name).
    """
    if callable(name):
        return traced(tracer_provider=tracer_provider, attributes=attributes, record_args=record_args)(name)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"traced: name must be a span name (str) or None, got {type(name).__name__}")
    recorded = tuple(record_args)
    static = dict(attributes or {})

    def decorator(func: F) -> F:
        span_name = name or func.__qualname__
        signature = inspect.signature(func)
        unknown = [arg for arg in recorded if arg not in signature.parameters]
        if unknown:
            raise ValueError(f"record_args names unknown parameters of {func.__qualname__}: {unknown}")

        def attrs_for(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            attrs = {"code.function.name": func.__qualname__, **static}
            if recorded:
                attrs.update(_recorded_args(signature, recorded, args, kwargs))
            return attrs

        def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
            return tracer.start_as_current_span(
                span_name, attributes=attrs_for(args, kwargs), record_exception=False,
                set_status_on_exception=False,
            )

        def open_span(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span:
            tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
            return tracer.start_span(span_name, attributes=attrs_for(args, kwargs))

        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                span = open_span(args, kwargs)
                agen = func(*args, **kwargs)
                method, arg = agen.asend, None
                try:
                    while True:
                        with trace.use_span(span, end_on_exit=False, record_exception=False,
                                            set_status_on_exception=False):
                            try:
                                item = await method(arg)
                            except StopAsyncIteration:
                                return
                        try:
                            arg = yield item
                            method = agen.asend
                        except GeneratorExit:
                            await agen.aclose()
                            raise
                        except BaseException as exc:  # noqa: BLE001 - forwarded into the generator
                            method, arg = agen.athrow, exc
                except Exception as exc:
                    _fail(span, exc)
                    raise
                finally:
                    span.end()

            return agen_wrapper  # type: ignore[return-value]

        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                # The span is current only while the generator body runs, never while the
                # consumer runs between items.
                span = open_span(args, kwargs)
                gen = func(*args, **kwargs)
                method, arg = gen.send, None
                try:
                    while True:
                        with trace.use_span(span, end_on_exit=False, record_exception=False,
                                            set_status_on_exception=False):
                            try:
                                item = method(arg)
                            except StopIteration as stop:
                                return stop.value
                        try:
                            arg = yield item
                            method = gen.send
                        except GeneratorExit:
                            gen.close()
                            raise
                        except BaseException as exc:  # noqa: BLE001 - forwarded into the generator
                            method, arg = gen.throw, exc
                except Exception as exc:
                    _fail(span, exc)
                    raise
                finally:
                    span.end()

            return gen_wrapper  # type: ignore[return-value]

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with start(args, kwargs) as span:
                    try:
                        return await func(*args, **kwargs)
                    except Exception as exc:
                        _fail(span, exc)
                        raise

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with start(args, kwargs) as span:
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    _fail(span, exc)
                    raise

        return wrapper  # type: ignore[return-value]

    return decorator


def _fail(span: Span, exc: BaseException) -> None:
    # Never let a telemetry problem replace the user's exception.
    try:
        kind = error_type(exc)
        span.set_attribute(sc.ERROR_TYPE, kind)
        span.record_exception(exc, {sc.EXCEPTION_TYPE: kind})
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:512]))
    except Exception:  # noqa: BLE001 - telemetry must not break the caller
        pass


def _recorded_args(
    signature: inspect.Signature, names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return {}
    result: dict[str, Any] = {}
    for arg in names:
        if arg in bound.arguments:
            value = bound.arguments[arg]
            result[f"code.arg.{arg}"] = value if isinstance(value, _ATTR_TYPES) else repr(value)[:256]
    return result
