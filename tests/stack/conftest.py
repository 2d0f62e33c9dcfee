"""Fixtures of the stack tests: the tools of both release lines (stack_helpers.LINES)."""

from __future__ import annotations

import pytest

from stack_helpers import LINES, line_binary


@pytest.fixture(params=LINES)
def promtool(request: pytest.FixtureRequest) -> str:
    """promtool 2.42 (Debian stable, the floor) and promtool 3.x."""
    return line_binary(request.param, "promtool")


@pytest.fixture(params=LINES)
def amtool(request: pytest.FixtureRequest) -> str:
    """amtool 0.25 (Debian stable, the floor) and a current amtool."""
    return line_binary(request.param, "amtool")
