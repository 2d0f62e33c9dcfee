"""Fixtures and import paths for the documentation tests.

The docs tests reuse the stack tests' helpers (real query parsers, the Prometheus stack), so
``tests/stack`` is put on ``sys.path`` here the same way pytest puts it there for its own
modules; ``scripts/`` is added for the reference generator.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for extra in (REPO / "tests" / "stack", REPO / "scripts"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


@pytest.fixture(scope="session")
def doc_blocks():
    """Every fenced query block in docs/ as (file, line, language, text)."""
    from docs_helpers import query_blocks

    return query_blocks()
