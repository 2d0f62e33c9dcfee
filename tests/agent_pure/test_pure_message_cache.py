"""Prompt messages rendered once per conversation: same text as rendering whole, never stale."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage

from agent_obs import content
from agent_obs.content import ContentPolicy
from agent_obs.message_cache import RenderedMessages


def rendered_whole(policy: ContentPolicy, prompt: Any) -> tuple[str, int]:
    """The rendering without the per-message cache: every message of the prompt, every time."""
    return policy._render([content._input_message(item) for item in content._prompt_items(prompt)])  # noqa: SLF001


def conversation() -> list[Any]:
    return [
        SystemMessage("You optimise SQL. Docs: https://docs.example.com/sql"),
        HumanMessage("Speed up job 42 — für Jörg 🚀", name="alice"),
        AIMessage("Checking.", tool_calls=[{"name": "get_plan", "args": {"job_id": 42, "deep": True}, "id": "c1"}]),
        ToolMessage("Seq Scan on jobs (cost=0.00..431.00)", tool_call_id="c1"),
        AIMessage([{"type": "text", "text": "Two blocks"}, {"type": "thinking", "thinking": "hmm"}]),
        ChatMessage(role="assistant", content="Mail dba@example.com about it."),
    ]


PROMPTS = {
    "conversation": [conversation()],
    "flat list": conversation()[:3],
    "strings, tuples and dicts": [["plain", ("ai", "tuple"), {"role": "user", "content": "dict"}]],
    "a secret in one message": [[HumanMessage("hi"), HumanMessage("my password=hunter2 ok")]],
    "a URL with a password": [[HumanMessage("db at postgres://u:pw@db:5432/x")]],
    "a lone surrogate": [[HumanMessage("bad \ud800 text"), HumanMessage("fine")]],
    "long enough to truncate": [[HumanMessage("x" * 300), HumanMessage("y" * 300)]],
    "more messages than a quarter of the limit": [[HumanMessage(str(i)) for i in range(80)]],
    "empty": [[]],
}


@pytest.mark.parametrize("name", sorted(PROMPTS))
@pytest.mark.parametrize("redact", [True, False])
def test_text_is_exactly_the_whole_rendering_cold_and_warm(name: str, redact: bool) -> None:
    policy = ContentPolicy(max_length=512, redact=redact)
    prompt = PROMPTS[name]
    expected = rendered_whole(policy, prompt)
    assert policy.messages(prompt) == expected  # cold: every message rendered
    assert policy.messages(prompt) == expected  # warm: cached messages reused


def test_a_growing_conversation_renders_each_message_once(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[Any] = []
    original = content._input_message  # noqa: SLF001

    def counting(item: Any) -> dict[str, Any]:
        rendered.append(item)
        return original(item)

    monkeypatch.setattr(content, "_input_message", counting)
    policy = ContentPolicy()
    messages = conversation()
    for turn in range(1, len(messages) + 1):
        text, _ = policy.messages([messages[:turn]])
        assert text == rendered_whole(ContentPolicy(), [messages[:turn]])[0]
    whole_renderings = len(messages) * (len(messages) + 1) // 2
    assert len([m for m in rendered if m in messages]) == len(messages) + whole_renderings  # the checks above
    assert len(policy._rendered) == len(messages)  # noqa: SLF001


def test_a_changed_or_replaced_message_is_rendered_again() -> None:
    policy = ContentPolicy()
    first, second = HumanMessage("before"), AIMessage("answer")
    assert "before" in policy.messages([first, second])[0]
    first.content = "after"  # new content object: a miss
    assert "after" in policy.messages([first, second])[0]
    second.tool_calls = [{"name": "t", "args": {}, "id": "x", "type": "tool_call"}]
    assert '"name": "t"' in policy.messages([first, second])[0]
    renamed = first.model_copy(update={"name": "bob"})
    assert '"name": "bob"' in policy.messages([renamed, second])[0]


def test_the_cache_is_bounded_by_entries_and_characters() -> None:
    by_entries = RenderedMessages(max_entries=3, max_chars=10_000)
    messages = [HumanMessage(str(i)) for i in range(10)]
    for message in messages:
        by_entries.put(message, "x" * 10)
    assert len(by_entries) == 3
    assert by_entries.get(messages[-1]) == "x" * 10 and by_entries.get(messages[0]) is None

    by_chars = RenderedMessages(max_entries=100, max_chars=800)
    for message in messages:
        by_chars.put(message, "y" * 100)
    assert len(by_chars) == 8
    by_chars.put(HumanMessage("huge"), "z" * 101)  # over an eighth of the budget: not kept
    assert len(by_chars) == 8


def test_objects_without_field_dicts_are_not_cached() -> None:
    class Duck:
        __slots__ = ("type", "content", "response_metadata")

        def __init__(self) -> None:
            self.type, self.content, self.response_metadata = "human", "quack", {}

    cache = RenderedMessages()
    cache.put(Duck(), "text")
    assert len(cache) == 0
    policy = ContentPolicy()
    assert policy.messages([Duck()]) == rendered_whole(policy, [Duck()])
