"""How LangGraph's runs look from the callbacks: which chain runs are nodes, which are
routers, what a router chose, and whether an input resumes an interrupted thread.

LangGraph does not label its runs for handlers; these rules read the metadata and tags it
does set (``langgraph_node``, ``langgraph_checkpoint_ns``, ``graph:step:N``, ``seq:step:N``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_obs.runs import Run

_GRAPH_STEP_TAG = "graph:step:"
_SEQ_STEP_TAG = "seq:step:"


def serialized_name(serialized: Mapping[str, Any] | None) -> str | None:
    if not serialized:
        return None
    name = serialized.get("name")
    if isinstance(name, str) and name:
        return name
    ids = serialized.get("id")
    if isinstance(ids, list) and ids:
        return str(ids[-1])
    return None


def is_node_run(metadata: Mapping[str, Any], parent: Run | None, tags: list[str] | None) -> bool:
    """A LangGraph task run, not a plumbing level with the same name.

    Each task has its own checkpoint namespace; a compiled subgraph used as a node runs its
    own graph run inside the node's task with the *same* namespace, so it is not a new node.
    Functional-API ``@task`` calls carry no ``graph:step`` tag but do get a namespace.
    """
    namespace = metadata.get("langgraph_checkpoint_ns")
    if namespace:
        return namespace != (parent.checkpoint_ns if parent is not None else None)
    return bool(tags) and has_graph_step_tag(tags)


DEFAULT_GRAPH_NAME = "LangGraph"  # what compile() names a graph that was given no name


def sub_agent(graph_run: Run, host: Run | None, metadata: Mapping[str, Any], tags: list[str] | None) -> str | None:
    """The name of the sub-agent whose graph ``graph_run`` is, or None.

    Called when a node starts whose parent run is plumbing (``graph_run``) rather than the
    top-level run or another node. A graph node (tagged ``graph:step:N``; functional-API tasks
    are not) is started by the graph run that scheduled it, so ``graph_run`` is a graph
    nested in ``host``, the node or tool whose body runs it. The rule: a nested graph
    compiled with a name of its own (``compile(name=...)``, ``create_react_agent(name=...)``,
    ``create_agent(name=...)``, a supervisor or swarm compiled with a name) is a sub-agent; a
    nested graph left with the default name ``LangGraph`` is a plain subgraph of its agent.
    """
    name = graph_run.name
    if not name or name == DEFAULT_GRAPH_NAME or host is None or not tags or not has_graph_step_tag(tags):
        return None
    namespace = metadata.get("langgraph_checkpoint_ns") or ""
    if host.checkpoint_ns and namespace.count("|") <= host.checkpoint_ns.count("|"):
        return None  # not nested deeper than its host: not a graph inside it
    return name


def has_graph_step_tag(tags: list[str]) -> bool:
    for tag in tags:
        if tag.startswith(_GRAPH_STEP_TAG):
            return True
    return False


def has_seq_step_tag(tags: list[str]) -> bool:
    for tag in tags:
        if tag.startswith(_SEQ_STEP_TAG):
            return True
    return False


def route_destinations(outputs: Any) -> list[str] | None:
    """A router returns a node name, END, a Send, or a list of those."""
    items = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    destinations: list[str] = []
    for item in items:
        if isinstance(item, str):
            destinations.append(item)
            continue
        node = getattr(item, "node", None)  # langgraph.types.Send
        if isinstance(node, str) and hasattr(item, "arg"):
            destinations.append(node)
            continue
        return None
    return destinations or None


def is_resume(inputs: Any) -> bool:
    return getattr(inputs, "resume", None) is not None and type(inputs).__name__ == "Command"

