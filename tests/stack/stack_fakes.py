"""The stack test's only fake: the example's scripted model, made to fail on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def flaky_model(is_down: Callable[[], bool]) -> Any:
    from agent_obs_example.model import ScriptedChatModel

    class RateLimitError(Exception):
        """What a provider's SDK raises when throttled."""

    class FlakyScriptedModel(ScriptedChatModel):
        """The example's scripted model; raises RateLimitError while ``is_down()``."""

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            if is_down():
                raise RateLimitError("induced rate limit")
            return super()._generate(*args, **kwargs)

        def _stream(self, *args: Any, **kwargs: Any) -> Any:
            if is_down():
                raise RateLimitError("induced rate limit")
            yield from super()._stream(*args, **kwargs)

    return FlakyScriptedModel()
