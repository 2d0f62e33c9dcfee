"""How a chat message is read, whatever shape it comes in: its kind and its role.

LangChain passes ``BaseMessage`` objects (and their ``...MessageChunk`` variants); users and
providers also use OpenAI-style dicts and ``(role, content)`` tuples. ``content.py`` renders
messages for span attributes and ``tokens.py`` counts their tokens; both read them here, so
the two never disagree about who said what.
"""

from __future__ import annotations

from typing import Any, Final

# LangChain message type -> the role the provider sees (and bills: tokens.py counts it).
PROVIDER_ROLES: Final = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "developer": "developer",
    "tool": "tool",
    "function": "function",
}
# provider role -> the GenAI semantic conventions' role (gen_ai.input.messages)
_GENAI_ROLES: Final = {"developer": "system", "function": "tool"}


def kind(message: Any) -> str:
    """A LangChain message's ``type``, chunks included: ``"AIMessageChunk"`` -> ``"ai"``."""
    value = str(getattr(message, "type", "") or "")
    if value.endswith("MessageChunk"):
        value = value.removesuffix("MessageChunk").lower()
    return value


def is_message(obj: Any) -> bool:
    """Whether ``obj`` looks like a LangChain ``BaseMessage`` (duck-typed: no import)."""
    return hasattr(obj, "content") and isinstance(getattr(obj, "type", None), str) and hasattr(obj, "response_metadata")


def is_role_tuple(item: Any) -> bool:
    """A ``(role, content)`` tuple, which LangChain accepts in place of a message."""
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)


def provider_role(message: Any) -> str | None:
    """The role of a LangChain message as the provider sees it (a ``ChatMessage``'s own role)."""
    value = kind(message)
    if value == "chat":
        return getattr(message, "role", None)
    return PROVIDER_ROLES.get(value, value)


def genai_role(role: str | None) -> str:
    """A role (LangChain type or provider role, any case) as the GenAI conventions name it."""
    value = (role or "user").lower()
    value = PROVIDER_ROLES.get(value, value)
    return _GENAI_ROLES.get(value, value)
