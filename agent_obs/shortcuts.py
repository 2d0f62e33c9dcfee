"""Every shortcut into a library's private internals, in one place, each decided at construction.

agent_obs and service_obs use the public APIs of OpenTelemetry, prometheus_client, loguru and
the SQLAlchemy instrumentation everywhere else. The few places where the public path is
measurably slower, or where no public API exists, live here. Each shortcut:

- is decided once, when the object that uses it is built, from the library's actual shape
  (the private attribute exists and has the expected type, or a probe behaves exactly as the
  public call does); anything unexpected selects the public path, so a library upgrade that
  changes an internal costs speed, never correctness;
- can be switched off for a measurement or a test with ``public_only(NAME, ...)`` around the
  construction (``bench/overhead.py --public NAME`` compares both paths in one run);
- says which public call it stands for and what it saves (``bench/README.md`` has the numbers).

The names: ``SPAN_ATTRIBUTES``, ``SAMPLER_SHAPE``, ``HISTOGRAM_EXEMPLAR``, ``LOG_LEVEL``
(speed), ``REGISTRY_LOOKUP``, ``LOGURU_PATCHER``, ``LOGURU_HANDLERS``, ``LOGURU_LOGGER``,
``ENGINE_LISTENERS``, ``APP_MARKER`` (no public API). No other module reaches into a library's
private names (tests/test_private_internals.py).
"""

from __future__ import annotations

import contextvars
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# The classes the shortcuts compare with, imported once (the hot path does identity checks).
from opentelemetry.attributes import BoundedAttributes
from prometheus_client.samples import Exemplar
from prometheus_client.values import MutexValue

# speed: the public call does the same work and more
SPAN_ATTRIBUTES = "span_attributes"
SAMPLER_SHAPE = "sampler_shape"
HISTOGRAM_EXEMPLAR = "histogram_exemplar"
LOG_LEVEL = "log_level"
# capability: the library has no public way to do it
REGISTRY_LOOKUP = "registry_lookup"
LOGURU_PATCHER = "loguru_patcher"
LOGURU_HANDLERS = "loguru_handlers"
LOGURU_LOGGER = "loguru_logger"
ENGINE_LISTENERS = "engine_listeners"
APP_MARKER = "app_marker"
ALL = (SPAN_ATTRIBUTES, SAMPLER_SHAPE, HISTOGRAM_EXEMPLAR, LOG_LEVEL, REGISTRY_LOOKUP, LOGURU_PATCHER,
       LOGURU_HANDLERS, LOGURU_LOGGER, ENGINE_LISTENERS, APP_MARKER)

_public_only: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("agent_obs_public_only",
                                                                              default=frozenset())


@contextmanager
def public_only(*names: str) -> Iterator[None]:
    """Objects built inside this block take the public path for ``names`` (all when empty)."""
    unknown = set(names) - set(ALL)
    if unknown:
        raise ValueError(f"unknown shortcuts {sorted(unknown)}; choose among {', '.join(ALL)}")
    token = _public_only.set(_public_only.get() | frozenset(names or ALL))
    try:
        yield
    finally:
        _public_only.reset(token)


def allowed(name: str) -> bool:
    """Whether objects built now may take shortcut ``name`` (``public_only`` says no)."""
    return name not in _public_only.get()


# --- OpenTelemetry SDK: spans and samplers ---------------------------------------------------
_PLAIN_TYPES = frozenset((str, int, float, bool))


