"""Rendered prompt messages, kept so that a conversation is not re-rendered at every call.

An agent's prompt is its whole conversation so far: the messages of call N reappear, as the
same objects, in calls N+1, N+2, ... With content capture on, rendering every prompt whole
makes the capture cost grow with the square of the conversation's length. The cache keeps
each message's rendered JSON, keyed by the message object, and answers only while every
attribute the rendering reads is still the very same object: a message replaced by a copy, or
given new content, tool calls, name or role, is a miss and is rendered again. (Changing a
message in place, e.g. appending to its ``tool_calls`` list after it was sent to a model, is
not seen; LangChain and LangGraph replace messages rather than mutate them.)

Bounded by entries and by characters; oldest entries go first. It holds the messages it
caches, so its bound also bounds the memory it keeps alive.
"""

from __future__ import annotations

import threading
from typing import Any

# Every attribute of a message that ``content._input_message`` reads.
_RENDERED_FROM = ("type", "content", "tool_calls", "invalid_tool_calls", "tool_call_id", "name", "role")
_MISSING = object()


def fingerprint(message: Any) -> tuple[Any, ...] | None:
    """The objects a message's rendering reads, from its instance dict (where pydantic keeps
    a message's fields; ``getattr`` of an absent field is a slow pydantic error path). None
    for objects that keep their content elsewhere: they are not cached."""
    fields = getattr(message, "__dict__", None)
    if type(fields) is not dict or "content" not in fields:
        return None
    return tuple([fields.get(name, _MISSING) for name in _RENDERED_FROM])


class RenderedMessages:
    """message object -> its rendered JSON, valid while its fingerprint is unchanged."""

    def __init__(self, max_entries: int = 1024, max_chars: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: dict[int, tuple[Any, tuple[Any, ...], str]] = {}
        self._chars = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, message: Any) -> str | None:
        entry = self._entries.get(id(message))  # the entry keeps the message: ids are not reused
        if entry is None:
            return None
        now = fingerprint(message)
        if now is None:
            return None
        for kept, current in zip(entry[1], now):
            if kept is not current:
                return None
        return entry[2]

    def put(self, message: Any, text: str) -> None:
        if len(text) > self.max_chars // 8:
            return  # one large message would evict everything else
        kept = fingerprint(message)
        if kept is None:
            return
        with self._lock:
            old = self._entries.pop(id(message), None)
            if old is not None:
                self._chars -= len(old[2])
            self._entries[id(message)] = (message, kept, text)
            self._chars += len(text)
            while len(self._entries) > self.max_entries or self._chars > self.max_chars:
                oldest = next(iter(self._entries))
                self._chars -= len(self._entries.pop(oldest)[2])
