"""The LLM price table: what a call cost, in US dollars, from its model name and token usage.

    from agent_obs.cost import PriceTable
    table = PriceTable.resolve(None)                      # built-in list prices
    table = PriceTable.resolve({"my-deployment": {"input": 2.5, "output": 10}})
    table = PriceTable.resolve("prices.json")             # built-in + the file's entries
    table.cost("gpt-4o-mini-2024-07-18", input_tokens=1000, output_tokens=500)  # 0.00045

Prices are USD per million tokens. A price file is JSON, one object per model (keys starting
with "_" are comments and are skipped; ``cached_input`` and ``cache_write`` are optional)::

    {"gpt-4o": {"input": 2.5, "output": 10.0, "cached_input": 1.25},
     "my-azure-deployment": {"input": 0.15, "output": 0.6}}

Model names are matched case-insensitively: first as given, then without a provider prefix
("openai/", "models/", Bedrock's "us.anthropic.") and without date or version suffixes
("-2024-08-06", "-20250219", "-0613", "-latest", "@20240620", "-v1:0"), then by the longest
known prefix ending at a "-" (so "gpt-4o-mini-search" resolves to gpt-4o-mini, not gpt-4o). An
unknown model costs None, never a guess. The built-in prices are public list prices (standard
tier, short-context rates; batch, priority and long-context tiers are not modelled) as of
``PRICES_AS_OF``: override them when they change or when you have negotiated rates.

What is not modelled: OpenAI's ``priority`` and ``flex`` service tiers (their tokens are read,
cache reads and reasoning included, and priced at the standard tier's list prices; the tier
is on the span as ``openai.response.service_tier``), Anthropic's 1-hour cache writes (priced
as 5-minute writes, ``cache_write``), batch discounts and long-context surcharges.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, Union

__all__ = ["PRICES_AS_OF", "ModelPrice", "PriceTable", "PricesLike", "normalize_model_name"]

#: The date the built-in list prices were last checked against the providers' price pages.
PRICES_AS_OF: Final = "2025-11-01"

_M: Final = 1_000_000

# model -> (input, output, cached_input or None, cache_write or None), USD per 1M tokens.
_DEFAULT_PRICES: Final[dict[str, tuple[float, float, float | None, float | None]]] = {
    # OpenAI
    "gpt-5": (1.25, 10.0, 0.125, None),
    "gpt-5-mini": (0.25, 2.0, 0.025, None),
    "gpt-5-nano": (0.05, 0.40, 0.005, None),
    "gpt-5-pro": (15.0, 120.0, None, None),
    "gpt-4.1": (2.0, 8.0, 0.50, None),
    "gpt-4.1-mini": (0.40, 1.60, 0.10, None),
    "gpt-4.1-nano": (0.10, 0.40, 0.025, None),
    "gpt-4o": (2.50, 10.0, 1.25, None),
    "gpt-4o-2024-05-13": (5.0, 15.0, None, None),
    "gpt-4o-mini": (0.15, 0.60, 0.075, None),
    "gpt-4o-realtime-preview": (5.0, 20.0, 2.50, None),
    "gpt-4o-mini-realtime-preview": (0.60, 2.40, 0.30, None),
    "chatgpt-4o": (5.0, 15.0, None, None),
    "o1": (15.0, 60.0, 7.50, None),
    "o1-mini": (1.10, 4.40, 0.55, None),
    "o1-pro": (150.0, 600.0, None, None),
    "o3": (2.0, 8.0, 0.50, None),
    "o3-pro": (20.0, 80.0, None, None),
    "o3-mini": (1.10, 4.40, 0.55, None),
    "o4-mini": (1.10, 4.40, 0.275, None),
    "gpt-4-turbo": (10.0, 30.0, None, None),
    "gpt-4-1106-preview": (10.0, 30.0, None, None),
    "gpt-4-0125-preview": (10.0, 30.0, None, None),
    "gpt-4": (30.0, 60.0, None, None),
    "gpt-4-32k": (60.0, 120.0, None, None),
    "gpt-3.5-turbo": (0.50, 1.50, None, None),
    "gpt-3.5-turbo-instruct": (1.50, 2.0, None, None),
    "text-embedding-3-small": (0.02, 0.0, None, None),
    "text-embedding-3-large": (0.13, 0.0, None, None),
    "text-embedding-ada-002": (0.10, 0.0, None, None),
    # Anthropic (cache reads 0.1x input, 5-minute cache writes 1.25x input)
    "claude-opus-4-5": (5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-1": (15.0, 75.0, 1.50, 18.75),
    "claude-opus-4": (15.0, 75.0, 1.50, 18.75),
    "claude-sonnet-4-5": (3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4": (3.0, 15.0, 0.30, 3.75),
    "claude-haiku-4-5": (1.0, 5.0, 0.10, 1.25),
    "claude-3-7-sonnet": (3.0, 15.0, 0.30, 3.75),
    "claude-3-5-sonnet": (3.0, 15.0, 0.30, 3.75),
    "claude-3-5-haiku": (0.80, 4.0, 0.08, 1.0),
    "claude-3-opus": (15.0, 75.0, 1.50, 18.75),
    "claude-3-haiku": (0.25, 1.25, 0.03, 0.30),
    # Google (prompts up to 200k tokens; 128k for 1.5)
    "gemini-2.5-pro": (1.25, 10.0, 0.31, None),
    "gemini-2.5-flash": (0.30, 2.50, 0.075, None),
    "gemini-2.5-flash-lite": (0.10, 0.40, 0.025, None),
    "gemini-2.0-flash": (0.10, 0.40, 0.025, None),
    "gemini-2.0-flash-lite": (0.075, 0.30, None, None),
    "gemini-1.5-pro": (1.25, 5.0, 0.3125, None),
    "gemini-1.5-flash": (0.075, 0.30, 0.01875, None),
    "gemini-1.5-flash-8b": (0.0375, 0.15, 0.01, None),
    # Mistral
    "mistral-large": (2.0, 6.0, None, None),
    "mistral-medium": (0.40, 2.0, None, None),
    "mistral-small": (0.10, 0.30, None, None),
    "codestral": (0.30, 0.90, None, None),
    "open-mistral-nemo": (0.15, 0.15, None, None),
    "mistral-nemo": (0.15, 0.15, None, None),
    "ministral-8b": (0.10, 0.10, None, None),
    "ministral-3b": (0.04, 0.04, None, None),
    "pixtral-large": (2.0, 6.0, None, None),
}

_FIELDS: Final = ("input", "output", "cached_input", "cache_write")

# Bedrock model ids: optional cross-region profile, then the vendor, then the model.
_VENDOR_PREFIX = re.compile(
    r"^(?:(?:us|eu|apac|us-gov|global)\.)?"
    r"(?:anthropic|meta|mistral|amazon|cohere|ai21|openai|google|deepseek|qwen)\."
)
_SUFFIXES = re.compile(
    r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|-latest|-v\d+(?:\.\d+)?)$"
)


@lru_cache(maxsize=4096)
def normalize_model_name(model: str) -> str:
    """Lower-case ``model`` and strip provider prefixes and date/version suffixes.

    "openai/gpt-4o-2024-08-06" -> "gpt-4o"; "us.anthropic.claude-3-7-sonnet-20250219-v1:0" ->
    "claude-3-7-sonnet"; "claude-3-5-sonnet@20240620" -> "claude-3-5-sonnet". Fine-tuned
    names ("ft:gpt-4o-mini:org::id") are returned lower-cased only: they are priced differently.
    """
    name = _strip_provider(model.strip().lower())
    if name.startswith("ft:"):
        return name
    name = name.split("@", 1)[0].split(":", 1)[0]
    while True:
        stripped = _SUFFIXES.sub("", name)
        if stripped == name or not stripped:
            return name
        name = stripped


def _strip_provider(name: str) -> str:
    if "/" in name and not name.startswith("ft:"):
        name = name.rsplit("/", 1)[1]
    return _VENDOR_PREFIX.sub("", name, count=1)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens. ``None`` cache prices mean those tokens bill at ``input``."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
    ) -> float:
        """Cost of one call. Cache reads and writes are counted inside ``input_tokens``."""
        total_in = max(int(input_tokens or 0), 0)
        if not cached_input_tokens and not cache_creation_input_tokens:  # the common call
            return (total_in * self.input + max(int(output_tokens or 0), 0) * self.output) / _M
        cached = min(max(int(cached_input_tokens or 0), 0), total_in)
        written = min(max(int(cache_creation_input_tokens or 0), 0), total_in - cached)
        plain = total_in - cached - written
        micro = (
            plain * self.input
            + cached * (self.input if self.cached_input is None else self.cached_input)
            + written * (self.input if self.cache_write is None else self.cache_write)
            + max(int(output_tokens or 0), 0) * self.output
        )
        return micro / _M


PricesLike = Union["PriceTable", Mapping[str, Any], str, os.PathLike, None]


@dataclass(frozen=True, slots=True)
class PriceTable:
    """An immutable model -> ``ModelPrice`` table with forgiving, cached name resolution."""

    prices: Mapping[str, ModelPrice]
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _cache: dict[str, ModelPrice | None] = field(init=False, repr=False, compare=False)

    _CACHE_MAX = 4096

    def __post_init__(self) -> None:
        prices = MappingProxyType({_key(k): _price(k, v) for k, v in dict(self.prices).items()})
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "_prefixes", tuple(sorted(prices, key=len, reverse=True)))
        object.__setattr__(self, "_cache", {})

    @classmethod
    def default(cls) -> PriceTable:
        """The built-in list prices (see ``PRICES_AS_OF``)."""
        return _default_table()

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> PriceTable:
        """Load a JSON price file (only its entries); raise ValueError naming file and problem."""
        where = os.fspath(path)
        try:
            with open(where, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise ValueError(f"price file {where}: no such file") from None
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"price file {where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"price file {where}: cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(
                f'price file {where}: expected a JSON object {{"model": {{"input": ..., "output": ...}}}}, '
                f"got {type(data).__name__}"
            )
        entries = {k: v for k, v in data.items() if not str(k).startswith("_")}
        try:
            return cls(entries)
        except ValueError as exc:
            raise ValueError(f"price file {where}: {exc}") from None

    def with_overrides(self, overrides: PriceTable | Mapping[str, Any]) -> PriceTable:
        """A new table: this one plus ``overrides``, whose entries win."""
        extra = overrides.prices if isinstance(overrides, PriceTable) else overrides
        return PriceTable({**self.prices, **{_key(k): _price(k, v) for k, v in extra.items()}})

    @classmethod
    def resolve(cls, prices: PricesLike) -> PriceTable:
        """None -> default; a table -> itself; a mapping or a JSON file path -> default + overrides."""
        if prices is None:
            return cls.default()
        if isinstance(prices, PriceTable):
            return prices
        if isinstance(prices, (str, os.PathLike)):
            return cls.default().with_overrides(cls.from_file(prices))
        if isinstance(prices, Mapping):
            return cls.default().with_overrides(prices)
        raise TypeError(f"prices must be a PriceTable, a mapping, a path or None, not {type(prices).__name__}")

    def lookup(self, model: str | None) -> ModelPrice | None:
        """The price of ``model``, or None when it is unknown (see the module docstring)."""
        if not model:
            return None
        cache = self._cache
        try:
            return cache[model]
        except KeyError:
            pass
        except TypeError:  # unhashable: not a model name
            return None
        found = self._find(str(model))
        if len(cache) < self._CACHE_MAX:
            cache[model] = found
        return found

    def cost(
        self,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
    ) -> float | None:
        """USD for one call, or None for an unknown model. Cached tokens are part of input_tokens."""
        price = self.lookup(model)
        if price is None:
            return None
        try:
            return price.cost(input_tokens, output_tokens, cached_input_tokens, cache_creation_input_tokens)
        except (TypeError, ValueError):
            return None

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.lookup(model) is not None

    def __len__(self) -> int:
        return len(self.prices)

    def _find(self, model: str) -> ModelPrice | None:
        prices = self.prices
        raw = model.strip().lower()
        if raw in prices:
            return prices[raw]
        unprefixed = _strip_provider(raw)
        if unprefixed in prices:
            return prices[unprefixed]
        name = normalize_model_name(raw)
        if name in prices:
            return prices[name]
        for prefix in self._prefixes:
            if name.startswith(prefix) and name[len(prefix) : len(prefix) + 1] == "-":
                return prices[prefix]
        return None


def _key(model: Any) -> str:
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model name must be a non-empty string, got {model!r}")
    return model.strip().lower()


def _price(model: Any, value: Any) -> ModelPrice:
    if isinstance(value, ModelPrice):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - set(_FIELDS))
        if unknown:
            raise ValueError(f"model {model!r}: unknown field(s) {', '.join(unknown)}; expected {', '.join(_FIELDS)}")
        fields = dict(value)
    elif isinstance(value, (tuple, list)) and 2 <= len(value) <= 4:
        fields = dict(zip(_FIELDS, value))
    else:
        raise ValueError(
            f'model {model!r}: expected {{"input": <USD/1M>, "output": <USD/1M>}}, got {value!r}'
        )
    for required in ("input", "output"):
        if fields.get(required) is None:
            raise ValueError(f"model {model!r}: missing {required!r} price")
    checked: dict[str, float | None] = {}
    for name in _FIELDS:
        number = fields.get(name)
        if number is None:
            checked[name] = None
            continue
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) or number < 0:
            raise ValueError(f"model {model!r}: {name!r} must be a non-negative number, got {number!r}")
        checked[name] = float(number)
    return ModelPrice(**checked)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _default_table() -> PriceTable:
    return PriceTable({model: ModelPrice(*row) for model, row in _DEFAULT_PRICES.items()})
