"""The example service as the stack test runs it in worker processes (``uvicorn --workers 2``).

``create()`` is the uvicorn factory: the example's ``create_app`` with settings from
``AGENT_OBS_*`` (the test points Dremio at its faulty stand-in and spans at a trace file) and
the flaky scripted model, down while the file named by ``STACK_LLM_OUTAGE_FILE`` exists (the
test process cannot reach into the workers' memory).
"""

from __future__ import annotations

import os
from typing import Any

from stack_fakes import flaky_model


def create() -> Any:
    from agent_obs_example.app import create_app
    from agent_obs_example.settings import OptimizerSettings

    flag = os.environ["STACK_LLM_OUTAGE_FILE"]
    return create_app(OptimizerSettings.from_env(), chat_model=flaky_model(lambda: os.path.exists(flag)))
