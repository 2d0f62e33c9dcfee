#!/usr/bin/env python3
"""Generate ``docs/reference.md`` and the README settings table from the code.

    python scripts/gen_reference.py            # rewrite both files
    python scripts/gen_reference.py --check    # exit 1 (and name the files) when they are stale

Names, types, labels, buckets, defaults and environment variables are read from the code:
``agent_obs/semconv.py`` (spans, attributes, metrics, log events), ``service_obs/settings.py``
(``_SPEC`` and the dataclass fields), ``AgentObserver.__init__``, the ``get_or_create`` calls in
``service_obs/*.py``, ``agent_obs_example/metrics.py`` and ``settings.py``, the CLI parser,
the alert rules and the generated dashboards. Only the prose the code does not carry lives here,
in the ``*_DOCS`` tables below; a name the code defines and these tables do not describe is
rendered with a "(not described yet)" note and listed by ``undescribed()``, which a test checks.
The test suite runs ``--check``, so renaming anything in code fails a test until the docs are
regenerated.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_obs import semconv as sc  # noqa: E402

README_START = "<!-- settings-table:start -->"
README_END = "<!-- settings-table:end -->"
MISSING = "(not described yet)"
_undescribed: set[str] = set()

# --- prose the code does not carry ---------------------------------------------------------
# Span rows: (span-name constant, kind, operation constant or None, when, attribute constants).
SPAN_ROWS = [
    ("SPAN_INVOKE_AGENT", "INTERNAL", "OP_INVOKE_AGENT", "the top-level graph run (`invoke`, `stream`, `batch`, async too)",
     ["GEN_AI_OPERATION_NAME", "GEN_AI_AGENT_NAME", "GEN_AI_CONVERSATION_ID", "LANGGRAPH_RESUMED", "LANGGRAPH_INTERRUPTED"]),
    ("SPAN_NODE", "INTERNAL", None, "each attempt of a graph node, `Send` branch, `@entrypoint` or `@task`",
     ["LANGGRAPH_NODE", "LANGGRAPH_STEP", "LANGGRAPH_TRIGGERS", "LANGGRAPH_CHECKPOINT_NS", "LANGGRAPH_ATTEMPT",
      "LANGGRAPH_INTERRUPTED", "LANGGRAPH_HANDOFF_DESTINATION",
      "`gen_ai.agent.name`, `agent_obs.agent.parent`, `agent_obs.agent.root` when it runs a named sub-agent"]),
    ("SPAN_CHAT", "CLIENT", "OP_CHAT", "a chat model call",
     ["GEN_AI_OPERATION_NAME", "GEN_AI_PROVIDER_NAME", "GEN_AI_REQUEST_MODEL", "GEN_AI_RESPONSE_MODEL",
      "GEN_AI_USAGE_INPUT_TOKENS", "GEN_AI_USAGE_OUTPUT_TOKENS", "GEN_AI_RESPONSE_FINISH_REASONS",
      "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK", "USAGE_ESTIMATED", "USAGE_ESTIMATOR", "COST_USD"]),
    ("SPAN_TEXT_COMPLETION", "CLIENT", "OP_TEXT_COMPLETION", "a plain (non-chat) LLM call", ["same as `chat`"]),
    ("SPAN_EXECUTE_TOOL", "INTERNAL", "OP_EXECUTE_TOOL", "a tool call",
     ["GEN_AI_OPERATION_NAME", "GEN_AI_TOOL_NAME", "GEN_AI_TOOL_CALL_ID", "GEN_AI_TOOL_TYPE"]),
    ("SPAN_RETRIEVAL", "INTERNAL", "OP_RETRIEVAL", "a retriever call", ["GEN_AI_OPERATION_NAME", "GEN_AI_DATA_SOURCE_ID"]),
]

AGENT, NODE, LLM, TOOL, RETR, ANY = "invoke_agent", "node", "chat/text_completion", "execute_tool", "retrieval", "any"
# semconv attribute constant -> (type, spans it is set on, meaning)
ATTRIBUTE_DOCS: dict[str, tuple[str, str, str]] = {
    "GEN_AI_OPERATION_NAME": ("string", f"{AGENT}, {LLM}, {TOOL}, {RETR}", "The operation: one of the `OP_*` values below."),
    "GEN_AI_PROVIDER_NAME": ("string", LLM, "The provider (`openai`, `anthropic`, `aws.bedrock`...), from the model class."),
    "GEN_AI_AGENT_NAME": ("string", f"{AGENT}, {NODE}, {TOOL}", "On `invoke_agent`: `agent_name=`, else the graph's name (`compile(name=...)`, default `LangGraph`). On the span of a node (or tool) that runs a named sub-agent (a nested graph compiled with a name other than `LangGraph`: `create_react_agent(name=...)`, `create_agent(name=...)`, supervisor and swarm agents): the sub-agent's name. Sub-agents get no span of their own (see the guide's multi-agent page)."),
    "AGENT_PARENT": ("string", f"{NODE}, {TOOL}", "Next to a sub-agent's `gen_ai.agent.name`: the agent whose graph holds that node (the top-level agent, or the sub-agent one level up)."),
    "AGENT_ROOT": ("string", f"{NODE}, {TOOL}", "Next to a sub-agent's `gen_ai.agent.name`: the top-level agent of the run."),
    "GEN_AI_CONVERSATION_ID": ("string", AGENT, "The run's `thread_id` (from `config[\"configurable\"]`), when set."),
    "GEN_AI_REQUEST_MODEL": ("string", LLM, "The model asked for."),
    "GEN_AI_REQUEST_TEMPERATURE": ("double", LLM, "The temperature, when the model sets one."),
    "GEN_AI_REQUEST_MAX_TOKENS": ("int", LLM, "The output token limit, when the model sets one."),
    "GEN_AI_RESPONSE_MODEL": ("string", LLM, "The model that answered, when the provider reports it."),
    "GEN_AI_RESPONSE_ID": ("string", LLM, "The provider's response id, when the integration passes it on (the message id, `response_metadata[\"id\"]` or `llm_output[\"id\"]`; langchain-openai and langchain-anthropic keep none on streamed answers)."),
    "OPENAI_RESPONSE_SERVICE_TIER": ("string", LLM, "The service tier the provider says it used (`default`, `priority`, `flex`...), when reported. Costs use the standard-tier prices whatever the tier (tier prices are not modelled)."),
    "GEN_AI_RESPONSE_FINISH_REASONS": ("string[]", LLM, "Why generation stopped (`stop`, `length`, `tool_calls`...)."),
    "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK": ("double (s)", LLM, "Seconds until the first streamed chunk; streamed calls only, also when the stream failed after its first chunk (then the `time_to_first_chunk` metric has the same sample)."),
    "GEN_AI_USAGE_INPUT_TOKENS": ("int", LLM, "Input tokens (reported, or counted offline: see `agent_obs.usage.estimated`), cache reads and writes included. A call with several choices (`n>1`) counts its usage once: generations carrying the same usage are one call's usage copied onto each choice."),
    "GEN_AI_USAGE_OUTPUT_TOKENS": ("int", LLM, "Output tokens."),
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS": ("int", LLM, "Input tokens served from the provider's prompt cache, when reported (`cache_read` and its service-tier variants `priority_cache_read`, `flex_cache_read`...)."),
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS": ("int", LLM, "Input tokens written to the provider's prompt cache, when reported (`cache_creation`, its tier variants, or Anthropic's `ephemeral_5m_input_tokens` + `ephemeral_1h_input_tokens`)."),
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS": ("int", LLM, "Reasoning tokens inside the output, when reported (`reasoning` and its tier variants `priority_reasoning`, `flex_reasoning`...)."),
    "GEN_AI_TOOL_NAME": ("string", TOOL, "The tool's name."),
    "GEN_AI_TOOL_CALL_ID": ("string", TOOL, "The model's tool call id, linking the call to the LLM message that asked for it."),
    "GEN_AI_TOOL_TYPE": ("string", TOOL, "`function`."),
    "GEN_AI_TOOL_DESCRIPTION": ("string", TOOL, "The tool's description (first 1024 characters), when it has one."),
    "GEN_AI_DATA_SOURCE_ID": ("string", RETR, "The retriever's name."),
    "GEN_AI_INPUT_MESSAGES": ("string (JSON)", f"{AGENT}, {LLM}, {RETR}",
                              "Content capture only: the prompt messages (GenAI JSON format); the graph's input `messages`; the retriever query."),
    "GEN_AI_OUTPUT_MESSAGES": ("string (JSON)", f"{LLM}, {RETR}", "Content capture only: the completion; the retrieved documents."),
    "GEN_AI_TOOL_CALL_ARGUMENTS": ("string (JSON)", TOOL, "Content capture only: the tool's arguments."),
    "GEN_AI_TOOL_CALL_RESULT": ("string (JSON)", TOOL, "Content capture only: the tool's result."),
    "ERROR_TYPE": ("string", ANY, "The exception's fully-qualified class name (`json.decoder.JSONDecodeError`, `httpx.ConnectError`; built-ins bare: `TimeoutError`), on the span where it was raised and each ancestor it passed through, and on `@traced` spans. The same value as the `error_type` metric label and log field: see *error.type* below."),
    "EXCEPTION_TYPE": ("string", "the `exception` event of a span with `error.type`", "The same value as the span's `error.type`."),
    "LANGGRAPH_NODE": ("string", NODE, "The node's name (`langgraph_node`)."),
    "LANGGRAPH_STEP": ("int", NODE, "The superstep (`langgraph_step`)."),
    "LANGGRAPH_TRIGGERS": ("string[]", NODE, "The channels that triggered the node (`langgraph_triggers`)."),
    "LANGGRAPH_CHECKPOINT_NS": ("string", NODE, "The checkpoint namespace (`langgraph_checkpoint_ns`); subgraph nodes have nested ones."),
    "LANGGRAPH_ATTEMPT": ("int", NODE, "1 for the first attempt; 2, 3... for `RetryPolicy` retries (each attempt is its own span)."),
    "LANGGRAPH_INTERRUPTED": ("boolean", f"{AGENT}, {NODE}", "true when the run stopped at an `interrupt()` (status stays UNSET): on the node that called it and every node and agent span it passed up through. A handoff (`Command(graph=Command.PARENT)`) never sets it."),
    "LANGGRAPH_HANDOFF_DESTINATION": ("string", NODE, "The node that returned `Command(graph=Command.PARENT, goto=...)` (a handoff, as the handoff tools of langgraph-supervisor and langgraph-swarm do): where it handed control, several destinations joined with `,`. Only on that node, not on the levels the command passes through; the run stays ok."),
    "LANGGRAPH_STEPS": ("int", "invoke_agent", "Node executions in the run (first attempts; retries not counted), set when the run ends normally; also the `agent_obs_run_steps` metric."),
    "LINK_TYPE": ("string", "link of " + AGENT, "On the span link from a resumed run's agent span to the span of the run it resumes: `resumed_from`."),
    "LANGGRAPH_RESUMED": ("boolean", AGENT, "true when the run resumes an interrupted thread (`Command(resume=...)`); the span links to the interrupted run's span."),
    "USAGE_ESTIMATED": ("boolean", LLM, "true when the provider reported no usage and the observer counted the tokens itself (see `agent_obs.usage.estimator`)."),
    "USAGE_ESTIMATOR": ("string", LLM, "How estimated tokens were counted: `o200k_base` or `cl100k_base` (the model's tiktoken vocabulary, offline), or `chars/4` (one token per four characters of text, plus the per-message overhead) while that vocabulary is still loading on a background thread, i.e. the first calls of a process."),
    "COST_USD": ("double", LLM, "Estimated cost in US dollars from the price table."),
    "COST_UNKNOWN_MODEL": ("boolean", LLM, "true when the model is not in the price table (no cost is guessed)."),
    "OUTCOME": ("string", ANY, "`cancelled` on spans force-ended by cancellation or abandonment (their status stays UNSET)."),
    "GRAPH_INPUT": ("string (JSON)", AGENT, "Content capture only: the graph's input, for replay."),
    "GRAPH_OUTPUT": ("string (JSON)", AGENT, "Content capture only: the graph's output, for replay."),
    "ROUTE_NAME": ("string", f"event on {NODE}", "The router (conditional edge) that chose."),
    "ROUTE_DESTINATIONS": ("string[]", f"event on {NODE}", "The nodes it chose."),
    "HANDOFF_DESTINATIONS": ("string[]", f"event on {NODE}", "The nodes (agents) the handoff goes to: `goto`, or the nodes of its `Send`s."),
}

OUTCOME_DOCS = {
    "OUTCOME_OK": "finished normally; span status UNSET. Also a node that handed off (`Command(graph=Command.PARENT)`, raised by LangGraph as `ParentCommand`) and every level that command passes through: a handoff is control flow",
    "OUTCOME_ERROR": "an exception; span status ERROR with `error.type` and a recorded exception",
    "OUTCOME_INTERRUPTED": "stopped at `interrupt()` (`GraphInterrupt`, and any other `GraphBubbleUp` except `ParentCommand`); not an error, `langgraph.interrupted`=true",
    "OUTCOME_CANCELLED": "cancelled (`CancelledError`, `GeneratorExit`, a stream closed early) or force-ended as abandoned",
}

LABEL_DOCS = {
    "LABEL_OPERATION": "`chat`, `text_completion`",
    "LABEL_PROVIDER": "provider name, as `gen_ai.provider.name`",
    "LABEL_REQUEST_MODEL": "model name, as `gen_ai.request.model`",
    "LABEL_ERROR_TYPE": "the exception's fully-qualified class name, as the span's `error.type`; `cancelled` for a run cancelled without an exception; empty on success",
    "LABEL_TOKEN_TYPE": "`{TOKEN_TYPE_INPUT}`, `{TOKEN_TYPE_OUTPUT}`",
    "LABEL_AGENT_NAME": "agent name, as `gen_ai.agent.name`: the top-level agent or the named sub-agent the run belongs to",
    "LABEL_TOOL_NAME": "tool name",
    "LABEL_AGENT": "agent name, as `gen_ai.agent.name`: the top-level agent or the named sub-agent the node or LLM call belongs to (`agent_obs_runs_total`, `agent_obs_run_steps`, `agent_obs_active_runs`: top-level agents only)",
    "LABEL_STATUS": "an outcome: `ok`, `error`, `interrupted`, `cancelled`",
    "LABEL_NODE": "node name",
    "LABEL_CALLBACK": "the callback that failed (`on_chain_start`, `on_llm_end`...)",
    "LABEL_KIND": "`ttl` (open longer than `run_ttl_seconds`) or `cap` (more than `max_open_runs` open)",
    "LABEL_SIGNAL": "`logs` (Loki sink), `traces` (trace file)",
    "LABEL_DESTINATION": "the node a handoff goes to (a node name)",
    "LABEL_REASON": "`queue_full`, `rejected`, `retries_exhausted`, `shutdown`, `error` (logs); the trace file's write failures (traces)",
}

# log event constant -> (emitted when, extra fields beyond the common ones)
LOG_EVENT_DOCS = {
    "LOG_RUN_START": ("a top-level run starts; INFO", []),
    "LOG_RUN_END": ("a top-level run ends; INFO, WARNING when interrupted/cancelled, ERROR on error",
                    ["FIELD_STATUS", "FIELD_DURATION_MS", "FIELD_STEP", "FIELD_ERROR_TYPE", "FIELD_ERROR_MESSAGE"]),
    "LOG_NODE_END": ("a node attempt ends; DEBUG when ok",
                     ["FIELD_STATUS", "FIELD_DURATION_MS", "FIELD_HANDOFF_TO", "FIELD_ERROR_TYPE", "FIELD_ERROR_MESSAGE"]),
    "LOG_LLM_END": ("an LLM call ends; DEBUG when ok",
                    ["FIELD_STATUS", "FIELD_DURATION_MS", "FIELD_MODEL", "FIELD_INPUT_TOKENS", "FIELD_OUTPUT_TOKENS",
                     "FIELD_COST_USD", "FIELD_ERROR_TYPE", "FIELD_ERROR_MESSAGE"]),
    "LOG_TOOL_END": ("a tool call ends; DEBUG when ok",
                     ["FIELD_STATUS", "FIELD_DURATION_MS", "FIELD_TOOL", "FIELD_ERROR_TYPE", "FIELD_ERROR_MESSAGE"]),
}
COMMON_LOG_FIELDS = ["FIELD_EVENT", "FIELD_TRACE_ID", "FIELD_SPAN_ID", "FIELD_RUN_ID", "FIELD_AGENT", "FIELD_ROOT_AGENT", "FIELD_NODE",
                     "FIELD_STEP", "FIELD_THREAD_ID"]
FIELD_DOCS = {
    "FIELD_EVENT": ("string", "the event name"),
    "FIELD_TRACE_ID": ("string", "32 lower-case hex digits, the span's trace id (Tempo's trace id)"),
    "FIELD_SPAN_ID": ("string", "16 lower-case hex digits, the run's own span"),
    "FIELD_RUN_ID": ("string", "LangChain's run id (UUID)"),
    "FIELD_AGENT": ("string", "the agent the run belongs to: the top-level agent, or the named sub-agent whose graph it runs in"),
    "FIELD_ROOT_AGENT": ("string", "the top-level agent, on records from inside a sub-agent (absent when it equals `agent`)"),
    "FIELD_NODE": ("string", "the node the run belongs to, when inside one"),
    "FIELD_STEP": ("int", "the node's superstep; on `agent.run.end`, the run's total node executions"),
    "FIELD_MODEL": ("string", "the model (LLM events)"),
    "FIELD_TOOL": ("string", "the tool (tool events)"),
    "FIELD_STATUS": ("string", "the outcome: `ok`, `error`, `interrupted`, `cancelled`"),
    "FIELD_DURATION_MS": ("float", "duration in milliseconds"),
    "FIELD_INPUT_TOKENS": ("int", "input tokens, when known"),
    "FIELD_OUTPUT_TOKENS": ("int", "output tokens, when known"),
    "FIELD_ERROR_TYPE": ("string", "the exception's fully-qualified class name, as the span's `error.type` (error and cancelled outcomes)"),
    "FIELD_ERROR_MESSAGE": ("string", "exception message, first 500 characters"),
    "FIELD_COST_USD": ("float", "estimated cost of the LLM call, when the model is priced"),
    "FIELD_THREAD_ID": ("string", "the run's `thread_id`, when set"),
    "FIELD_HANDOFF_TO": ("string", "where the node handed off to (`langgraph.handoff.destination`), when it did"),
}

SETTING_DOCS = {
    "service_name": "`service.name` of every span, Loki's `service` stream label. Give Prometheus's scrape job the same `service` label. Default: `OTEL_SERVICE_NAME`, else the value shown.",
    "service_version": "`service.version` resource attribute.",
    "environment": "`deployment.environment.name` resource attribute and Loki's `environment` stream label.",
    "tempo_endpoint": "OTLP endpoint for spans (Tempo, an OpenTelemetry Collector, Grafana Cloud), e.g. `http://127.0.0.1:4317` (gRPC) or `https://host/otlp` (`http/protobuf`; `/v1/traces` is appended). Unset: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`, else the trace file.",
    "otlp_protocol": "`{OTLP_PROTOCOLS}`. Unset: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`, else `grpc`.",
    "otlp_headers": "Headers on every span export, `k=v,k2=v2` (e.g. `Authorization=Basic <base64>`). Secret: never in `repr`. Unset: `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`.",
    "otlp_insecure": "gRPC only: `true` for plaintext. Unset: plaintext for `http://` endpoints, TLS for `https://`.",
    "otlp_timeout": "Seconds allowed for one span export.",
    "enable_tracing": "`false`: no spans are recorded or exported (metrics and logs still work).",
    "trace_sample_rate": "Head sampling ratio (0 to 1) for new traces, parent-based: a sampled caller's trace is always kept.",
    "trace_file": "OTLP JSON lines file that receives spans when no OTLP endpoint is configured (`agent-obs replay` reads it).",
    "log_level": "Minimum level of every sink below: `{LOG_LEVELS}`.",
    "log_to_console": "Coloured log lines on stderr, with `trace_id`; while on, loguru's default stderr handler is removed (`shutdown()` restores it).",
    "log_file": "Rotating JSON-lines log file (the same JSON as the Loki lines); empty disables it.",
    "log_rotation": "When the log file rotates (loguru `rotation`: a size, a time or an interval).",
    "log_retention": "How long rotated log files are kept (loguru `retention`).",
    "log_to_loki": "Ship logs to Loki. Unset: when `loki_endpoint` is set.",
    "loki_endpoint": "Loki's base URL (`/loki/api/v1/push` is appended), e.g. `http://127.0.0.1:3100`.",
    "loki_labels": "Extra fixed stream labels, `k=v,k2=v2`; keep them few and low-cardinality.",
    "loki_tenant_id": "Sent as `X-Scope-OrgID` (multi-tenant Loki).",
    "loki_username": "Basic auth user (Grafana Cloud: the Loki instance's user id); needs `loki_password`.",
    "loki_password": "Basic auth password (Grafana Cloud: an access policy token). Secret: never in `repr`.",
    "loki_bearer_token": "Sent as `Authorization: Bearer ...`; wins over basic auth. Secret: never in `repr`.",
    "loki_batch_size": "Most records in one push.",
    "loki_flush_interval": "Seconds between pushes when a batch is not full.",
    "loki_queue_size": "Records waiting to be pushed; when full the oldest is dropped and counted (`reason=\"queue_full\"`).",
    "loki_timeout": "Seconds allowed for one push.",
    "loki_max_retries": "Retries of a push after 429, 5xx or a connection error before its records are dropped (`reason=\"retries_exhausted\"`).",
    "loki_min_backoff": "First retry delay in seconds (exponential, with jitter; `Retry-After` is honoured).",
    "loki_max_backoff": "Longest retry delay in seconds.",
    "loki_structured_metadata": "Send `trace_id`/`span_id` as Loki 3 structured metadata; `false` for Loki 2.x (they stay in the JSON line).",
    "capture_content": "Record prompts, completions, tool arguments and results on spans (truncated, redacted). Unset: off unless `AGENT_OBS_CAPTURE_CONTENT` says otherwise.",
    "instrument_http": "Client spans, `traceparent` propagation and `http_client_*` metrics for `requests` and `httpx`.",
    "http_send_receive_spans": "Keep the ASGI `http send`/`http receive` spans under each FastAPI server span (one per message; off: the server span already has their timing).",
    "set_global_tracer_provider": "Also install the provider as OpenTelemetry's global one (cannot be undone within the process).",
    "shutdown_timeout": "Seconds `obs.shutdown()` waits in total for spans and logs to be sent (one deadline for both); what is left is reported and dropped, so an app exits promptly even when Tempo or Loki does not answer.",
}

OBSERVER_DOCS = {
    "tracer_provider": "An OpenTelemetry `TracerProvider`; None means the global one.",
    "registry": "A prometheus_client `CollectorRegistry`; None means `prometheus_client.REGISTRY`. Observers may share one.",
    "logger": "A loguru logger; None means `loguru.logger`. No handlers are added: records go where the application sends them.",
    "capture_content": "Record content on spans; None means the `AGENT_OBS_CAPTURE_CONTENT` environment variable (default off).",
    "agent_name": "`gen_ai.agent.name` and the `agent` label; None means the graph's name.",
    "prices": "A `PriceTable`, a mapping of overrides (`{\"model\": {\"input\": 2.5, \"output\": 10}}`, USD per million tokens) or a JSON price file; None means the built-in list prices.",
    "max_content_length": "Longest captured string, in characters (at least 16); longer ones are truncated.",
    "redact": "Redact secrets (API keys, bearer tokens, passwords, private keys) in captured content.",
    "label_limit": "Distinct values per metric label before new values become `_other`.",
    "max_open_runs": "Open runs kept before the oldest are force-ended as abandoned (`kind=\"cap\"`).",
    "run_ttl_seconds": "Seconds a run may stay open before it is force-ended as abandoned (`kind=\"ttl\"`).",
    "clock": "Monotonic seconds, for durations and the TTL (tests inject a fake clock).",
    "metrics": "`False`: no Prometheus families are registered or observed (spans and logs only).",
    "logs": "`False`: no loguru records are emitted (spans and metrics only).",
}

EXAMPLE_SETTING_DOCS = {
    "database_url": "Any SQLAlchemy URL (SQLite, PostgreSQL...).",
    "dremio_url": "Dremio's base URL. Unset: the local Dremio stand-in is started on 127.0.0.1.",
    "dremio_token": "Dremio personal access token, sent as a Bearer token.",
    "dremio_timeout_s": "Seconds allowed for one Dremio API call.",
    "model": "The OpenAI model, when the real provider is used.",
    "use_openai": "Use the real provider. Unset: `true` when `OPENAI_API_KEY` is set, else the scripted model.",
    "approval_required_risk": "Recommendations at or above this risk wait for a human decision (`low`, `medium`, `high`, `none`).",
}

# CLI arguments without argparse help
CLI_DOCS = {
    "--host": "interface to listen on (`0.0.0.0` in a container)",
    "--port": "port; Prometheus scrapes `/metrics` on it",
}

OTEL_ENV_DOCS = [
    ("OTEL_SERVICE_NAME", "Default `service_name`."),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT", "Span endpoint when `tempo_endpoint` is unset."),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL", "Protocol when `otlp_protocol` is unset."),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS", "Headers when `otlp_headers` is empty (read by the exporter)."),
    ("OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY",
     "TLS trust and client certificates (read by the exporter)."),
    ("OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "The batch span processor's queue and batching (read once, into `settings.otel`). Unset, `setup_observability` exports at most 64 spans every 0.5 s instead of the SDK's 512 every 5 s: spans waiting longer reach the garbage collector's old generation and make full collections come sooner."),
    ("OTEL_RESOURCE_ATTRIBUTES", "Extra resource attributes, e.g. `k8s.pod.name=...` (merged by the SDK)."),
]


# --- helpers -----------------------------------------------------------------------------
def _doc(table: dict[str, Any], key: str, where: str) -> Any:
    if key in table:
        return table[key]
    _undescribed.add(f"{where}: {key}")
    return None


def _code(value: Any) -> str:
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _constants(prefix: str) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in vars(sc).items() if k.startswith(prefix) and k.isupper()]


def _fill(text: str, namespace: Any) -> str:
    """Replace ``{NAME}`` with a constant from ``namespace`` (tuples joined with `, `)."""
    def repl(m: re.Match[str]) -> str:
        value = getattr(namespace, m.group(1))
        return "`, `".join(value) if isinstance(value, tuple) else str(value)

    return re.sub(r"\{([A-Z_]+)\}", repl, text)


_SPECIAL = ("SCOPE_NAME", "CONTENT_TRUNCATED_SUFFIX", "EVENT_ROUTE", "EVENT_HANDOFF", "DEFAULT_TRACE_FILE", "OTHER_LABEL_VALUE",
            "LINK_RESUMED_FROM")
_NON_ATTRIBUTE_PREFIXES = ("ABANDONED_", "SPAN_", "OP_", "OUTCOME_", "METRIC_", "LABEL_", "TOKEN_TYPE_", "BUCKETS_", "LOG_", "FIELD_", "ENV_", "KIND_")


def attribute_constants() -> list[tuple[str, str]]:
    """Every span attribute key in semconv: string constants that are not another kind of name."""
    out = []
    for name, value in vars(sc).items():
        if not (name.isupper() and isinstance(value, str)) or name in _SPECIAL or name == "OUTCOMES":
            continue
        if name.startswith(_NON_ATTRIBUTE_PREFIXES):
            continue
        out.append((name, value))
    return out


# --- sections ------------------------------------------------------------------------------
def _spans() -> str:
    rows = []
    for const, kind, op, when, attrs in SPAN_ROWS:
        attr_text = ", ".join(_code(getattr(sc, a)) if a.isupper() else a for a in attrs)
        rows.append([_code(getattr(sc, const)), kind, _code(getattr(sc, op)) if op else "—", when, attr_text])
    listed = {r[0] for r in SPAN_ROWS}
    for name, value in _constants("SPAN_"):
        if name not in listed:
            _undescribed.add(f"SPAN_ROWS: {name}")
            rows.append([_code(value), "?", "—", MISSING, ""])
    return "\n".join([
        "## Spans",
        "",
        f"Instrumentation scope `{sc.SCOPE_NAME}`. Each span's parent is the span of the nearest ancestor run that is "
        "itself a span; the top-level run's parent is the span current where `invoke` was called. Plumbing runs "
        "(routers, sequences inside a node) are not spans.",
        "",
        _table(["span name", "kind", "`gen_ai.operation.name`", "for", "key attributes"], rows),
    ])


def _attributes() -> str:
    rows = []
    for name, value in attribute_constants():
        if name.startswith(("ROUTE_", "HANDOFF_")):
            continue
        doc = _doc(ATTRIBUTE_DOCS, name, "ATTRIBUTE_DOCS")
        typ, where, meaning = doc if doc else ("?", "?", MISSING)
        rows.append([_code(value), typ, where, meaning])
    routes = []
    for name, value in attribute_constants():
        if name.startswith("ROUTE_"):
            doc = _doc(ATTRIBUTE_DOCS, name, "ATTRIBUTE_DOCS")
            typ, _, meaning = doc if doc else ("?", "?", MISSING)
            routes.append([_code(value), typ, meaning])
    handoffs = []
    for name, value in attribute_constants():
        if name.startswith("HANDOFF_"):
            doc = _doc(ATTRIBUTE_DOCS, name, "ATTRIBUTE_DOCS")
            typ, _, meaning = doc if doc else ("?", "?", MISSING)
            handoffs.append([_code(value), typ, meaning])
    outcomes = [[_code(getattr(sc, n)), _doc(OUTCOME_DOCS, n, "OUTCOME_DOCS") or MISSING]
                for n, _ in _constants("OUTCOME_")]
    ops = ", ".join(_code(v) for _, v in _constants("OP_"))
    return "\n".join([
        "## Span attributes",
        "",
        f"`gen_ai.operation.name` values: {ops}. Content attributes exist only with content capture on; when one was "
        f"truncated, `<key>{sc.CONTENT_TRUNCATED_SUFFIX}` (int) holds its original length.",
        "",
        _table(["attribute", "type", "set on", "meaning"], rows),
        "",
        f"### Span event `{sc.EVENT_ROUTE}`",
        "",
        "Added to a node's span when a router (conditional edge) inside it picks the next nodes.",
        "",
        _table(["event attribute", "type", "meaning"], routes),
        "",
        f"### Span event `{sc.EVENT_HANDOFF}`",
        "",
        "Added to the span of the node that returned `Command(graph=Command.PARENT, goto=...)` (LangGraph raises it "
        "as `ParentCommand`). A handoff is control flow: the node and every level the command passes through end "
        f"`ok`; `{sc.METRIC_HANDOFFS}` counts it once, and `agent-obs replay` shows it as `handoff → <destination>`.",
        "",
        _table(["event attribute", "type", "meaning"], handoffs),
        "",
        "### error.type",
        "",
        "One value per exception everywhere: the `error.type` of the observer's spans and of `@traced` spans, the "
        "`exception.type` of their exception events, the `error_type` label of the metrics (agent_obs's and "
        "`http_client_errors_total`), the `error_type` log field and the `exception.type` of the JSON log records "
        "all come from one function, `agent_obs.errors.error_type`. It follows OpenTelemetry's `error.type` "
        "convention (the canonical class name identifying the type, as for `exception.type`: its fully-qualified "
        "class name): the defining module and the qualified name, `json.decoder.JSONDecodeError`, "
        "`httpx.ConnectError`, `mypkg.Client.Error`; built-in exceptions have no module: `TimeoutError`, "
        "`ValueError`. This is the OpenTelemetry SDK's own rule for `exception.type`, so one filter "
        "(TraceQL `span.error.type = \"json.decoder.JSONDecodeError\"`, PromQL "
        "`error_type=\"json.decoder.JSONDecodeError\"`, LogQL `| json | error_type=\"...\"`) finds the failure "
        "in every signal. Spans made by other instrumentations (HTTP client, SQLAlchemy, FastAPI) follow their own.",
        "",
        "### Outcomes",
        "",
        "Every run ends with one outcome; it is the `status` metric label and log field.",
        "",
        _table(["outcome", "meaning"], outcomes),
    ])


def _buckets(values: Any) -> str:
    if not values:
        return "—"
    return ", ".join(str(int(v)) if float(v).is_integer() and v >= 1 else f"{v:g}" for v in values)


def _series(name: str, kind: str) -> str:
    if kind == "histogram":
        return f"`{name}_bucket`, `{name}_sum`, `{name}_count`"
    return _code(name)


def _agent_metrics() -> str:
    rows = []
    for name, (kind, labels, help_text) in sc.METRICS.items():
        rows.append([_series(name, kind), kind, ", ".join(_code(lb) for lb in labels) or "—",
                     _buckets(sc.METRIC_BUCKETS.get(name)), help_text])
    listed = set(sc.METRICS) | set(sc.SERVICE_METRICS) | set(sc.EXAMPLE_METRICS)
    for const, value in _constants("METRIC_"):
        if isinstance(value, str) and value not in listed:
            _undescribed.add(f"semconv.METRICS: {const}")
    label_rows = [[_code(v), _fill(_doc(LABEL_DOCS, n, "LABEL_DOCS") or MISSING, sc)] for n, v in _constants("LABEL_")]
    return "\n".join([
        "## Metrics: agent_obs",
        "",
        "From `AgentObserver`, in the registry it was given. Histograms carry `trace_id`/`span_id` exemplars in "
        "OpenMetrics exposition (the format Prometheus asks for first). Buckets without a value use "
        "prometheus_client's defaults.",
        "",
        _table(["series", "type", "labels", "buckets", "meaning"], rows),
        "",
        f"### Labels\n\nLabel values come from bounded sets; past `label_limit` distinct values of one label, new values "
        f"become `{sc.OTHER_LABEL_VALUE}`.",
        "",
        _table(["label", "values"], label_rows),
    ])


def service_obs_metrics() -> list[tuple[str, str, str, tuple[str, ...], Any, str]]:
    """(name, kind, help, labels, buckets, module) of each ``semconv.SERVICE_METRICS`` family,
    with the service_obs module that feeds it."""
    constants = {v: k for k, v in vars(sc).items() if k.startswith("METRIC_") and isinstance(v, str)}
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "service_obs").glob("*.py"))}
    out = []
    for name, (kind, labels, doc) in sc.SERVICE_METRICS.items():
        fed_by = [f for f, text in sources.items() if f"sc.{constants[name]}" in text]
        out.append((name, kind, doc, tuple(labels), sc.SERVICE_METRIC_BUCKETS.get(name),
                    ", ".join(f"service_obs/{f}" for f in fed_by) or "?"))
    return out


def _service_metrics() -> str:
    rows = [[_series(n, k), k, ", ".join(_code(lb) for lb in labels), _buckets(b), doc, _code(src)]
            for n, k, doc, labels, b, src in service_obs_metrics()]
    return "\n".join([
        "## Metrics: service_obs",
        "",
        "In the registry `setup_observability` returns, when the matching instrumentation is on. The registry also has "
        "prometheus_client's process (`process_*`), platform (`python_info`) and GC (`python_gc_*`) collectors, and "
        f"`{sc.METRIC_DROPPED}` counts what the Loki sink and the trace file dropped.",
        "",
        _table(["series", "type", "labels", "buckets", "meaning", "defined in"], rows),
    ])


def _example_metrics() -> str:
    rows = [[_series(n, k), k, ", ".join(_code(lb) for lb in labels) or "—",
             _buckets(sc.EXAMPLE_METRIC_BUCKETS.get(n)), doc]
            for n, (k, labels, doc) in sc.EXAMPLE_METRICS.items()]
    return "\n".join([
        "## Metrics: the example optimizer service",
        "",
        "The business metrics of `agent_obs_example/` (fed by `agent_obs_example/metrics.py`, named in "
        "`agent_obs.semconv.EXAMPLE_METRICS`), which its dashboards and alert rules use.",
        "",
        _table(["series", "type", "labels", "buckets", "meaning"], rows),
    ])


def example_log_events() -> list[tuple[str, str, list[str]]]:
    """(event_type, level, fields) of each ``logger.bind(event_type=...).<level>(...)`` call."""
    path = ROOT / "agent_obs_example" / "events.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        inner = node.func.value
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "bind":
            keywords = {k.arg: k.value for k in inner.keywords}
            event = keywords.get("event_type")
            if isinstance(event, ast.Constant):
                out.append((event.value, node.func.attr.upper(), [k for k in keywords if k != "event_type"]))
    return out


def _logs() -> str:
    rows = []
    for name, value in _constants("LOG_"):
        if not isinstance(value, str):
            continue
        doc = _doc(LOG_EVENT_DOCS, name, "LOG_EVENT_DOCS")
        when, fields = doc if doc else (MISSING, [])
        rows.append([_code(value), when, ", ".join(_code(getattr(sc, f)) for f in fields) or "—"])
    common = ", ".join(_code(getattr(sc, f)) for f in COMMON_LOG_FIELDS)
    field_rows = []
    for name, value in _constants("FIELD_"):
        doc = _doc(FIELD_DOCS, name, "FIELD_DOCS")
        typ, meaning = doc if doc else ("?", MISSING)
        field_rows.append([_code(value), typ, meaning])
    example_rows = [[_code(e), level, ", ".join(_code(f) for f in fields)] for e, level, fields in example_log_events()]
    from service_obs import _records

    base_keys = ["time", "level", "message", "logger", "function", "line"]
    assert set(base_keys) < _records._RESERVED, "service_obs/_records.py changed its JSON keys"  # noqa: SLF001
    return "\n".join([
        "## Log events",
        "",
        "Loguru records from `AgentObserver`, fields in `record[\"extra\"]`. Every event has "
        f"{common} (the last three when they apply). Levels: INFO for run events, DEBUG for the others when ok, "
        "WARNING for interrupted or cancelled, ERROR for errors.",
        "",
        _table(["event", "emitted when", "more fields"], rows),
        "",
        "### Log fields",
        "",
        _table(["field", "type", "meaning"], field_rows),
        "",
        "### Log lines in the file and in Loki",
        "",
        "`service_obs` writes each record as one JSON object with "
        + ", ".join(_code(k) for k in base_keys)
        + ", every `extra` field at the top level (a field named like one of these becomes `extra.<name>`) and "
        "`exception` (`type`, `value`, `traceback`) when there is one. Records logged inside a span get its "
        f"`{sc.FIELD_TRACE_ID}`/`{sc.FIELD_SPAN_ID}`. Loki stream labels: `service`, `environment`, `level` (lower "
        f"case) and `loki_labels`; `{sc.FIELD_TRACE_ID}`/`{sc.FIELD_SPAN_ID}` are also structured metadata.",
        "",
        "### The example service's events",
        "",
        "`agent_obs_example/events.py`, field `event_type`:",
        "",
        _table(["event_type", "level", "fields"], example_rows),
    ])


@contextmanager
def _clean_environment() -> Iterator[None]:
    """Defaults as a fresh process sees them: no AGENT_OBS_* or OTEL_* variables."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(("AGENT_OBS_", "OTEL_"))}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def _default_text(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return _code(str(value).lower())
    if isinstance(value, dict):
        return "`{}`" if not value else _code(",".join(f"{k}={v}" for k, v in value.items()))
    return _code(value)


