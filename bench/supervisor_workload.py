"""The multi-agent benchmark workload: a langgraph-supervisor team around ``workload.py``'s agent.

Why: handoffs (``ParentCommand`` bubbling through the worker's ``tools`` node and the
worker's graph) and named sub-agents take their own path through the observer, which the
single-agent workload never exercises. ``supervisor`` (a scripted model that hands off to the
worker once, then answers) runs ``trip_agent``, a ``create_react_agent`` worker that does
``workload.py``'s tool rounds with the same scripted replies. Like ``workload.py`` nothing
touches the network and every configuration does identical work. Needs langgraph-supervisor
(the ``dev`` extra).
"""

from __future__ import annotations

import warnings
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

import workload

WORKER = "trip_agent"
SUPERVISOR = "supervisor"
HANDOFF_TOOL = f"transfer_to_{WORKER}"


def _since_handoff(messages: list[BaseMessage]) -> list[BaseMessage]:
    """The messages after the supervisor's handoff: the worker's own conversation so far."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, ToolMessage) and message.name == HANDOFF_TOOL:
            return messages[:2] + messages[index + 1:]  # system prompt and question, then the worker's turns
    return messages


class WorkerModel(workload.ScriptedModel):
    """``workload.ScriptedModel``'s rounds, counted from the handoff on."""

    def reply(self, messages: list[BaseMessage]) -> AIMessage:
        return super().reply(_since_handoff(messages))


class SupervisorModel(workload.ScriptedModel):
    """Hands off to the worker once, then answers."""

    def reply(self, messages: list[BaseMessage]) -> AIMessage:
        prompt_tokens = sum(len(str(m.content)) for m in messages) // 4 + 120
        meta = {"model_name": self.model_name}
        if not any(isinstance(m, ToolMessage) and m.name == HANDOFF_TOOL for m in messages):
            return AIMessage(content="", id="s0", tool_calls=[
                {"name": HANDOFF_TOOL, "args": {}, "id": "h0", "type": "tool_call"}],
                usage_metadata={"input_tokens": prompt_tokens, "output_tokens": 12,
                                "total_tokens": prompt_tokens + 12},
                response_metadata={**meta, "finish_reason": "tool_calls"})
        out = len(workload.words("Done."))
        return AIMessage(content="Done.", id="s1",
                         usage_metadata={"input_tokens": prompt_tokens, "output_tokens": out,
                                         "total_tokens": prompt_tokens + out},
                         response_metadata={**meta, "finish_reason": "stop"})


def build_graph(rounds: int = 5) -> Any:
    from langgraph_supervisor import create_supervisor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both build with the deprecated create_react_agent
        from langgraph.prebuilt import create_react_agent

        worker = create_react_agent(WorkerModel(rounds=rounds), workload.TOOLS, name=WORKER)
        team = create_supervisor([worker], model=SupervisorModel(), supervisor_name=SUPERVISOR)
    return team.compile(name="trip-team")


def expected_messages() -> int:
    """The team's final state: system prompt, question, the supervisor's handoff and its tool
    message, the worker's answer (its last message) with the handoff back, the final answer."""
    return 8
