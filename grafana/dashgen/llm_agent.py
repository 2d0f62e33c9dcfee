"""LLM and agent: what the LangGraph agents and their models are doing (agent_obs metrics)."""

from __future__ import annotations

from typing import Any

from .sdk import (dashboard, logs, loki, prom, row, stat, thresholds, timeseries, traceql,
                      traces_table)
from .common import (AGENT, MODEL, RI, SVC, agent_var, count, loki_var, model_var, node_var,
                     prometheus_var, quantile, ratio, sc, service_var, tempo_var)

M = sc.LABEL_REQUEST_MODEL
TOOL = sc.LABEL_TOOL_NAME
NODE_SEL = f'{AGENT}, {sc.LABEL_NODE}=~"$node"'
TOOL_SEL = f'{SVC}, {sc.LABEL_AGENT_NAME}=~"$agent"'
AGENT_ERRORS = f'{AGENT}, {sc.LABEL_STATUS}="{sc.OUTCOME_ERROR}"'
ERROR_RATIO = thresholds((None, "green"), (0.05, "orange"), (0.1, "red"))


def _absent_as_zero(expr: str) -> str:
    """Self-health counters have no series until the first failure: show 0, not "no data"."""
    return f"{expr} or vector(0)"


def build() -> dict[str, Any]:
    llm_count = count(sc.METRIC_OPERATION_DURATION)
    tool_count = count(sc.METRIC_TOOL_DURATION)
    panels = [
        row("Agent runs"),
        stat("Active runs", prom(f"sum({sc.METRIC_ACTIVE_RUNS}{{{AGENT}}})"), unit="short", w=4,
             description="Top-level agent runs in progress now."),
        stat("Run error ratio", prom(f"sum({ratio(AGENT_ERRORS, AGENT, sc.METRIC_RUNS, 'service')})"),
             unit="percentunit", w=4, decimals=1, threshold=ERROR_RATIO,
             description="Share of agent runs that ended in error (AgentRunErrorRatioHigh fires above 10%)."),
        stat("Interrupts", prom(f"sum(increase({sc.METRIC_INTERRUPTS}{{{AGENT}}}[$__range]))"), unit="short",
             w=4, description="Runs paused for human input (LangGraph interrupt) in the selected range."),
        stat("Node retries", prom(f"sum(increase({sc.METRIC_NODE_RETRIES}{{{AGENT}}}[$__range]))"),
             unit="short", w=4, threshold=thresholds((None, "green"), (1, "orange")),
             description="Node attempts after the first (RetryPolicy) in the selected range."),
        stat("Cost per hour", prom(f"sum(rate({sc.METRIC_LLM_COST}{{{AGENT}, {M}=~\"$model\"}}[{RI}])) * 3600"),
             unit="currencyUSD", w=4, decimals=2, threshold=thresholds((None, "green"), (5, "red")),
             description="Estimated LLM spend rate in US dollars per hour (LLMCostBudgetExceeded fires above 5)."),
        stat("Steps per run (avg)",
             prom(f"sum(rate({sc.METRIC_RUN_STEPS}_sum{{{AGENT}}}[{RI}])) / sum(rate({count(sc.METRIC_RUN_STEPS)}{{{AGENT}}}[{RI}]))"),
             unit="short", w=4, decimals=1, description="Average graph steps (node executions) per run."),
        timeseries("Runs by outcome",
                   [prom(f"sum by ({sc.LABEL_STATUS}) (rate({sc.METRIC_RUNS}{{{AGENT}}}[{RI}])) * 60", "{{status}}")],
                   unit="short", stack=True, bars=True, w=8,
                   description="Runs per minute by outcome: ok, error, interrupted, cancelled."),
        timeseries("Run duration P50 / P95",
                   [prom(quantile(q, sc.METRIC_AGENT_DURATION, f'{SVC}, {sc.LABEL_AGENT_NAME}=~"$agent"',
                                  sc.LABEL_AGENT_NAME), f"P{int(q * 100)} {{{{{sc.LABEL_AGENT_NAME}}}}}",
                         exemplar=True) for q in (0.5, 0.95)],
                   unit="s", w=8, description="Duration of whole agent runs."),
        timeseries("Steps per run P50 / P95",
                   [prom(quantile(q, sc.METRIC_RUN_STEPS, AGENT, sc.LABEL_AGENT), f"P{int(q * 100)} {{{{agent}}}}")
                    for q in (0.5, 0.95)],
                   unit="short", w=8, description="Graph steps per run; a climbing tail means loops."),
        row("Per agent (top-level agents and named sub-agents)"),
        timeseries("Cost per hour by agent",
                   [prom(f"sum by ({sc.LABEL_AGENT}) (rate({sc.METRIC_LLM_COST}{{{AGENT}, {M}=~\"$model\"}}[{RI}])) * 3600",
                         "{{agent}}")],
                   unit="currencyUSD", stack=True, w=6,
                   description="Estimated LLM spend (USD/hour) by the agent that made the calls: "
                               "a supervisor and each of its workers apart."),
        timeseries("Tokens per second by agent",
                   [prom(f"sum by ({sc.LABEL_AGENT}, {sc.LABEL_TOKEN_TYPE}) "
                         f"(rate({sc.METRIC_LLM_TOKENS}{{{AGENT}, {M}=~\"$model\"}}[{RI}]))",
                         f"{{{{agent}}}} {{{{{sc.LABEL_TOKEN_TYPE}}}}}")],
                   unit="suffix: tok/s", stack=True, w=6,
                   description="Input and output tokens per second by the agent that made the LLM calls."),
        timeseries("Tool error ratio by agent",
                   [prom(ratio(f'{TOOL_SEL}, {sc.LABEL_ERROR_TYPE}!=""', TOOL_SEL, tool_count, sc.LABEL_AGENT_NAME),
                         f"{{{{{sc.LABEL_AGENT_NAME}}}}}")],
                   unit="percentunit", threshold=ERROR_RATIO, w=6,
                   description="Failed tool calls per call, by the agent that called the tool."),
        timeseries("Agent latency P95 by agent",
                   [prom(quantile(0.95, sc.METRIC_AGENT_DURATION, f'{SVC}, {sc.LABEL_AGENT_NAME}=~"$agent"',
                                  sc.LABEL_AGENT_NAME), f"{{{{{sc.LABEL_AGENT_NAME}}}}}", exemplar=True)],
                   unit="s", w=6,
                   description="95th percentile duration of each agent's invocations: top-level runs and "
                               "each sub-agent's graph runs."),
        stat("Handoffs", prom(_absent_as_zero(f"sum(increase({sc.METRIC_HANDOFFS}{{{AGENT}}}[$__range]))")),
             unit="short", w=24,
             description="Handoffs between agents (Command(graph=Command.PARENT)) in the selected range; "
                         "by source and destination: agent_obs_handoffs_total in Explore."),
        row("LLM calls"),
        timeseries("Tokens per second by model and type",
                   [prom(f"sum by ({M}, {sc.LABEL_TOKEN_TYPE}) (rate({sc.METRIC_TOKEN_USAGE}_sum{{{MODEL}}}[{RI}]))",
                         f"{{{{{M}}}}} {{{{{sc.LABEL_TOKEN_TYPE}}}}}")],
                   unit="suffix: tok/s", stack=True,
                   description="Input and output tokens consumed per second, by model."),
        timeseries("Cost per hour by model",
                   [prom(f"sum by ({M}) (rate({sc.METRIC_LLM_COST}{{{AGENT}, {M}=~\"$model\"}}[{RI}])) * 3600",
                         f"{{{{{M}}}}}")],
                   unit="currencyUSD", stack=True, threshold=thresholds((None, "green"), (5, "red")),
                   description="Estimated spend rate (USD/hour) by model, from the price table."),
        timeseries("LLM latency P50 / P95",
                   [prom(quantile(q, sc.METRIC_OPERATION_DURATION, MODEL, M), f"P{int(q * 100)} {{{{{M}}}}}",
                         exemplar=True) for q in (0.5, 0.95)],
                   unit="s", threshold=thresholds((None, "green"), (20, "red")),
                   description="LLM call duration by model; exemplars open the call's trace in Tempo."),
        timeseries("Time to first chunk P50 / P95",
                   [prom(quantile(q, sc.METRIC_TIME_TO_FIRST_CHUNK, MODEL, M), f"P{int(q * 100)} {{{{{M}}}}}",
                         exemplar=True) for q in (0.5, 0.95)],
                   unit="s", threshold=thresholds((None, "green"), (5, "red")),
                   description="Streaming latency until the first chunk, by model (streamed calls only)."),
        timeseries("LLM error ratio by model and error type",
                   [prom(f"sum by ({M}, {sc.LABEL_ERROR_TYPE}) (rate({llm_count}{{{MODEL}, {sc.LABEL_ERROR_TYPE}!=\"\"}}[{RI}]))"
                         f" / ignoring ({sc.LABEL_ERROR_TYPE}) group_left"
                         f" sum by ({M}) (rate({llm_count}{{{MODEL}}}[{RI}]))",
                         f"{{{{{M}}}}} {{{{{sc.LABEL_ERROR_TYPE}}}}}"),
                    prom(ratio(f'{MODEL}, {sc.LABEL_ERROR_TYPE}!=""', MODEL, llm_count, M), f"{{{{{M}}}}} all errors")],
                   unit="percentunit", threshold=ERROR_RATIO,
                   description="Failed LLM calls per call, by model and exception type (LLMErrorRatioHigh fires above 5%)."),
        timeseries("LLM calls per second by model",
                   [prom(f"sum by ({M}, {sc.LABEL_OPERATION}) (rate({llm_count}{{{MODEL}}}[{RI}]))",
                         f"{{{{{M}}}}} {{{{{sc.LABEL_OPERATION}}}}}")],
                   unit="reqps", description="LLM call rate by model and operation (chat, text_completion)."),
        row("Tools and nodes"),
        timeseries("Tool calls per second",
                   [prom(f"sum by ({TOOL}) (rate({tool_count}{{{TOOL_SEL}}}[{RI}]))", f"{{{{{TOOL}}}}}")],
                   unit="reqps", stack=True, description="Tool executions per second, by tool."),
        timeseries("Tool error ratio",
                   [prom(ratio(f'{TOOL_SEL}, {sc.LABEL_ERROR_TYPE}!=""', TOOL_SEL, tool_count, TOOL), f"{{{{{TOOL}}}}}")],
                   unit="percentunit", threshold=ERROR_RATIO,
                   description="Failed tool calls per call, by tool (ToolErrorRatioHigh fires above 10%)."),
        timeseries("Node duration P95 by node",
                   [prom(quantile(0.95, sc.METRIC_NODE_DURATION, NODE_SEL, sc.LABEL_NODE), "{{node}}", exemplar=True)],
                   unit="s", description="95th percentile duration of each graph node attempt."),
        timeseries("Retries and interrupts by node",
                   [prom(f"sum by ({sc.LABEL_NODE}) (increase({sc.METRIC_NODE_RETRIES}{{{NODE_SEL}}}[{RI}]))",
                         "retries {{node}}"),
                    prom(f"sum by ({sc.LABEL_NODE}) (increase({sc.METRIC_INTERRUPTS}{{{NODE_SEL}}}[{RI}]))",
                         "interrupts {{node}}")],
                   unit="short", bars=True,
                   description="Node retries (RetryPolicy attempts after the first) and interrupts, per interval."),
        row("agent_obs health"),
        stat("Handler errors", prom(_absent_as_zero(f"sum(increase({sc.METRIC_HANDLER_ERRORS}{{{SVC}}}[$__range]))")),
             unit="short", w=8, threshold=thresholds((None, "green"), (1, "red")),
             description="Exceptions swallowed inside agent_obs callbacks: telemetry gaps, never agent failures."),
        stat("Abandoned runs", prom(_absent_as_zero(f"sum(increase({sc.METRIC_ABANDONED_RUNS}{{{SVC}}}[$__range]))")),
             unit="short", w=8, threshold=thresholds((None, "green"), (1, "orange")),
             description="Runs force-ended by agent_obs because their end never arrived (TTL or table cap)."),
        stat("Dropped telemetry", prom(_absent_as_zero(f"sum(increase({sc.METRIC_DROPPED}{{{SVC}}}[$__range]))")),
             unit="short", w=8, threshold=thresholds((None, "green"), (1, "orange")),
             description="Log records and other telemetry dropped (queue full, rejected, retries exhausted)."),
        row("Traces and logs"),
        traces_table("Recent agent runs (Tempo)",
                     traceql(f'{{ span.{sc.GEN_AI_AGENT_NAME} =~ "$agent" '
                             f'&& resource.service.name =~ "$service" }}'),
                     description="The latest runs of the selected agents (top-level or sub-agents: both spans "
                                 "carry gen_ai.agent.name); click a trace id to open the reasoning tree."),
        logs("Recent agent logs (Loki)",
             loki(f'{{service=~"$service"}} | json | {sc.FIELD_EVENT}=~"agent[.].+" | {sc.FIELD_AGENT}=~"$agent"'),
             description="agent_obs run, node, LLM and tool events; trace_id links to the trace."),
    ]
    return dashboard(
        "agent-obs-llm-agent", "Agents: LLM and agent",
        "Tokens, cost, LLM latency and errors, tools, nodes, retries, interrupts, and the traces "
        "and logs behind them, from agent_obs metrics.",
        [prometheus_var(), loki_var(), tempo_var(), service_var(), agent_var(), model_var(), node_var()],
        panels, tags=["agents", "llm"], time_from="now-3h",
    )