def settings_rows() -> list[list[str]]:
    from service_obs import settings as st

    types = {f.name: f.type for f in dataclasses.fields(st.ObservabilitySettings)}
    rows = []
    with _clean_environment():
        for name, (default, _parse) in st._SPEC.items():  # noqa: SLF001 - the settings' own table
            value = default() if callable(default) else default
            doc = _doc(SETTING_DOCS, name, "SETTING_DOCS")
            rows.append([_code(name), _code(st.ENV_PREFIX + name.upper()), _code(types.get(name, "?")),
                         _default_text(value), _fill(doc, st) if doc else MISSING])
    return rows


def render_settings_table() -> str:
    header = ["field", "environment variable", "type", "default", "meaning"]
    return "\n".join([
        "<!-- generated by scripts/gen_reference.py from service_obs/settings.py; do not edit by hand -->",
        _table(header, settings_rows()),
    ])


def _settings() -> str:
    otel = [[", ".join(_code(v.strip()) for v in names.split(",")), meaning] for names, meaning in OTEL_ENV_DOCS]
    return "\n".join([
        "## Settings: `ObservabilitySettings`",
        "",
        "Explicit arguments > `AGENT_OBS_<FIELD>` environment variables > defaults. A bad value in code raises "
        "`ValueError`; a bad environment value warns once and uses the default. Booleans accept "
        "`true/false/1/0/yes/no/on/off`; mappings accept `k=v,k2=v2`.",
        "",
        _table(["field", "environment variable", "type", "default", "meaning"], settings_rows()),
        "",
        "### Standard OpenTelemetry variables",
        "",
        _table(["variable", "used for"], otel),
        "",
        f"`AgentObserver` on its own reads one variable: `{sc.ENV_CAPTURE_CONTENT}` (when `capture_content=None`). "
        f"The trace file's default path is `{sc.DEFAULT_TRACE_FILE}` (`{sc.ENV_TRACE_FILE}`).",
    ])