class SpanShortcuts:
    """What one tracer provider's sampler and spans let the span sink skip.

    - ``children_follow_parent`` (``SAMPLER_SHAPE``): the sampler drops every child of an
      unsampled local parent, so such a child can reuse its parent's non-recording span
      instead of asking the SDK for another one. Public path: ask the SDK for every span.
    - ``attributes_after_start`` (``SAMPLER_SHAPE``): no sampler in the chain reads span
      attributes, so a span can start bare and take its attributes straight after. Public
      path: hand them to ``start_span``.
    - ``write_attributes`` (``SPAN_ATTRIBUTES``): values go straight into the SDK span's
      attribute dict, without the SDK's per-value validation. Public path: ``set_attributes``.
    """

    __slots__ = ("children_follow_parent", "attributes_after_start", "_direct", "_store_type")

    def __init__(self, provider: Any) -> None:
        sampler = getattr(provider, "sampler", None)
        shape = allowed(SAMPLER_SHAPE)
        self.children_follow_parent = shape and _children_follow_parent(sampler)
        self.attributes_after_start = shape and _ignores_attributes(sampler)
        self._direct = allowed(SPAN_ATTRIBUTES) and _attribute_store_has_its_shape()
        self._store_type = BoundedAttributes

    @property
    def direct_attributes(self) -> bool:
        return self._direct

    def write_attributes(self, span: Any, attributes: dict[str, Any]) -> None:
        """``span.set_attributes(attributes)``, without re-validation where that is safe.

        The observer only produces valid values (str, int, float, bool, sequences of str).
        When the span is the SDK's, its limits have room and no value-length limit is set,
        the values go straight into the span's attribute dict as the SDK would store them
        (sequences as tuples, converted in ``attributes`` itself); anything else, any
        unexpected value, or a span that is not recording goes through ``set_attributes``.
        """
        if not self._direct:
            span.set_attributes(attributes)
            return
        store = getattr(span, "_attributes", None)
        if (type(store) is not self._store_type or store.max_value_len is not None
                or store.maxlen is None or len(store._dict) + len(attributes) > store.maxlen  # noqa: SLF001
                or not span.is_recording()):
            span.set_attributes(attributes)
            return
        for key, value in attributes.items():
            kind = type(value)
            if kind in _PLAIN_TYPES:
                continue
            if (kind is tuple or kind is list) and all(type(item) is str for item in value):
                if kind is list:
                    attributes[key] = tuple(value)  # replacing a value while iterating is allowed
                continue
            span.set_attributes(attributes)
            return
        store._dict.update(attributes)  # noqa: SLF001


def _attribute_store_has_its_shape() -> bool:
    """The SDK keeps a span's attributes in a ``BoundedAttributes`` over a plain ``_dict``."""
    try:
        store = BoundedAttributes(maxlen=4, immutable=False)
        store["probe"] = "value"
        return type(store._dict) is dict and store._dict == {"probe": "value"}  # noqa: SLF001
    except Exception:  # noqa: BLE001 - any other shape: the public path
        return False


def _children_follow_parent(sampler: Any) -> bool:
    """True for the SDK's ``ParentBased`` samplers that drop children of unsampled local
    parents (the default), a plain trace-id ratio (a child has its parent's trace id) and
    ALWAYS_OFF; any other sampler is asked span by span."""
    if sampler is None:
        return False
    from opentelemetry.sdk.trace import sampling

    if isinstance(sampler, sampling.ParentBased):
        return getattr(sampler, "_local_parent_not_sampled", None) is sampling.ALWAYS_OFF
    return isinstance(sampler, sampling.TraceIdRatioBased) or sampler is sampling.ALWAYS_OFF


_DELEGATES = ("_root", "_remote_parent_sampled", "_remote_parent_not_sampled", "_local_parent_sampled",
              "_local_parent_not_sampled")


def _ignores_attributes(sampler: Any) -> bool:
    """Whether ``sampler`` is built only of the SDK's samplers, none of which reads attributes."""
    if sampler is None:
        return False
    from opentelemetry.sdk.trace import sampling

    if type(sampler) in (sampling.ParentBased, sampling.ParentBasedTraceIdRatio):
        delegates = [getattr(sampler, name, None) for name in _DELEGATES]
        return all(d is not None and _ignores_attributes(d) for d in delegates)
    return type(sampler) in (sampling.StaticSampler, sampling.TraceIdRatioBased)


# --- prometheus_client: exemplars and the registry --------------------------------------------
_exemplar_shape: list[bool] = []


def exemplar_observer() -> Any:
    """``observe(child, amount, exemplar)`` for trace exemplars (``HISTOGRAM_EXEMPLAR``).

    The exemplars are always ``trace_id`` (32 hex) and ``span_id`` (16 hex): valid label names
    and 62 of the 128 characters allowed, so prometheus_client's per-call validation (a regex
    per label name, a third of the observation's cost) can only pass. The shortcut stores the
    exemplar exactly where ``Histogram.observe`` puts it, on the bucket the value falls in;
    it is taken only when a probe histogram, observed both ways, exposes the same samples.
    Public path: ``child.observe(amount, exemplar)``.
    """
    if not allowed(HISTOGRAM_EXEMPLAR):
        return _observe_public
    if not _exemplar_shape:
        _exemplar_shape.append(_exemplars_match())
    return _observe_direct if _exemplar_shape[0] else _observe_public


