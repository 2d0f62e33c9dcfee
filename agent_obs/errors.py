"""Errors: the ones agent_obs raises for things a user can fix, and the one name every
exception gets in telemetry (``error_type``). One module with no imports.

The CLI prints any ``UserError`` as one line on stderr and exits non-zero, without a
traceback; the library raises the same classes, so a notebook sees the same one-line message.
Keeping them here (and not in ``cli.py``) lets the library raise them without importing the
command line, and the command line catch them without an import cycle.

``error_type(exc)`` is the ``error.type`` rule. OpenTelemetry's semantic conventions
(``error.type``, general and GenAI) ask for "the canonical class name identifying the type
within the artifact" when the error is an exception, and ``exception.type`` is "its
fully-qualified class name". In Python that is the defining module and the qualified name:
``json.decoder.JSONDecodeError``, ``httpx.ConnectError`` (httpx sets its exceptions'
``__module__`` to its public package; otherwise it is the module that defines the class, not
one that re-exports it), ``mypkg.client.Client.Error`` for a nested class. Built-in
exceptions have no module to name: ``TimeoutError``, ``ValueError``. This is also the OpenTelemetry
SDK's rule for the ``exception.type`` of a recorded exception, so a span's ``error.type`` and
its exception event agree. Every producer (the observer's spans, metrics and logs,
``service_obs.traced``, the JSON log records, the HTTP client error counter, the example
service) calls this one function, so a TraceQL ``span.error.type = "json.decoder.JSONDecodeError"``
and a PromQL ``error_type="json.decoder.JSONDecodeError"`` find the same failures.
"""

from __future__ import annotations


class CliError(Exception):
    """An error the user can fix; printed as one line, without a traceback."""


UserError = CliError  # the library's name for the same idea


class ReplayError(CliError, ValueError):
    """A recorded run cannot be loaded or re-run; the message says why in one line."""


class StackError(CliError):
    """``agent-obs stack`` cannot export as asked (bad option, edited files, missing stack)."""


class TraceFileError(ValueError):
    """A trace file, or one line of it, is not OTLP JSON; the message names what is wrong."""


def error_type(error: BaseException | type[BaseException]) -> str:
    """The ``error.type`` value of an exception (or exception class)."""
    cls = error if isinstance(error, type) else type(error)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", None) or cls.__name__
    if not module or module == "builtins":
        return name
    return f"{module}.{name}"
