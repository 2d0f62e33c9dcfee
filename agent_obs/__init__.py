"""agent_obs: one LangChain callback handler that makes LangGraph runs observable.

    from agent_obs import AgentObserver
    graph.invoke(inputs, config={"callbacks": [AgentObserver()]})

Every graph run becomes a tree of OpenTelemetry spans (GenAI semantic conventions),
Prometheus metrics and trace-correlated loguru records. Importing this package does no work:
no providers, registries, sinks or threads are created until an observer is constructed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_obs.lazy import lazy_exports

__all__ = ["AgentObserver", "__version__"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from agent_obs.observer import AgentObserver

__getattr__, __dir__ = lazy_exports(__name__, {"AgentObserver": "agent_obs.observer"})
