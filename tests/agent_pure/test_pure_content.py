"""agent_obs.content: GenAI message JSON, truncation, redaction, and safety on hostile input."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult
from pydantic import BaseModel

from agent_obs import content
from agent_obs.content import REDACTED, ContentPolicy, redact_text

policy = ContentPolicy()
raw = ContentPolicy(redact=False)


def test_input_messages_format() -> None:
    messages = [
        [
            SystemMessage("You optimise SQL."),
            HumanMessage("Speed up job 42", name="alice"),
            AIMessage(
                "Checking the plan.",
                tool_calls=[{"name": "get_plan", "args": {"job_id": 42}, "id": "call_1"}],
            ),
            ToolMessage("Seq Scan on jobs", tool_call_id="call_1"),
            ChatMessage(role="assistant", content="Add an index."),
        ]
    ]
    text, length = policy.messages(messages)
    assert length == len(text)
    assert json.loads(text) == [
        {"role": "system", "parts": [{"type": "text", "content": "You optimise SQL."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Speed up job 42"}], "name": "alice"},
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Checking the plan."},
                {"type": "tool_call", "id": "call_1", "name": "get_plan", "arguments": {"job_id": 42}},
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "Seq Scan on jobs"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "Add an index."}]},
    ]


def test_input_messages_other_shapes() -> None:
    assert json.loads(policy.messages(["plain prompt"])[0]) == [
        {"role": "user", "parts": [{"type": "text", "content": "plain prompt"}]}
    ]
    assert json.loads(policy.messages([HumanMessage("flat list")])[0])[0]["parts"][0]["content"] == "flat list"
    assert json.loads(policy.messages([{"role": "user", "content": "dict"}])[0])[0]["role"] == "user"
    assert json.loads(policy.messages([("ai", "tuple")])[0]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "tuple"}]}
    ]
    assert policy.messages([]) == ("[]", 2)
    assert policy.messages(None) == ("[]", 2)


def test_content_blocks_keep_text_and_never_media_payloads() -> None:
    payload = "iVBORw0KGgo" * 1000
    message = HumanMessage(
        content=[
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{payload}"}},
            {"type": "thinking", "thinking": "hmm"},
        ]
    )
    text, _ = policy.messages([message])
    assert payload[:20] not in text
    assert json.loads(text)[0]["parts"] == [
        {"type": "text", "content": "What is this?"},
        {"type": "image_url", "modality": "image"},
        {"type": "reasoning", "content": "hmm"},
    ]


def test_output_messages_format() -> None:
    result = LLMResult(
        generations=[
            [
                ChatGeneration(
                    message=AIMessage("It is 42.", response_metadata={"finish_reason": "stop"}),
                ),
                ChatGeneration(
                    message=AIMessage("", tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c9"}]),
                    generation_info={"finish_reason": "tool_calls"},
                ),
            ],
            [Generation(text="plain completion", generation_info={"finish_reason": "length"})],
        ]
    )
    expected = [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is 42."}], "finish_reason": "stop"},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c9", "name": "search", "arguments": {"q": "x"}}],
            "finish_reason": "tool_calls",
        },
        {"role": "assistant", "parts": [{"type": "text", "content": "plain completion"}], "finish_reason": "length"},
    ]
    for source in (result.generations, result):
        text, length = policy.output_messages(source)
        assert json.loads(text) == expected and length == len(text)
    anthropic = [[ChatGeneration(message=AIMessage("hi", response_metadata={"stop_reason": "end_turn"}))]]
    assert json.loads(policy.output_messages(anthropic)[0])[0]["finish_reason"] == "end_turn"


def test_truncation_marker_and_original_length() -> None:
    short = ContentPolicy(max_length=100, redact=False)
    text, length = short.value("a" * 1000)
    assert length == 1000
    assert len(text) <= 100
    assert text.startswith("a" * 50)
    kept = text.index("…")
    assert text[kept:] == f"…[truncated, {1000 - kept} chars]"
    exact, exact_length = short.value("b" * 100)
    assert exact == "b" * 100 and exact_length == 100
    messages, full_length = short.messages([HumanMessage("x" * 500)])
    assert len(messages) <= 100 and "truncated" in messages
    assert full_length == len(raw.messages([HumanMessage("x" * 500)])[0])


def test_tiny_max_length_and_validation() -> None:
    assert ContentPolicy(max_length=5).value("abcdefgh") == ("abcde", 8)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError):
            ContentPolicy(max_length=bad)


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("key sk-proj-AbCdEf0123456789XyZaBc here", "sk-proj-AbCdEf0123456789XyZaBc", "key "),
        ("anthropic sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345", "sk-ant-api03-abcdefghij", "anthropic "),
        ("aws AKIAIOSFODNN7EXAMPLE end", "AKIAIOSFODNN7EXAMPLE", " end"),
        ("gh ghp_16C7e42F292c6912E7710c838347Ae178B4a ok", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", " ok"),
        ("slack xoxb-123456789012-abcdefghijkl", "xoxb-123456789012", "slack "),
        ("google AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW done", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", " done"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbGci", "Authorization: Bearer "),
        ("authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "authorization=Basic "),
        ("curl -H 'Bearer abc123def456ghi789'", "abc123def456ghi789", "curl -H 'Bearer "),
        ("db postgres://app:s3cr3t-pw@db.internal:5432/jobs", "s3cr3t-pw", "postgres://app:***@db.internal:5432/jobs"),
        ("login with password=hunter2 now", "hunter2", "password="),
        ("db_password: 'correct horse battery'", "correct horse", "db_password: '"),
        ('{"api_key": "abc-def-123"}', "abc-def-123", '{"api_key": "'),
        ("secret=topsecret&x=1", "topsecret", "&x=1"),
        ("token=tok_live_abc", "tok_live_abc", "token="),
        ("apiKey: q1w2e3", "q1w2e3", "apiKey: "),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow", "PRIVATE KEY"),
    ],
)
def test_each_redaction_rule(text: str, secret: str, kept: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert kept in redacted
    assert REDACTED in redacted or "***" in redacted
    captured, _ = policy.value(text)
    assert secret not in captured
    assert secret in raw.value(text)[0]  # redact=False keeps it


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = "The bearer of news set max_tokens: 512 and input_tokens=10; see https://example.com/a:b"
    assert redact_text(text) == text


def test_the_trigger_pattern_finds_exactly_the_texts_a_substring_search_finds() -> None:
    import random

    triggers = content._TRIGGERS  # noqa: SLF001
    pattern = content._trigger_pattern()  # noqa: SLF001
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz_-:/@ "
    texts = list(triggers) + [t[:-1] for t in triggers] + ["", "tok", "toke", "sk", "s-k", "xo"]
    for _ in range(5000):
        noise = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        cut = rng.choice(triggers)[: rng.randint(0, 12)]  # whole triggers and their prefixes
        texts.append(noise[: len(noise) // 2] + cut + noise[len(noise) // 2:])
    found = 0
    for text in texts:
        expected = any(trigger in text for trigger in triggers)
        assert (pattern.search(text) is not None) is expected, text
        found += expected
    assert 0 < found < len(texts)  # both outcomes were exercised


def test_dict_keys_are_redacted_by_name() -> None:
    args = {
        "query": "select 1",
        "password": "hunter2",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
        "headers": {"Authorization": "Token abc", "X-Api-Key": "k"},
        "clientSecret": "cs",
        "max_tokens": 256,
        "access_token": "at",
        "nested": [{"refresh_token": "rt"}],
    }
    data = json.loads(policy.value(args)[0])
    assert data == {
        "query": "select 1",
        "password": REDACTED,
        "AWS_SECRET_ACCESS_KEY": REDACTED,
        "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED},
        "clientSecret": REDACTED,
        "max_tokens": 256,
        "access_token": REDACTED,
        "nested": [{"refresh_token": REDACTED}],
    }


def test_redaction_happens_before_truncation() -> None:
    # the key straddles the cut: without redacting first, its prefix would be captured
    text = "x" * 90 + " sk-" + "A" * 40
    captured, length = ContentPolicy(max_length=120).value(text)
    assert "sk-AAAA" not in captured
    assert length == len(redact_text(text))


def test_tool_call_arguments_in_messages_are_redacted() -> None:
    message = AIMessage("", tool_calls=[{"name": "login", "args": {"user": "bob", "password": "pw1"}, "id": "c"}])
    text, _ = policy.messages([message])
    assert "pw1" not in text
    assert json.loads(text)[0]["parts"][0]["arguments"] == {"user": "bob", "password": REDACTED}


def test_value_of_common_types() -> None:
    assert policy.value("plain text") == ("plain text", 10)
    assert policy.value({"a": 1, "b": [1, 2.5, None, True]}) == ('{"a": 1, "b": [1, 2.5, null, true]}', 35)
    assert policy.value(ToolMessage("tool said hi", tool_call_id="c1"))[0] == "tool said hi"
    assert policy.value(42) == ("42", 2)
    assert policy.value(None) == ("null", 4)
    assert policy.value(b"\x00\xffbinary") == ("<8 bytes>", 9)
    assert json.loads(policy.value({"blob": bytearray(1024)})[0]) == {"blob": "<1024 bytes>"}
    assert policy.value(float("nan"))[0] == "nan"
    assert policy.value(__import__("datetime").date(2025, 1, 2)) == ("2025-01-02", 10)
    assert policy.value(10**5000)[0].startswith("<int of ")


def test_value_of_models_dataclasses_and_odd_objects() -> None:
    class Args(BaseModel):
        job_id: int
        api_key: str

    @dataclasses.dataclass
    class Plan:
        cost: float
        steps: list[str]

    class NoJSON:
        def __str__(self) -> str:
            return "<NoJSON thing>"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    assert json.loads(policy.value(Args(job_id=7, api_key="k"))[0]) == {"job_id": 7, "api_key": REDACTED}
    assert json.loads(policy.value(Plan(1.5, ["scan", "sort"]))[0]) == {"cost": 1.5, "steps": ["scan", "sort"]}
    assert json.loads(policy.value({"x": NoJSON()})[0]) == {"x": "<NoJSON thing>"}
    assert json.loads(policy.value([Broken()])[0]) == ["<unprintable Broken>"]
    assert policy.value(Broken())[0] == "<unprintable Broken>"
    assert json.loads(policy.value({1: "int key", (1, 2): "tuple key"})[0]) == {"1": "int key", "(1, 2)": "tuple key"}


def test_recursive_structures() -> None:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    items: list[Any] = [1]
    items.append(items)
    assert json.loads(policy.value(loop)[0]) == {"name": "loop", "self": "<recursive dict>"}
    assert json.loads(policy.value(items)[0]) == [1, "<recursive list>"]
    shared = {"k": 1}
    assert json.loads(policy.value([shared, shared])[0]) == [{"k": 1}, {"k": 1}]  # not a cycle
    deep: Any = "bottom"
    for _ in range(200):
        deep = [deep]
    text, _ = policy.value(deep)
    assert text == "[" * 200 + '"bottom"' + "]" * 200  # plain JSON that fits is kept exactly
    for _ in range(5000):
        deep = [deep]
    text, _ = policy.value(deep)
    assert "nested too deep" in text  # deeper than json can go: the bounded walk takes over


def test_huge_string_is_bounded_and_fast(monkeypatch) -> None:
    scanned: list[int] = []
    real_redact = content.redact_text

    def spy(text: str) -> str:
        scanned.append(len(text))
        return real_redact(text)

    monkeypatch.setattr(content, "redact_text", spy)
    huge = "select * from t; " * 620_000  # ~10.5 MB
    text, length = policy.value(huge)
    assert length == len(huge)
    assert len(text) <= policy.max_length and text.endswith(f"[truncated, {len(huge) - text.index('…')} chars]")
    # fast because only a window is redacted (counted, not timed: timings flake on a loaded machine)
    assert scanned and max(scanned) <= policy.max_length + 1024


class CountingDict(dict):
    """A dict that counts how many items a consumer actually pulled from it."""

    pulled = 0

    def items(self):  # type: ignore[override]
        for item in super().items():
            self.pulled += 1
            yield item


def test_huge_dict_is_bounded_and_fast() -> None:
    big = CountingDict({f"key{i:06d}": f"value number {i:06d}" for i in range(100_000)})
    full = len(json.dumps(dict(big), ensure_ascii=False))
    text, length = policy.value(big)
    assert len(text) <= policy.max_length and text.endswith("chars]")
    assert big.pulled < 2_000  # stopped once the budget was spent: fast, counted rather than timed
    assert 0.9 * full < length < 1.1 * full  # the skipped part is estimated, not ignored


def test_many_huge_messages_are_bounded(monkeypatch) -> None:
    scanned: list[int] = []
    real_redact = content.redact_text

    def spy(text: str) -> str:
        scanned.append(len(text))
        return real_redact(text)

    monkeypatch.setattr(content, "redact_text", spy)
    messages = [HumanMessage("y" * 1_000_000) for _ in range(10)]
    text, length = policy.messages(messages)
    assert len(text) <= policy.max_length
    assert length > 10_000_000
    assert sum(scanned) <= 2 * policy.max_length  # the 10 MB are never all redacted (counted, not timed)


def test_never_raises_on_hostile_input() -> None:
    class Evil:
        @property
        def generations(self) -> Any:
            raise RuntimeError("nope")

        def __iter__(self) -> Any:
            raise RuntimeError("nope")

    for method in (policy.messages, policy.output_messages, policy.value):
        text, length = method(Evil())
        assert isinstance(text, str) and isinstance(length, int)


def test_lone_surrogates_are_replaced() -> None:
    text, _ = policy.value("bad \ud800 char")
    text.encode("utf-8")  # exportable
    assert text == "bad ? char"
