"""agent_obs.cost: exact arithmetic, name resolution, overrides and price-file errors."""

from __future__ import annotations

import dataclasses
import json
import re
import threading

import pytest

from agent_obs.cost import PRICES_AS_OF, ModelPrice, PriceTable, normalize_model_name


@pytest.fixture
def table() -> PriceTable:
    return PriceTable.default()


def test_arithmetic_is_exact(table: PriceTable) -> None:
    # gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output
    assert table.cost("gpt-4o-mini", 1000, 500) == pytest.approx(0.00045, rel=1e-12, abs=0)
    assert table.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.50, rel=1e-12, abs=0)
    assert table.cost("claude-sonnet-4", 2_000, 1_000) == pytest.approx(0.021, rel=1e-12, abs=0)
    assert table.cost("gpt-4o-mini", 0, 0) == 0.0


def test_cached_tokens_are_inside_input_and_billed_at_cached_price(table: PriceTable) -> None:
    # gpt-4o: input 2.50, cached 1.25, output 10.00; 1000 input of which 800 cached
    expected = (200 * 2.50 + 800 * 1.25 + 100 * 10.0) / 1_000_000
    assert table.cost("gpt-4o", 1000, 100, cached_input_tokens=800) == pytest.approx(expected, rel=1e-12, abs=0)
    # more cached than input (inconsistent usage) is clamped: never a negative uncached part
    assert table.cost("gpt-4o", 100, 0, cached_input_tokens=500) == pytest.approx(100 * 1.25 / 1e6, rel=1e-12)
    # no cached price: cached tokens bill at the input price
    assert table.cost("gpt-4-turbo", 1000, 0, cached_input_tokens=1000) == table.cost("gpt-4-turbo", 1000, 0)


def test_anthropic_cache_writes(table: PriceTable) -> None:
    # claude-3-7-sonnet: input 3, cache read 0.30, 5-minute cache write 3.75, output 15
    cost = table.cost("claude-3-7-sonnet-20250219", 10_000, 1_000, cached_input_tokens=6_000, cache_creation_input_tokens=3_000)
    expected = (1_000 * 3.0 + 6_000 * 0.30 + 3_000 * 3.75 + 1_000 * 15.0) / 1_000_000
    assert cost == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("chatgpt-4o-latest", "chatgpt-4o"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("o1-2024-12-17", "o1"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"),
        ("anthropic/claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini-1.5-pro-002", "gemini-1.5-pro"),
        ("mistral-large-latest", "mistral-large"),
        ("mistral-small-2503", "mistral-small"),
        ("codestral-2501", "codestral"),
        ("open-mistral-nemo-2407", "open-mistral-nemo"),
    ],
)
def test_lookup_resolves_dates_versions_and_prefixes(table: PriceTable, model: str, expected: str) -> None:
    assert table.lookup(model) is table.prices[expected]


def test_longest_prefix_wins(table: PriceTable) -> None:
    assert table.lookup("gpt-4o-mini-search-preview") is table.prices["gpt-4o-mini"]
    assert table.lookup("gpt-4o-search-preview") is table.prices["gpt-4o"]
    assert table.lookup("gemini-2.5-flash-lite-preview-06-17") is table.prices["gemini-2.5-flash-lite"]
    assert table.lookup("gemini-2.5-pro-preview-05-06") is table.prices["gemini-2.5-pro"]
    # a dated snapshot with its own price beats date stripping
    assert table.lookup("gpt-4o-2024-05-13") is table.prices["gpt-4o-2024-05-13"]
    assert table.lookup("gpt-4o-2024-05-13").input == 5.0


@pytest.mark.parametrize(
    "model",
    [None, "", "my-local-llama", "llama3.1:8b", "gpt-4x", "o5", "claude", "ft:gpt-4o-mini:acme::abc", "gpt", 42],
)
def test_unknown_models_cost_none(table: PriceTable, model) -> None:
    assert table.lookup(model) is None
    assert table.cost(model, 1000, 1000) is None


def test_default_table_is_complete_and_dated(table: PriceTable) -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES_AS_OF)
    required = [
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini",
        "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-3.5-turbo", "gpt-4-turbo",
        "claude-opus-4", "claude-sonnet-4", "claude-3-7-sonnet", "claude-3-5-sonnet",
        "claude-3-5-haiku", "claude-haiku-4-5", "gemini-2.5-pro", "gemini-2.5-flash",
        "gemini-2.0-flash", "gemini-1.5-pro", "gemini-1.5-flash", "mistral-large",
        "mistral-medium", "mistral-small", "codestral", "open-mistral-nemo",
    ]
    for model in required:
        price = table.prices[model]
        assert price.input > 0 and price.output >= price.input * 0.5, model
        assert price.cached_input is None or price.cached_input < price.input, model
    assert PriceTable.default() is table  # built once


def test_table_is_immutable(table: PriceTable) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.prices = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        table.prices["gpt-4o"] = ModelPrice(1, 1)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.prices["gpt-4o"].input = 0  # type: ignore[misc]


