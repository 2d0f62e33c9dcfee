"""Helpers for tests that run the service in real worker processes (uvicorn, gunicorn)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "docs"))