def _observe_public(child: Any, amount: float, exemplar: dict[str, str] | None) -> None:
    if exemplar is None:
        child.observe(amount)
    else:
        child.observe(amount, exemplar)


def _observe_direct(child: Any, amount: float, exemplar: dict[str, str] | None) -> None:
    if exemplar is None:
        child.observe(amount)
        return
    buckets = getattr(child, "_buckets", None)
    if (buckets is None or type(buckets[0]) is not MutexValue or amount != amount
            or len(exemplar) != 2 or "trace_id" not in exemplar or "span_id" not in exemplar):
        child.observe(amount, exemplar)  # multiprocess values keep no exemplars; NaN; other labels
        return
    child.observe(amount)
    bucket = bisect_left(child._upper_bounds, amount)  # noqa: SLF001 - first bound >= amount
    buckets[bucket].set_exemplar(Exemplar(exemplar, amount, time.time()))


def _exemplars_match() -> bool:
    from prometheus_client import Histogram

    try:
        exemplar = {"trace_id": "a" * 32, "span_id": "b" * 16}
        public = Histogram("agent_obs_probe", "probe", registry=None, buckets=(1.0, 2.0, 4.0))
        direct = Histogram("agent_obs_probe", "probe", registry=None, buckets=(1.0, 2.0, 4.0))
        for amount in (0.5, 1.5, 3.0, 2.0, 9.0):
            public.observe(amount, exemplar)
            _observe_direct(direct, amount, exemplar)

        def view(histogram: Any) -> list[tuple[Any, ...]]:
            return [(s.name, s.labels, s.value, s.exemplar and (s.exemplar.labels, s.exemplar.value))
                    for metric in histogram.collect() for s in metric.samples
                    if not s.name.endswith("_created")]  # creation times differ

        return view(public) == view(direct)
    except Exception:  # noqa: BLE001 - any other shape: the public path
        return False


def registered_collector(registry: Any, name: str) -> Any:
    """The collector registered in ``registry`` under exposition ``name``, if any
    (``REGISTRY_LOOKUP``: prometheus_client has no public lookup). Without the shortcut, or
    with a registry of another shape, None: the caller then registers its own and gets
    prometheus_client's duplicate-name error if the name is taken."""
    if not allowed(REGISTRY_LOOKUP):
        return None
    names = getattr(registry, "_names_to_collectors", None)
    if not isinstance(names, dict):
        return None
    return names.get(name)


def registered_collectors(registry: Any) -> list[Any] | None:
    """Every collector registered in ``registry`` (``REGISTRY_LOOKUP``: prometheus_client lists
    them nowhere publicly); None without the shortcut or with a registry of another shape, and
    the caller then does without (a multiprocess scrape lists no families without samples)."""
    if not allowed(REGISTRY_LOOKUP):
        return None
    lock = getattr(registry, "_lock", None)
    collectors = getattr(registry, "_collector_to_names", None)
    if lock is None or not isinstance(collectors, dict):
        return None
    with lock:
        return list(collectors)


# --- loguru ------------------------------------------------------------------------------------
class LogLevelGate:
    """``enabled(level_no)``: whether any of a loguru logger's handlers takes the level
    (``LOG_LEVEL``: loguru keeps the lowest handler level in its private core). Public path:
    always True, so records are built and loguru drops them itself."""

    __slots__ = ("_core",)

    def __init__(self, logger: Any) -> None:
        core = getattr(logger, "_core", None) if allowed(LOG_LEVEL) else None
        self._core = core if isinstance(getattr(core, "min_level", None), (int, float)) else None

    def enabled(self, level_no: int) -> bool:
        core = self._core
        return core is None or level_no >= core.min_level