def _observer() -> str:
    from agent_obs import AgentObserver

    rows = []
    for param in list(inspect.signature(AgentObserver.__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        default = param.default
        if callable(default):
            shown = _code(f"{default.__module__}.{default.__qualname__}")
        else:
            shown = _code(repr(default))
        kind = "keyword-only" if param.kind is param.KEYWORD_ONLY else "positional or keyword"
        rows.append([_code(param.name), shown, kind, _doc(OBSERVER_DOCS, param.name, "OBSERVER_DOCS") or MISSING])
    return "\n".join([
        "## `AgentObserver` options",
        "",
        "```python\nfrom agent_obs import AgentObserver\nobserver = AgentObserver(...)\n"
        "graph.invoke(inputs, config={\"callbacks\": [observer]})\n```",
        "",
        _table(["argument", "default", "kind", "meaning"], rows),
        "",
        "An argument of the wrong type raises `TypeError` at construction, naming it and what it expects "
        "(`AgentObserver(registry=...) expects a prometheus_client CollectorRegistry ...`); so does an "
        "`ObservabilitySettings` field given in code (`SettingsTypeError`, also a `ValueError`). With no "
        "`tracer_provider` and no global provider set, the first observer of a process logs one warning through "
        "stdlib `logging` (logger `agent_obs`) naming the fix (`setup_observability(...).observer()`, "
        "`tracer_provider=`, or `opentelemetry.trace.set_tracer_provider`); its spans appear once a global "
        "provider is set.",
    ])


def _example_settings() -> str:
    from agent_obs_example import settings as es

    defaults = es.OptimizerSettings()
    rows = []
    for f in dataclasses.fields(es.OptimizerSettings):
        rows.append([_code(f.name), _code(es.ENV_PREFIX + f.name.upper()), _code(f.type),
                     _default_text(getattr(defaults, f.name)),
                     _doc(EXAMPLE_SETTING_DOCS, f.name, "EXAMPLE_SETTING_DOCS") or MISSING])
    return "\n".join([
        "## Settings: the example optimizer service",
        "",
        "`agent_obs_example/settings.py` (`OptimizerSettings.from_env`), read by `agent-obs demo` and "
        "`agent-obs serve` next to `ObservabilitySettings`.",
        "",
        _table(["field", "environment variable", "type", "default", "meaning"], rows),
    ])


def _cli() -> str:
    from agent_obs import cli

    parser = cli._build_parser()  # noqa: SLF001 - the CLI's own definition
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    helps = {choice.dest: choice.help for choice in sub._choices_actions}  # noqa: SLF001
    rows = []
    commands = []  # (name, help), nested subcommands ("stack export") flattened
    pending = [(name, subparser, helps.get(name, "")) for name, subparser in sub.choices.items()]
    while pending:
        name, subparser, help_text = pending.pop(0)
        nested = next((a for a in subparser._actions if isinstance(a, argparse._SubParsersAction)), None)  # noqa: SLF001
        if nested is not None:
            nested_helps = {c.dest: c.help for c in nested._choices_actions}  # noqa: SLF001
            pending[:0] = [(f"{name} {n}", p, nested_helps.get(n, "")) for n, p in nested.choices.items()]
            continue
        commands.append((name, help_text))
        for action in subparser._actions:  # noqa: SLF001
            if isinstance(action, argparse._HelpAction):  # noqa: SLF001
                continue
            flag = ", ".join(action.option_strings) or action.dest.upper()
            default = "" if action.default in (None, False) or not action.option_strings else _code(action.default)
            meaning = action.help or _doc(CLI_DOCS, flag, "CLI_DOCS") or MISSING
            rows.append([_code(f"agent-obs {name}"), _code(flag), default, meaning])
    width = max(len(name) for name, _ in commands)
    usage = "\n".join(f"agent-obs {name:<{width}} {help_text}" for name, help_text in commands)
    return "\n".join([
        "## Command line",
        "",
        "```text\n" + usage + "\n```",
        "",
        _table(["command", "argument", "default", "meaning"], rows),
        "",
        "Errors a user can fix (bad file, unknown trace id, unreachable server) print one line to stderr and "
        "exit non-zero, without a traceback.",
    ])


def _template(text: str) -> str:
    """Alertmanager's ``{{ $labels.x }}`` / ``{{ $value }}`` shown as ``<x>`` / ``<value>``."""
    return re.sub(r"\{\{\s*\$(?:labels\.)?(\w+)[^}]*\}\}", r"`<\1>`", text)


def _alerts() -> str:
    import yaml

    rows = []
    for path in sorted((ROOT / "prometheus" / "rules").glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                anchor = rule["alert"].lower()
                rows.append([f"[{rule['alert']}](runbooks.md#{anchor})", rule["labels"].get("severity", ""),
                             rule.get("for", "0m"), _template(rule["annotations"].get("summary", "")),
                             _code(f"prometheus/rules/{path.name}")])
    return "\n".join([
        "## Alert rules",
        "",
        "Every alert carries the scrape target's `service` label; each links to its runbook.",
        "",
        _table(["alert", "severity", "for", "summary", "file"], rows),
    ])


def _dashboards() -> str:
    out = ["## Dashboards and the queries behind each panel", "",
           "Generated into `grafana/dashboards/` by `grafana/dashgen/`, provisioned into the Grafana folder "
           "\"agent-obs\". `$service`, `$agent`, `$model`, `$node` are the dashboards' variables; "
           "`$__rate_interval` is Grafana's."]
    for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text(encoding="utf-8"))
        out += ["", f"### {dash['title']} (`{path.name}`)"]
        panels = []
        for panel in dash["panels"]:
            panels.append(panel)
            panels.extend(panel.get("panels", []))
        for panel in panels:
            targets = panel.get("targets", [])
            if not targets:
                continue
            out += ["", f"**{panel['title']}**", ""]
            for target in targets:
                ds = target.get("datasource", {}).get("type")
                lang = {"prometheus": "promql", "loki": "logql", "tempo": "traceql"}.get(ds, "text")
                query = target.get("query") if lang == "traceql" else target.get("expr")
                out.append(f"```{lang}\n{query}\n```")
    return "\n".join(out)


def render_reference() -> str:
    _undescribed.clear()
    sections = [
        "# Reference",
        "",
        "<!-- generated by scripts/gen_reference.py; do not edit by hand: change the code (or the script's "
        "descriptions) and run `python scripts/gen_reference.py` -->",
        "",
        "Every name below comes from the code: `agent_obs/semconv.py`, `service_obs/settings.py`, "
        "`AgentObserver`, `service_obs/*.py`, `agent_obs_example/`, `prometheus/rules/` and "
        "`grafana/dashboards/`. The test suite fails when this file differs from what the code defines.",
        "",
        "Contents: [spans](#spans) · [span attributes](#span-attributes) · [metrics](#metrics-agent_obs) · "
        "[service metrics](#metrics-service_obs) · [example metrics](#metrics-the-example-optimizer-service) · "
        "[log events](#log-events) · [settings](#settings-observabilitysettings) · "
        "[observer options](#agentobserver-options) · [example settings](#settings-the-example-optimizer-service) · "
        "[command line](#command-line) · [alert rules](#alert-rules) · "
        "[dashboards](#dashboards-and-the-queries-behind-each-panel)",
        "",
        _spans(), "", _attributes(), "", _agent_metrics(), "", _service_metrics(), "", _example_metrics(), "",
        _logs(), "", _settings(), "", _observer(), "", _example_settings(), "", _cli(), "", _alerts(), "",
        _dashboards(), "",
    ]
    return "\n".join(sections)


def undescribed() -> list[str]:
    """Names the code defines that the tables above do not describe (after a render)."""
    render_reference()
    render_settings_table()
    return sorted(_undescribed)


def splice_readme(readme: str, table: str) -> str:
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md lacks the {README_START} ... {README_END} markers")
    return readme[: start + len(README_START)] + "\n" + table + "\n" + readme[end:]


def outputs(root: Path) -> dict[Path, str]:
    """Each generated file under ``root`` and the text it should have."""
    readme = root / "README.md"
    return {
        root / "docs" / "reference.md": render_reference(),
        readme: splice_readme(readme.read_text(encoding="utf-8"), render_settings_table()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs(args.root).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for name in sorted(_undescribed):
        sys.stderr.write(f"gen_reference: no description for {name}\n")
    if stale:
        for path in stale:
            sys.stderr.write(f"gen_reference: {path} is stale; run `python scripts/gen_reference.py`\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
