"""agent_obs: one LangChain callback handler that makes LangGraph runs observable.

    from agent_obs import AgentObserver
    graph.invoke(inputs, config={"callbacks": [AgentObserver()]})

Every graph run becomes a tree of OpenTelemetry spans (GenAI semantic conventions),
Prometheus metrics and trace-correlated loguru records. Importing this package does no work:
no providers, registries, sinks or threads are created until an observer is constructed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["AgentObserver", "__version__"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from agent_obs.observer import AgentObserver


def __getattr__(name: str) -> Any:
    if name == "AgentObserver":
        from agent_obs.observer import AgentObserver

        return AgentObserver
    raise AttributeError(f"module 'agent_obs' has no attribute {name!r}")