def test_overrides_by_mapping_win_and_leave_the_original_untouched(table: PriceTable) -> None:
    custom = table.with_overrides(
        {"GPT-4o": {"input": 1.0, "output": 2.0}, "my-azure-deployment": {"input": 0.5, "output": 1.5, "cached_input": 0.25}}
    )
    assert custom.cost("gpt-4o-2024-08-06", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert custom.cost("my-azure-deployment", 1_000_000, 0, cached_input_tokens=1_000_000) == pytest.approx(0.25)
    assert custom.lookup("gpt-4o-mini") is table.prices["gpt-4o-mini"]  # the rest is kept
    assert table.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)  # original unchanged
    assert table.lookup("my-azure-deployment") is None


def test_resolve(tmp_path) -> None:
    assert PriceTable.resolve(None) is PriceTable.default()
    mine = PriceTable({"x-model": (1, 2)})
    assert PriceTable.resolve(mine) is mine
    from_mapping = PriceTable.resolve({"x-model": (1, 2, 0.5)})
    assert from_mapping.lookup("x-model") == ModelPrice(1.0, 2.0, 0.5)
    assert from_mapping.lookup("gpt-4o") is not None
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"_comment": "negotiated rates", "gpt-4o": {"input": 2.0, "output": 8.0}}))
    for source in (path, str(path)):
        resolved = PriceTable.resolve(source)
        assert resolved.lookup("gpt-4o") == ModelPrice(2.0, 8.0)
        assert resolved.lookup("claude-sonnet-4") is not None
    only_file = PriceTable.from_file(path)
    assert len(only_file) == 1 and "claude-sonnet-4" not in only_file
    with pytest.raises(TypeError):
        PriceTable.resolve(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", r"invalid JSON at line 1 column 2"),
        ('["gpt-4o"]', r"expected a JSON object"),
        ('{"gpt-4o": 3}', r"'gpt-4o'.*expected"),
        ('{"gpt-4o": {"input": 1}}', r"'gpt-4o'.*missing 'output'"),
        ('{"gpt-4o": {"input": -1, "output": 1}}', r"'input' must be a non-negative number"),
        ('{"gpt-4o": {"input": "1", "output": 1}}', r"'input' must be a non-negative number"),
        ('{"gpt-4o": {"input": 1, "output": 1, "ouput": 2}}', r"unknown field\(s\) ouput"),
        ('{"": {"input": 1, "output": 1}}', r"model name must be a non-empty string"),
    ],
)
def test_bad_price_file_names_file_and_problem(tmp_path, content: str, problem: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=problem) as info:
        PriceTable.from_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        PriceTable.resolve(str(path))


def test_missing_price_file(tmp_path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: no such file"):
        PriceTable.from_file(path)


def test_bad_mapping_override_raises_clearly(table: PriceTable) -> None:
    with pytest.raises(ValueError, match="'x'.*missing 'input'"):
        table.with_overrides({"x": {"output": 1}})


def test_lookups_are_cached(table: PriceTable) -> None:
    custom = table.with_overrides({"cached-model": (1, 1)})
    first = custom.lookup("openai/cached-model-2025-01-01")
    assert first is custom.prices["cached-model"]
    assert custom._cache["openai/cached-model-2025-01-01"] is first  # noqa: SLF001
    assert custom.lookup("openai/cached-model-2025-01-01") is first


def test_concurrent_lookups_agree(table: PriceTable) -> None:
    custom = table.with_overrides({})
    names = ["gpt-4o-mini-2024-07-18", "claude-3-5-haiku-latest", "unknown-x", "gemini-2.0-flash-001"] * 50
    results: list[list] = []

    def work() -> None:
        results.append([custom.lookup(name) for name in names])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert results[0][:4] == [table.prices["gpt-4o-mini"], table.prices["claude-3-5-haiku"], None, table.prices["gemini-2.0-flash"]]


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("OpenAI/GPT-4o-2024-08-06", "gpt-4o"),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
        ("mistral-large-latest", "mistral-large"),
        ("gpt-4-0613", "gpt-4"),
        ("ft:gpt-4o-mini:org::id", "ft:gpt-4o-mini:org::id"),
        ("  gpt-4o  ", "gpt-4o"),
    ],
)
def test_normalize_model_name(raw: str, normalised: str) -> None:
    assert normalize_model_name(raw) == normalised


@pytest.mark.parametrize(("request_model", "response_model", "priced_as"), [
    ("gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the response names the exact model
    ("gpt-4o-mini", "my-unpriced-deployment", "gpt-4o-mini"),  # unknown response: the request's
    ("gpt-4o-mini", None, "gpt-4o-mini"),
    ("my-unpriced-deployment", None, None),
    ("my-unpriced-deployment", "another-unpriced-one", None),
])
def test_a_call_is_priced_by_the_response_model_then_the_request_model(
        table: PriceTable, request_model: str, response_model: str | None, priced_as: str | None) -> None:
    from agent_obs.extract import Usage
    from agent_obs.llm_results import _cost
    from agent_obs.runs import Run, RunKind

    run = Run("id", RunKind.LLM, "chat", None, 0.0)
    run.model, run.input_tokens, run.output_tokens = request_model, 1_000, 100
    usage = Usage()
    usage.cache_read = 200
    expected = None if priced_as is None else table.cost(priced_as, 1_000, 100, cached_input_tokens=200)
    assert _cost(run, response_model, usage, table) == expected
