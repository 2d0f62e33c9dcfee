"""The errors agent_obs raises for things a user can fix, in one module with no imports.

The CLI prints any ``UserError`` as one line on stderr and exits non-zero, without a
traceback; the library raises the same classes, so a notebook sees the same one-line message.
Keeping them here (and not in ``cli.py``) lets the library raise them without importing the
command line, and the command line catch them without an import cycle.
"""

from __future__ import annotations


class CliError(Exception):
    """An error the user can fix; printed as one line, without a traceback."""


UserError = CliError  # the library's name for the same idea


class ReplayError(CliError, ValueError):
    """A recorded run cannot be loaded or re-run; the message says why in one line."""


class TraceFileError(ValueError):
    """A trace file, or one line of it, is not OTLP JSON; the message names what is wrong."""
