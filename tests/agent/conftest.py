"""Fixtures for the AgentObserver tests: an observer wired to the per-test exporter/registry."""

from __future__ import annotations

import sys
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from agent_obs import AgentObserver  # noqa: E402


@pytest.fixture
def observer(tracer_provider, registry) -> AgentObserver:
    return AgentObserver(tracer_provider=tracer_provider, registry=registry)


@pytest.fixture
def content_observer(tracer_provider, registry) -> AgentObserver:
    return AgentObserver(tracer_provider=tracer_provider, registry=registry, capture_content=True)


@pytest.fixture
def tokenizer_loaded() -> None:
    """o200k_base loaded before the test: the observer counts with it rather than the
    character estimate it uses while the vocabulary loads in the background."""
    from agent_obs import tokens

    assert tokens.get_encoding(tokens.O200K_BASE) is not None
