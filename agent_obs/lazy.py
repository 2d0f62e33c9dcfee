"""Lazy package exports: a name is imported from its module the first time it is used.

Packages use it so that ``import agent_obs`` (or ``agent_obs.replay``, ``service_obs``) does no
work and pulls in nothing heavy::

    __getattr__, __dir__ = lazy_exports(__name__, {"AgentObserver": "agent_obs.observer"})
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps a name to its module.

    A loaded name is stored in the package's globals, so later lookups are plain attribute reads.
    """

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module_name), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(getattr(sys.modules[package], "__all__", ())))

    return __getattr__, __dir__
