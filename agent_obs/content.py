"""What prompts, completions and tool payloads look like on a span when capture is on.

Content capture is off by default. When the user turns it on, the observer asks a
``ContentPolicy`` for the string to put on ``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.tool.call.arguments`` and ``gen_ai.tool.call.result``:

    policy = ContentPolicy(max_length=16384, redact=True)
    text, original_length = policy.messages(messages)           # on_chat_model_start
    text, original_length = policy.output_messages(result.generations)   # on_llm_end
    text, original_length = policy.value(tool_input_or_output)  # on_tool_start / on_tool_end

Messages follow the OpenTelemetry GenAI JSON format (``[{"role", "parts": [...]}]``). Secrets
are redacted before truncation: API keys (OpenAI/Anthropic ``sk-``, AWS ``AKIA``, GitHub
``ghp_``, Slack ``xox?-``, Google ``AIza``), ``Authorization`` headers and bearer tokens,
passwords in URLs, ``password=``/``api_key=``/``secret=``/``token=`` pairs in text, values of
dict keys with such names, and PEM private keys. Redaction is a safety net, not a guarantee.

Truncated strings end with ``…[truncated, N chars]`` and are at most ``max_length``
characters long (so truncated JSON no longer parses). ``original_length`` is the length the
string would have had untruncated; for inputs far larger than ``max_length`` only about
``max_length`` characters are ever serialised, and the length of what was skipped is
estimated. Bytes are never decoded (``<N bytes>``). No method raises.

A prompt repeats the conversation so far; each message is rendered once and reused while it
is unchanged (``message_cache``), so capture costs grow with the conversation, not its square.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import functools
import json
import logging
import math
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Final
from uuid import UUID

from agent_obs.message_cache import RenderedMessages
from agent_obs.messages import genai_role, is_message, is_role_tuple, provider_role
from agent_obs.messages import kind as message_kind

__all__ = ["ContentPolicy", "redact_text", "DEFAULT_MAX_LENGTH", "REDACTED"]

_log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH: Final = 16384
REDACTED: Final = "[REDACTED]"
_MAX_DEPTH: Final = 24
_MAX_KEY_LENGTH: Final = 256
# Characters past a cut that are still scanned, so a secret straddling the cut is redacted.
_REDACT_WINDOW: Final = 512
_MAX_INT_BITS: Final = 4096

_KV_NAMES = (
    r"password|passwd|pwd|passphrase|client[_-]?secret|secret[_-]?key|secret|api[_-]?key|apikey"
    r"|access[_-]?key|private[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token|token"
)


def _kv_replacement(match: re.Match[str]) -> str:
    value = match.group(3)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{match.group(2)}{quote}{REDACTED}{quote}"


def _auth_replacement(match: re.Match[str]) -> str:
    scheme = f"{match.group(2)} " if match.group(2) else ""
    return f"{match.group(1)}{scheme}{REDACTED}"


# Applied in order; earlier rules see the text first.
_TEXT_RULES: Final[tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    (
        re.compile(r"-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----.*?(?:-----END (?:[A-Z ]+ )?PRIVATE KEY-----|\Z)", re.S),
        f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/:@]+:)([^\s@/]+)(@)"), r"\1***\3"),
    (
        re.compile(
            r"(?i)\b(authorization[\"']?[ \t]*[:=][ \t]*[\"']?)(?:(bearer|basic|digest|token|apikey)[ \t]+)?"
            r"([^\s\"',;]+)"
        ),
        _auth_replacement,
    ),
    (
        re.compile(
            r"(?i)\b(bearer)[ \t]+(?:(?=[A-Za-z0-9._~+/\-]*[0-9._~+/\-])[A-Za-z0-9._~+/\-]+=*"
            r"|[A-Za-z0-9._~+/\-]{16,}=*)"
        ),
        rf"\1 {REDACTED}",
    ),
    (
        re.compile(
            rf"(?i)(?<![a-z0-9])({_KV_NAMES})([\"']?[ \t]*[=:][ \t]*)"
            r"(\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\s\"'&,;)}\]]+)"
        ),
        _kv_replacement,
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), REDACTED),
)

_SENSITIVE_KEY: Final = re.compile(
    r"(?:^|[^a-z0-9])(?:password|passwd|pwd|passphrase|secret|client[_-]?secret|secret[_-]?key"
    r"|api[_-]?key|apikey|access[_-]?key|private[_-]?key|token|access[_-]?token|refresh[_-]?token"
    r"|auth[_-]?token|id[_-]?token|session[_-]?token|authorization|cookie|credentials?)$"
)

_TEXT_BLOCKS: Final = frozenset({"text", "input_text", "output_text"})
_REASONING_BLOCKS: Final = frozenset({"reasoning", "thinking"})
_TOOL_CALL_BLOCKS: Final = frozenset({"tool_use", "tool_call", "function_call"})
_MEDIA: Final = frozenset({"image", "audio", "video"})


# Words one of the rules above (or a secret field name, _SENSITIVE_KEY) needs to see, lower
# case. Text with none of them is left as it is after a few substring scans, which are much
# cheaper than running every rule (most prompts and tool payloads hold no secret).
_TRIGGERS: Final = (
    "private key", "authorization", "bearer", "password", "passwd", "pwd", "passphrase", "secret",
    "api_key", "api-key", "apikey", "access_key", "access-key", "accesskey", "private_key",
    "private-key", "privatekey", "token", "sk-", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_",
    "ghr_", "github_pat_", "xox", "aiza", "cookie", "credential", "session",
)


def _maybe_secret(text: str) -> bool:
    lowered = text.lower()
    if "://" in lowered and "@" in lowered:
        return True
    return _trigger_pattern().search(lowered) is not None


@functools.lru_cache(maxsize=1)
def _trigger_pattern() -> re.Pattern[str]:
    """One regex that matches wherever any trigger occurs, as a prefix tree of the triggers.

    One pass over the text instead of one substring search per trigger (about twice as
    fast on a typical prompt); compiled on first use, not at import.
    """
    return re.compile(_prefix_tree_regex(_TRIGGERS))


def _prefix_tree_regex(words: tuple[str, ...]) -> str:
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def alternatives(node: dict[str, Any]) -> str:
        if "" in node:
            return ""  # a shorter word ends here: reaching it is already a match
        branches = [re.escape(char) + alternatives(child) for char, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return alternatives(tree)


def redact_text(text: str) -> str:
    """Replace secrets in ``text`` with ``[REDACTED]`` (URL passwords with ``***``)."""
    if not _maybe_secret(text):
        return text
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True, slots=True)
class ContentPolicy:
    """How captured content is shaped: GenAI JSON, redacted, then cut to ``max_length`` chars."""

    max_length: int = DEFAULT_MAX_LENGTH
    redact: bool = True
    _rendered: RenderedMessages = dataclasses.field(
        default_factory=RenderedMessages, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int) or self.max_length < 1:
            raise ValueError(f"max_length must be a positive int, got {self.max_length!r}")

    def messages(self, messages: Any) -> tuple[str, int]:
        """Prompt messages as ``gen_ai.input.messages`` JSON, and the untruncated length."""
        try:
            items = _prompt_items(messages)
            # When the message-by-message path declines, the whole list would decline the
            # plain path too (same checks): straight to the careful walk.
            return self._render_prompt(items) or self._render_careful([_input_message(item) for item in items])
        except Exception:  # noqa: BLE001 - capture must never break the caller
            return _failed(messages)

    def _render_prompt(self, items: list[Any]) -> tuple[str, int] | None:
        """``_render_plain`` of the whole prompt, one message at a time, each message rendered
        once for every prompt it appears in (see ``message_cache``). The text is exactly
        ``json.dumps`` of the list; a message that is not plain, fits no longer or looks
        secret sends the whole prompt down the careful path instead."""
        if len(items) > self.max_length // 4:
            return None
        rendered = self._rendered
        parts: list[str] = []
        length = 2  # the brackets
        for item in items:
            cacheable = not isinstance(item, (str, tuple, Mapping))
            text = rendered.get(item) if cacheable else None
            if text is None:
                plain = self._render_plain(_input_message(item))
                if plain is None:
                    return None
                text = plain[0]
                if cacheable:
                    rendered.put(item, text)
            length += len(text) + (2 if parts else 0)
            if length > self.max_length:
                return None
            parts.append(text)
        text = "[" + ", ".join(parts) + "]"
        return text, len(text)

    def output_messages(self, generations: Any) -> tuple[str, int]:
        """``LLMResult.generations`` as ``gen_ai.output.messages`` JSON, and the untruncated length."""
        try:
            return self._render(_output_messages(generations))
        except Exception:  # noqa: BLE001
            return _failed(generations)

    def value(self, obj: Any) -> tuple[str, int]:
        """Any tool argument or result as a string (JSON unless it is text), and its length."""
        try:
            if _is_tool_message(obj):
                obj = obj.content
            if isinstance(obj, (bytes, bytearray, memoryview)):
                obj = f"<{memoryview(obj).nbytes} bytes>"
            return self._render(obj)
        except Exception:  # noqa: BLE001
            return _failed(obj)

    def _render(self, obj: Any) -> tuple[str, int]:
        return self._render_plain(obj) or self._render_careful(obj)

    def _render_careful(self, obj: Any) -> tuple[str, int]:
        """Walk ``obj`` within the length budget, redacting every string on the way."""
        walker = _Walker(self.max_length, self.redact)
        walked = walker.walk(obj, 0)
        # Text (and anything rendered as text: bytes, unknown objects) is captured unquoted.
        text = walked if isinstance(walked, str) else json.dumps(walked, ensure_ascii=False)
        original = len(text) + walker.omitted
        if not text.isascii():
            # Lone surrogates cannot be exported as UTF-8 (protobuf, OTLP JSON): replace them.
            text = text.encode("utf-8", "replace").decode("utf-8")
        if original <= self.max_length and not walker.omitted:
            return text, original
        return _truncate(text, original, self.max_length), original

    def _render_plain(self, obj: Any) -> tuple[str, int] | None:
        """The common case in one ``json.dumps`` and one scan: plain JSON data (or text) that
        fits whole and holds nothing secret-looking. Anything else takes the careful walk."""
        if isinstance(obj, str):
            text = obj
        elif isinstance(obj, (dict, list)) and len(obj) <= self.max_length // 4:
            try:
                text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError, RecursionError):
                return None
        else:
            return None
        if len(text) > self.max_length:
            return None
        if self.redact and _maybe_secret(text):
            return None
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return None
        return text, len(text)


def _truncate(text: str, original: int, max_length: int) -> str:
    keep = max_length - len(f"…[truncated, {original} chars]")
    if keep <= 0:
        return text[:max_length]
    return f"{text[:keep]}…[truncated, {original - keep} chars]"


def _failed(obj: Any) -> tuple[str, int]:
    _log.debug("agent_obs: content capture failed", exc_info=True)
    text = f"<unserializable {type(obj).__name__}>"
    return text, len(text)


class _Walker:
    """Turns any object into JSON-ready data, doing at most about ``budget`` characters of work."""

    __slots__ = ("remaining", "omitted", "redact", "_path")

    def __init__(self, budget: int, redact: bool) -> None:
        self.remaining = budget
        self.omitted = 0
        self.redact = redact
        self._path: set[int] = set()

    def text(self, value: str) -> str:
        # Redact first, then cut: only a window just past the cut is ever scanned.
        limit = max(self.remaining, 0) + 1
        rest = 0
        if len(value) > limit + _REDACT_WINDOW:
            rest = len(value) - (limit + _REDACT_WINDOW)
            value = value[: limit + _REDACT_WINDOW]
        if self.redact:
            value = redact_text(value)
        if rest or len(value) > self.remaining:
            self.omitted += len(value) - limit + rest
            value = value[:limit]
        self.remaining -= len(value) + 2  # with its JSON quotes
        return value

    def walk(self, obj: Any, depth: int) -> Any:
        if obj is None or isinstance(obj, bool):
            self.remaining -= 4
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, int):
            if obj.bit_length() > _MAX_INT_BITS:
                return self.text(f"<int of {obj.bit_length()} bits>")
            self.remaining -= 4
            return int(obj)
        if isinstance(obj, float):
            self.remaining -= 8
            return float(obj) if math.isfinite(obj) else str(obj)  # JSON has no NaN or Infinity
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return self.text(f"<{memoryview(obj).nbytes} bytes>")
        if isinstance(obj, enum.Enum):
            return self.walk(obj.value, depth)
        if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
            return self.text(obj.isoformat())
        if isinstance(obj, (UUID, Decimal, PurePath)):
            return self.text(str(obj))
        if depth >= _MAX_DEPTH:
            return self.text(f"<{type(obj).__name__} nested too deep>")
        if id(obj) in self._path:
            return self.text(f"<recursive {type(obj).__name__}>")
        self._path.add(id(obj))
        try:
            return self._container(obj, depth + 1)
        finally:
            self._path.discard(id(obj))

    def _container(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, Mapping):
            return self._mapping(obj.items(), len(obj), depth)
        if isinstance(obj, (list, tuple, set, frozenset, deque)):
            return self._sequence(obj, len(obj), depth)
        if is_message(obj):
            return self._mapping(_message_fields(obj), 2, depth)
        fields = _object_fields(obj)
        if fields is not None:
            return self._mapping(fields.items(), len(fields), depth)
        return self.text(_safe_str(obj))

    def _mapping(self, items: Any, size: int, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        start = (self.remaining, self.omitted)
        self.remaining -= 2
        for index, (key, value) in enumerate(items):
            if self.remaining <= 0:
                self._skip(start, index, size)
                break
            name = key if isinstance(key, str) else _safe_str(key)
            name = name[:_MAX_KEY_LENGTH]
            self.remaining -= len(name) + 6  # '"name": ' and ', '
            if self.redact and _is_secret_field(name, value):
                out[name] = REDACTED
                self.remaining -= len(REDACTED)
            else:
                out[name] = self.walk(value, depth)
        return out

    def _sequence(self, items: Any, size: int, depth: int) -> list[Any]:
        out: list[Any] = []
        start = (self.remaining, self.omitted)
        self.remaining -= 2
        for index, value in enumerate(items):
            if self.remaining <= 0:
                self._skip(start, index, size)
                break
            out.append(self.walk(value, depth))
            self.remaining -= 2
        return out

    def _skip(self, start: tuple[int, int], done: int, size: int) -> None:
        """Estimate the length of the items not walked from the average of those walked."""
        if done and size > done:
            spent = (start[0] - self.remaining) + (self.omitted - start[1])
            self.omitted += spent * (size - done) // done


def _is_secret_field(name: str, value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float)):
        return False
    return _SENSITIVE_KEY.search(name.lower()) is not None


def _safe_str(obj: Any) -> str:
    try:
        return str(obj)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(obj).__name__}>"


def _object_fields(obj: Any) -> dict[str, Any] | None:
    """Shallow fields of pydantic models and dataclasses; None for other objects."""
    if isinstance(obj, type):
        return None
    model_fields = getattr(type(obj), "model_fields", None)
    if isinstance(model_fields, dict):
        return {name: getattr(obj, name, None) for name in model_fields}
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    return None


# --- LangChain messages ----------------------------------------------------------------


def _is_tool_message(obj: Any) -> bool:
    return is_message(obj) and message_kind(obj) == "tool"


def _message_fields(message: Any) -> list[tuple[str, Any]]:
    return [("type", message_kind(message)), ("content", message.content)]


def _prompt_items(messages: Any) -> list[Any]:
    """The messages of one prompt, whatever shape the callback passed them in."""
    if messages is None:
        return []
    if isinstance(messages, str) or is_message(messages) or isinstance(messages, Mapping):
        messages = [messages]
    items = list(messages)
    if items and isinstance(items[0], (list, tuple)) and not is_role_tuple(items[0]):
        items = list(items[0])  # batched chat call: one run per prompt, the first is ours
    return items


def _input_message(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"role": "user", "parts": _parts(item, has_tool_calls=False)}
    if is_role_tuple(item):
        return {"role": genai_role(item[0]), "parts": _parts(item[1], has_tool_calls=False)}
    if isinstance(item, Mapping):
        return {"role": genai_role(str(item.get("role", "user"))), "parts": _parts(item.get("content"), has_tool_calls=False)}
    if not is_message(item):
        return {"role": "user", "parts": _parts(_safe_str(item), has_tool_calls=False)}
    role = genai_role(provider_role(item))
    if role == "tool":
        response = item.content
        parts: list[dict[str, Any]] = [
            {"type": "tool_call_response", "id": getattr(item, "tool_call_id", None), "response": response}
        ]
    else:
        tool_calls = list(getattr(item, "tool_calls", None) or [])
        parts = _parts(item.content, has_tool_calls=bool(tool_calls))
        parts.extend(_tool_call_parts(item, tool_calls))
    message: dict[str, Any] = {"role": role, "parts": parts}
    name = getattr(item, "name", None)
    if name:
        message["name"] = name
    return message


def _tool_call_parts(message: Any, tool_calls: list[Any]) -> list[dict[str, Any]]:
    parts = [
        {"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")}
        for call in tool_calls
        if isinstance(call, Mapping)
    ]
    for call in getattr(message, "invalid_tool_calls", None) or []:
        if isinstance(call, Mapping):
            parts.append(
                {"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")}
            )
    return parts


def _parts(content: Any, *, has_tool_calls: bool) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    if isinstance(content, Mapping):
        content = [content]
    if not isinstance(content, (list, tuple)):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "content": block})
            continue
        if not isinstance(block, Mapping):
            parts.append({"type": "text", "content": block})
            continue
        kind = str(block.get("type", "text"))
        if kind in _TEXT_BLOCKS:
            parts.append({"type": "text", "content": block.get("text", "")})
        elif kind in _REASONING_BLOCKS:
            text = block.get("reasoning") or block.get("thinking") or block.get("text") or ""
            parts.append({"type": "reasoning", "content": text})
        elif kind in _TOOL_CALL_BLOCKS:
            if not has_tool_calls:
                arguments = block.get("input", block.get("args", block.get("arguments")))
                parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"), "arguments": arguments})
        else:
            # Media and other blocks: the kind only, never the (often base64) payload.
            modality = next((m for m in _MEDIA if m in kind), None)
            parts.append({"type": kind, "modality": modality} if modality else {"type": kind})
    return parts


def _output_messages(generations: Any) -> list[dict[str, Any]]:
    if generations is None:
        return []
    generations = getattr(generations, "generations", generations)  # an LLMResult
    out: list[dict[str, Any]] = []
    for group in generations:
        for generation in group if isinstance(group, (list, tuple)) else [group]:
            out.append(_output_message(generation))
    return out


def _output_message(generation: Any) -> dict[str, Any]:
    info = getattr(generation, "generation_info", None) or {}
    message = getattr(generation, "message", None)
    if message is not None and is_message(message):
        tool_calls = list(getattr(message, "tool_calls", None) or [])
        parts = _parts(message.content, has_tool_calls=bool(tool_calls))
        parts.extend(_tool_call_parts(message, tool_calls))
        metadata = getattr(message, "response_metadata", None) or {}
    else:
        tool_calls = []
        parts = _parts(getattr(generation, "text", generation), has_tool_calls=False)
        metadata = {}
    reason = (
        info.get("finish_reason")
        or metadata.get("finish_reason")
        or metadata.get("stop_reason")
        or ("tool_calls" if tool_calls else "stop")
    )
    return {"role": "assistant", "parts": parts, "finish_reason": str(reason)}