class PatcherAccess:
    """Read and put back a loguru logger's patcher (``LOGURU_PATCHER``: loguru can set a
    patcher but neither read nor unset one). ``usable`` is False when the core has another
    shape or the shortcut is off: the caller then installs a patcher that can be switched off."""

    def __init__(self, logger: Any) -> None:
        core = getattr(logger, "_core", None) if allowed(LOGURU_PATCHER) else None
        self._core = core if core is not None and hasattr(core, "patcher") and hasattr(core, "lock") else None

    @property
    def usable(self) -> bool:
        return self._core is not None

    def current(self) -> Any:
        return self._core.patcher if self._core is not None else None

    def restore(self, patcher: Any) -> bool:
        if self._core is None:
            return False
        with self._core.lock:
            self._core.patcher = patcher
        return True


class LoguruHandlers:
    """Which loguru loggers share handlers, and whether a handler is a stderr one
    (``LOGURU_HANDLERS``: bound copies of a logger share its private core, and loguru lists no
    handlers publicly). Public path: the logger object itself is the key, and ``is_stderr``
    answers None (unknown): the caller then relies on loguru's numbering (ids are never reused)."""

    def __init__(self, logger: Any) -> None:
        core = getattr(logger, "_core", None) if allowed(LOGURU_HANDLERS) else None
        self._core = core if isinstance(getattr(core, "handlers", None), dict) else None
        self.key = id(self._core if self._core is not None else logger)

    @property
    def usable(self) -> bool:
        return self._core is not None

    def is_stderr(self, handler_id: int) -> bool | None:
        """Whether handler ``handler_id`` exists and writes to stderr; None when unknown."""
        if self._core is None:
            return None
        handler = self._core.handlers.get(handler_id)
        return handler is not None and getattr(handler, "_name", None) == "<stderr>"


def independent_logger() -> Any:
    """A new loguru logger with no handlers, independent of ``loguru.logger`` (``LOGURU_LOGGER``:
    loguru has no public constructor; this builds one as loguru builds its global logger, as of
    loguru 0.7). Public path, or another loguru: the global logger itself."""
    from loguru import logger

    if not allowed(LOGURU_LOGGER):
        return logger
    try:
        from loguru._logger import Core, Logger

        return Logger(core=Core(), exception=None, depth=0, record=False, lazy=False, colors=False, raw=False,
                      capture=True, patchers=[], extra={})
    except Exception:  # noqa: BLE001 - another shape: the public path
        return logger


# --- opentelemetry-instrumentation-fastapi -----------------------------------------------------
def app_instrumented(app: Any) -> bool:
    """Whether OpenTelemetry's FastAPI instrumentation already instrumented ``app``
    (``APP_MARKER``: it marks the app privately and only logs a warning when asked again).
    Public path: False, and a second instrumentation is left to that warning."""
    return bool(getattr(app, "_is_instrumented_by_opentelemetry", False)) if allowed(APP_MARKER) else False


# --- opentelemetry-instrumentation-sqlalchemy ----------------------------------------------------
class EngineListeners:
    """The event listeners an ``EngineTracer`` class registers, per engine (``ENGINE_LISTENERS``:
    the instrumentation can only remove every engine's at once). ``usable`` is False when the
    class keeps them in another shape or the shortcut is off: the listeners then stay until
    the process ends (their spans go to a provider that has been shut down)."""

    def __init__(self, tracer_class: Any) -> None:
        params = getattr(tracer_class, "_remove_event_listener_params", None) if allowed(ENGINE_LISTENERS) else None
        self._params: list[Any] | None = params if isinstance(params, list) else None

    @property
    def usable(self) -> bool:
        return self._params is not None

    def snapshot(self) -> list[Any]:
        return list(self._params) if self._params is not None else []

    def added_since(self, before: list[Any]) -> list[Any]:
        return [p for p in self.snapshot() if p not in before]

    def forget(self, entries: list[Any]) -> list[tuple[Any, str, Any]]:
        """Take ``entries`` out of the class's list; returns the (target, identifier, fn) to remove."""
        if self._params is None:
            return []
        removed = []
        for entry in list(self._params):
            if entry in entries:
                self._params.remove(entry)
                target_ref, identifier, func = entry
                removed.append((target_ref(), identifier, func))
        return removed
