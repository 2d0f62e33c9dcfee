"""The observer's own work is never recorded as the model's latency, and never stalls it.

Guards issue 14 item 1: an LLM call's end time (span and ``gen_ai_client_operation_duration_
seconds``) is taken when its end callback arrives, before tokens are counted or priced; and
the first call of a process never waits for the tiktoken vocabulary (it loads off-thread, the
first counts are the documented character estimate, flagged as such).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from agent_obs import AgentObserver
from agent_obs.cost import PriceTable
from graphs import ScriptedChatModel
from span_helpers import one

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlowPrices(PriceTable):
    """A price table whose lookup takes 5 s of the observer's clock: our own work, slow."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(PriceTable.default().prices)
        object.__setattr__(self, "_slow_clock", clock)  # the table is a frozen dataclass

    def cost(self, *args, **kwargs):  # noqa: ANN002, ANN003
        self._slow_clock.now += 5.0
        return super().cost(*args, **kwargs)


def test_llm_end_time_is_taken_before_the_observers_own_work(tracer_provider, registry, span_exporter):
    clock = FakeClock()
    observer = AgentObserver(tracer_provider=tracer_provider, registry=registry, clock=clock,
                             prices=SlowPrices(clock))
    model = ScriptedChatModel(responses=[AIMessage(content="hi")])

    def agent(state: MessagesState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_edge(START, "agent")
    graph.compile(name="timed").invoke({"messages": [HumanMessage(content="hi")]},
                                       config={"callbacks": [observer]})
    chat = one(list(span_exporter.get_finished_spans()), "chat gpt-4o-mini")
    assert chat.attributes["agent_obs.cost.usd"] > 0  # the slow pricing did run
    # The model took no time on the observer's clock; the 5 s of pricing are not its latency.
    assert chat.end_time - chat.start_time < 1_000_000_000
    labels = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai",
              "gen_ai_request_model": "gpt-4o-mini", "error_type": ""}
    assert registry.get_sample_value("gen_ai_client_operation_duration_seconds_sum", labels) < 1.0


# Before bench/first_call.py's child: the vocabulary takes 10 s to load (it is gated), so a
# callback that waited for it would make the first chat span at least that long.
_GATED_VOCABULARY = textwrap.dedent('''
    import threading, time
    from agent_obs import tokens

    gate = threading.Event()
    real_load = tokens._load

    def slow_load(name):
        gate.wait(10)
        return real_load(name)

    tokens._load = slow_load

    def settle():
        gate.set()
        deadline = time.monotonic() + 60
        while tokens.O200K_BASE not in tokens._encodings and time.monotonic() < deadline:
            time.sleep(0.01)
''')


def test_first_call_in_a_fresh_process_never_waits_for_the_vocabulary():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from first_call import CHILD
    finally:
        sys.path.remove(str(ROOT / "bench"))
    done = subprocess.run([sys.executable, "-c", _GATED_VOCABULARY + CHILD], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["loaders_before"] == []  # neither import nor construction starts a load
    assert out["loaders_after"] == ["agent-obs-tokenizer-o200k_base"]  # the first need does
    first = out["first"]
    # The vocabulary was held back for 10 s; the instant model's span and metric stay far below.
    assert first["chat_span_s"] < 2.0, first
    assert out["metric_count"] == 1.0 and out["metric_sum_s"] < 2.0
    assert first["estimated"] is True and first["estimator"] == "chars/4"
    assert first["input_tokens"] > 0
    assert first["output_tokens"] == 6  # "the answer is forty-two": 23 characters / 4, rounded up
    assert out["token_observations"] == 2.0  # one input and one output observation
    # Once loaded, the same call is counted with the real tokenizer.
    assert out["second"]["estimator"] == "o200k_base"
    assert out["second"]["output_tokens"] > 0
