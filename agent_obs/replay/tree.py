"""The reasoning tree of a run: each step in order, for the terminal (rich) and notebooks.

``describe(span)`` turns one span into a headline and detail lines (node, LLM call with model,
tokens, cost, TTFT, finish reason and captured messages, tool call with arguments, result or
error, interrupts and retries). ``reasoning_tree`` renders those with rich; ``tree_html`` as
nested lists for Jupyter (``Trace._repr_html_`` uses it)::

    rich.print(reasoning_tree(trace))
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from rich.tree import Tree

from agent_obs.semconv import KIND_AGENT, KIND_LLM, KIND_NODE, KIND_OTHER, KIND_RETRIEVAL, KIND_TOOL

if TYPE_CHECKING:  # the model renders itself with this module (Trace._repr_html_): no import back
    from agent_obs.replay.model import SpanNode, Trace

_STYLES = {
    KIND_AGENT: "bold magenta",
    KIND_NODE: "bold cyan",
    KIND_LLM: "green",
    KIND_TOOL: "yellow",
    KIND_RETRIEVAL: "blue",
    KIND_OTHER: "dim",
}
_MAX_TEXT = 240


def _short(text: Any, limit: int = _MAX_TEXT) -> str:
    value = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, default=str)
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def format_message(message: dict[str, Any]) -> str:
    """One GenAI-format message as a line: ``role: text | tool_call name(args) | result``."""
    role = message.get("role", "?")
    pieces = []
    for part in message.get("parts") or ():
        kind = part.get("type")
        if kind == "text":
            pieces.append(_short(part.get("content", "")))
        elif kind == "tool_call":
            pieces.append(f"tool_call {part.get('name')}({_short(part.get('arguments', ''), 120)})")
        elif kind == "tool_call_response":
            pieces.append(f"tool result: {_short(part.get('response', ''), 160)}")
        else:
            pieces.append(_short(part))
    return f"{role}: " + " | ".join(pieces)


def _cost(value: float | None) -> str:
    return "" if value is None else f"${value:.6f}".rstrip("0").rstrip(".") if value else "$0"


def describe(span: SpanNode) -> tuple[str, list[str]]:
    """(headline, detail lines) for one span."""
    kind = span.kind
    status = "" if span.status == "ok" else f" [{span.status.upper()}]"
    took = f"{span.duration_ms:.1f} ms"
    details: list[str] = []
    if kind == KIND_AGENT:
        head = f"agent {span.agent_name or span.name} · {took}{status}"
        if span.conversation_id:
            details.append(f"thread {span.conversation_id}")
    elif kind == KIND_NODE:
        bits = [f"node {span.node}"]
        if span.agent_name:  # the node runs a named sub-agent
            bits.append(f"sub-agent {span.agent_name}")
        if span.step is not None:
            bits.append(f"step {span.step}")
        if span.attempt > 1:
            bits.append(f"retry: attempt {span.attempt}")
        head = " · ".join(bits) + f" · {took}{status}"
        if span.interrupted:
            details.append("interrupted (waiting for input)")
    elif kind == KIND_LLM:
        bits = [f"LLM {span.model or span.name}", f"{span.input_tokens}→{span.output_tokens} tokens"]
        if span.cost_usd is not None:
            bits.append(_cost(span.cost_usd))
        if span.ttft_s is not None:
            bits.append(f"TTFT {span.ttft_s * 1000:.0f} ms")
        if span.finish_reasons:
            bits.append("finish " + ",".join(span.finish_reasons))
        head = " · ".join(bits) + f" · {took}{status}"
        inputs = span.input_messages
        if inputs:
            details.append(f"prompt: {len(inputs)} messages; last {format_message(inputs[-1])}")
        for message in span.output_messages or ():
            details.append("→ " + format_message(message))
    elif kind == KIND_TOOL:
        head = f"tool {span.tool_name or span.name}"
        if span.tool_arguments is not None:
            head += f"({_short(span.tool_arguments, 120)})"
        head += f" · {took}{status}"
        if span.tool_result is not None:
            details.append("→ " + _short(span.tool_result))
    elif kind == KIND_RETRIEVAL:
        head = f"retrieval {span.name} · {took}{status}"
    else:
        head = f"{span.name} · {took}{status}"
    exc = span.exception
    if exc is not None:
        details.append(f"error {exc[0]}: {_short(exc[1], 160)}")
    elif span.error_type:
        details.append(f"error {span.error_type}")
    return head, details


def routes(span: SpanNode) -> list[str]:
    """Router decisions and handoffs of a node, shown after its children since they come at
    its end."""
    lines = ["route → " + ", ".join(destinations) for destinations in span.routes]
    lines += ["handoff → " + ", ".join(destinations) for destinations in span.handoffs]
    return lines


def _add(tree: Tree, span: SpanNode) -> None:
    head, details = describe(span)
    style = "bold red" if span.status == "error" else _STYLES[span.kind]
    branch = tree.add(Text(head, style=style))
    for line in details:
        branch.add(Text(line, style="italic" if not line.startswith("error") else "red"))
    for child in span.children:
        _add(branch, child)
    for line in routes(span):
        branch.add(Text(line, style="cyan"))


def reasoning_tree(trace: Trace) -> Tree:
    """A rich Tree of the whole trace with totals in its label."""
    label = Text(
        f"trace {trace.trace_id} · {trace.agent_name or trace.roots[0].name} · {trace.outcome} · "
        f"{trace.duration_ms:.1f} ms · {trace.input_tokens}→{trace.output_tokens} tokens · "
        f"{_cost(trace.cost_usd)}",
        style="bold",
    )
    tree = Tree(label)
    for root in trace.roots:
        _add(tree, root)
    return tree


def tree_text(trace: Trace, width: int = 120) -> str:
    """The tree as plain text (for logs, tests and doctest-like output)."""
    from rich.console import Console

    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=_Null())
    console.print(reasoning_tree(trace))
    return console.export_text()


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _html_node(span: SpanNode) -> str:
    head, details = describe(span)
    cls = "error" if span.status == "error" else span.kind
    items = "".join(f"<li class='detail'>{html.escape(d)}</li>" for d in details)
    items += "".join(_html_node(c) for c in span.children)
    items += "".join(f"<li class='detail'>{html.escape(r)}</li>" for r in routes(span))
    inner = f"<ul>{items}</ul>" if items else ""
    return f"<li><span class='{cls}'>{html.escape(head)}</span>{inner}</li>"


def tree_html(trace: Trace) -> str:
    """The tree as escaped nested lists, for Jupyter's rich display."""
    style = (
        "<style>.aotree ul{list-style:none;margin:0;padding-left:1.2em;border-left:1px solid #ccc}"
        ".aotree .agent{font-weight:bold;color:#8b008b}.aotree .node{font-weight:bold;color:#007b8a}"
        ".aotree .llm{color:#2e7d32}.aotree .tool{color:#a66b00}.aotree .other{color:#777}"
        ".aotree .error{color:#c62828;font-weight:bold}.aotree .detail{font-style:italic;color:#555}</style>"
    )
    body = "".join(_html_node(r) for r in trace.roots)
    title = html.escape(
        f"trace {trace.trace_id} · {trace.agent_name} · {trace.outcome} · {trace.duration_ms:.1f} ms · "
        f"{trace.input_tokens}→{trace.output_tokens} tokens · {_cost(trace.cost_usd)}"
    )
    return f"{style}<div class='aotree'><b>{title}</b><ul>{body}</ul></div>"
