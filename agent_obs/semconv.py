"""The shared vocabulary: span names, attribute keys, metric names, buckets, log fields.

Everything that users type into TraceQL, PromQL or LogQL is spelled here once. Dashboards,
alert rules, docs and tests check against this module, so a rename breaks a test instead of
a dashboard in production. GenAI keys follow the OpenTelemetry GenAI semantic conventions;
they are copied as strings because the SDK keeps them in a private ``_incubating`` path.
"""

from __future__ import annotations

from typing import Final

# --- instrumentation scope -------------------------------------------------------------
SCOPE_NAME: Final = "agent_obs"

# --- span names (format strings) -------------------------------------------------------
SPAN_INVOKE_AGENT: Final = "invoke_agent {agent}"
SPAN_NODE: Final = "node {node}"
SPAN_CHAT: Final = "chat {model}"
SPAN_TEXT_COMPLETION: Final = "text_completion {model}"
SPAN_EXECUTE_TOOL: Final = "execute_tool {tool}"
SPAN_RETRIEVAL: Final = "retrieval {name}"

# --- run kinds: what a run (and the span it becomes) is, in the run table and in replay -------
KIND_AGENT: Final = "agent"
KIND_NODE: Final = "node"
KIND_LLM: Final = "llm"
KIND_TOOL: Final = "tool"
KIND_RETRIEVAL: Final = "retrieval"
KIND_CHAIN: Final = "chain"  # plumbing (routers, sequences inside a node): never a span
KIND_OTHER: Final = "other"  # in replay: a span agent_obs did not make (HTTP, SQL, user spans)

# --- operation names (gen_ai.operation.name values) ------------------------------------
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_RETRIEVAL: Final = "retrieval"

# --- GenAI attribute keys --------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
# content (only with capture_content on)
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
ERROR_TYPE: Final = "error.type"
EXCEPTION_TYPE: Final = "exception.type"  # on the span's exception event; same value as error.type

# --- LangGraph attribute keys ----------------------------------------------------------
LANGGRAPH_NODE: Final = "langgraph.node"
LANGGRAPH_STEP: Final = "langgraph.step"
LANGGRAPH_TRIGGERS: Final = "langgraph.triggers"
LANGGRAPH_CHECKPOINT_NS: Final = "langgraph.checkpoint_ns"
LANGGRAPH_ATTEMPT: Final = "langgraph.attempt"
LANGGRAPH_INTERRUPTED: Final = "langgraph.interrupted"
LANGGRAPH_STEPS: Final = "langgraph.steps"
LANGGRAPH_RESUMED: Final = "langgraph.resumed"
# the link from a resumed run's agent span to the span of the run it resumes
LINK_TYPE: Final = "agent_obs.link.type"
LINK_RESUMED_FROM: Final = "resumed_from"
# router decision, recorded as a span event on the node span
EVENT_ROUTE: Final = "langgraph.route"
ROUTE_NAME: Final = "langgraph.route.name"
ROUTE_DESTINATIONS: Final = "langgraph.route.destinations"

# handoff: a node returned Command(graph=Command.PARENT, goto=...) (the handoff tools of
# langgraph-supervisor and langgraph-swarm do); an event and an attribute on that node's span
EVENT_HANDOFF: Final = "langgraph.handoff"
HANDOFF_DESTINATIONS: Final = "langgraph.handoff.destinations"
LANGGRAPH_HANDOFF_DESTINATION: Final = "langgraph.handoff.destination"

# --- agent_obs attribute keys ----------------------------------------------------------
# on the span of a node (or tool) that runs a named sub-agent, next to its gen_ai.agent.name
AGENT_PARENT: Final = "agent_obs.agent.parent"
AGENT_ROOT: Final = "agent_obs.agent.root"
USAGE_ESTIMATED: Final = "agent_obs.usage.estimated"
# how an estimated count was made: a tiktoken encoding name, or "chars/4" while it loads
USAGE_ESTIMATOR: Final = "agent_obs.usage.estimator"
COST_USD: Final = "agent_obs.cost.usd"
COST_UNKNOWN_MODEL: Final = "agent_obs.cost.unknown_model"
OUTCOME: Final = "agent_obs.outcome"
# graph input/output on the invoke_agent span (content capture only), for replay
GRAPH_INPUT: Final = "agent_obs.graph.input"
GRAPH_OUTPUT: Final = "agent_obs.graph.output"
CONTENT_TRUNCATED_SUFFIX: Final = ".original_length"

# --- outcomes --------------------------------------------------------------------------
OUTCOME_OK: Final = "ok"
OUTCOME_ERROR: Final = "error"
OUTCOME_INTERRUPTED: Final = "interrupted"
OUTCOME_CANCELLED: Final = "cancelled"
OUTCOMES: Final = (OUTCOME_OK, OUTCOME_ERROR, OUTCOME_INTERRUPTED, OUTCOME_CANCELLED)

# --- metric names (Prometheus exposition names) ----------------------------------------
# prometheus_client appends _total to counters and _bucket/_sum/_count to histograms; the
# names below are the family names as written in the exposition.
METRIC_OPERATION_DURATION: Final = "gen_ai_client_operation_duration_seconds"
METRIC_TOKEN_USAGE: Final = "gen_ai_client_token_usage"
METRIC_TIME_TO_FIRST_CHUNK: Final = "gen_ai_client_operation_time_to_first_chunk_seconds"
METRIC_TOOL_DURATION: Final = "gen_ai_execute_tool_duration_seconds"
METRIC_AGENT_DURATION: Final = "gen_ai_invoke_agent_duration_seconds"
METRIC_RUNS: Final = "agent_obs_runs_total"
METRIC_NODE_DURATION: Final = "agent_obs_node_duration_seconds"
METRIC_NODE_RETRIES: Final = "agent_obs_node_retries_total"
METRIC_INTERRUPTS: Final = "agent_obs_interrupts_total"
METRIC_RUN_STEPS: Final = "agent_obs_run_steps"
METRIC_ACTIVE_RUNS: Final = "agent_obs_active_runs"
METRIC_LLM_COST: Final = "agent_obs_llm_cost_usd_total"
METRIC_HANDLER_ERRORS: Final = "agent_obs_handler_errors_total"
METRIC_ABANDONED_RUNS: Final = "agent_obs_abandoned_runs_total"
METRIC_DROPPED: Final = "agent_obs_dropped_total"
METRIC_HANDOFFS: Final = "agent_obs_handoffs_total"
METRIC_LLM_TOKENS: Final = "agent_obs_llm_tokens_total"

# agent_obs_abandoned_runs_total kinds: open past run_ttl_seconds, or past max_open_runs
ABANDONED_TTL: Final = "ttl"
ABANDONED_CAP: Final = "cap"
ABANDONED_KINDS: Final = (ABANDONED_TTL, ABANDONED_CAP)

# metric label names
LABEL_OPERATION: Final = "gen_ai_operation_name"
LABEL_PROVIDER: Final = "gen_ai_provider_name"
LABEL_REQUEST_MODEL: Final = "gen_ai_request_model"
LABEL_ERROR_TYPE: Final = "error_type"
LABEL_TOKEN_TYPE: Final = "gen_ai_token_type"
LABEL_AGENT_NAME: Final = "gen_ai_agent_name"
LABEL_TOOL_NAME: Final = "gen_ai_tool_name"
LABEL_AGENT: Final = "agent"
LABEL_STATUS: Final = "status"
LABEL_NODE: Final = "node"
LABEL_CALLBACK: Final = "callback"
LABEL_KIND: Final = "kind"
LABEL_SIGNAL: Final = "signal"
LABEL_REASON: Final = "reason"
LABEL_DESTINATION: Final = "destination"
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
OTHER_LABEL_VALUE: Final = "_other"

# Bucket boundaries from the GenAI semantic conventions (metrics spec, "advice").
BUCKETS_OPERATION_DURATION: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
BUCKETS_TOKEN_USAGE: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
BUCKETS_TIME_TO_FIRST_CHUNK: Final = BUCKETS_OPERATION_DURATION
BUCKETS_TOOL_DURATION: Final = BUCKETS_OPERATION_DURATION
BUCKETS_AGENT_DURATION: Final = (
    0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6,
)
BUCKETS_NODE_DURATION: Final = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)
BUCKETS_RUN_STEPS: Final = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89)

# Every metric: name -> (type, labels, help). Sinks, dashboards, docs and tests read this.
METRICS: Final = {
    METRIC_OPERATION_DURATION: (
        "histogram",
        (LABEL_OPERATION, LABEL_PROVIDER, LABEL_REQUEST_MODEL, LABEL_ERROR_TYPE),
        "Duration of GenAI client operations (LLM calls).",
    ),
    METRIC_TOKEN_USAGE: (
        "histogram",
        (LABEL_OPERATION, LABEL_PROVIDER, LABEL_REQUEST_MODEL, LABEL_TOKEN_TYPE),
        "Tokens used per GenAI client operation, by token type.",
    ),
    METRIC_TIME_TO_FIRST_CHUNK: (
        "histogram",
        (LABEL_OPERATION, LABEL_PROVIDER, LABEL_REQUEST_MODEL),
        "Time from request to the first streamed chunk of a GenAI client operation.",
    ),
    METRIC_TOOL_DURATION: (
        "histogram",
        (LABEL_AGENT_NAME, LABEL_TOOL_NAME, LABEL_ERROR_TYPE),
        "Duration of tool executions.",
    ),
    METRIC_AGENT_DURATION: (
        "histogram",
        (LABEL_AGENT_NAME, LABEL_ERROR_TYPE),
        "Duration of agent invocations: top-level runs and named sub-agents' graph runs.",
    ),
    METRIC_RUNS: ("counter", (LABEL_AGENT, LABEL_STATUS), "Top-level agent runs by outcome."),
    METRIC_NODE_DURATION: (
        "histogram",
        (LABEL_AGENT, LABEL_NODE, LABEL_STATUS),
        "Duration of graph node executions (each attempt).",
    ),
    METRIC_NODE_RETRIES: ("counter", (LABEL_AGENT, LABEL_NODE), "Node attempts after the first."),
    METRIC_INTERRUPTS: (
        "counter",
        (LABEL_AGENT, LABEL_NODE),
        "Interrupts (interrupt() calls that paused a run), counted once at the node that called it.",
    ),
    METRIC_HANDOFFS: (
        "counter",
        (LABEL_AGENT, LABEL_NODE, LABEL_DESTINATION),
        "Handoffs: a node returned Command(graph=Command.PARENT), by destination.",
    ),
    METRIC_RUN_STEPS: ("histogram", (LABEL_AGENT,), "Graph steps (node executions) per run."),
    METRIC_ACTIVE_RUNS: ("gauge", (LABEL_AGENT,), "Top-level agent runs in progress."),
    METRIC_LLM_COST: (
        "counter",
        (LABEL_AGENT, LABEL_REQUEST_MODEL),
        "Estimated LLM cost in US dollars from the price table.",
    ),
    METRIC_LLM_TOKENS: (
        "counter",
        (LABEL_AGENT, LABEL_REQUEST_MODEL, LABEL_TOKEN_TYPE),
        "LLM tokens by the agent (top-level or sub-agent) that made the call.",
    ),
    METRIC_HANDLER_ERRORS: (
        "counter",
        (LABEL_CALLBACK,),
        "Exceptions swallowed inside agent_obs callbacks.",
    ),
    METRIC_ABANDONED_RUNS: (
        "counter",
        (LABEL_KIND,),
        "Runs force-ended because they never ended (TTL or run-table cap).",
    ),
    METRIC_DROPPED: (
        "counter",
        (LABEL_SIGNAL, LABEL_REASON),
        "Telemetry dropped (queue full, payload too large, backend rejected).",
    ),
}

METRIC_BUCKETS: Final = {
    METRIC_OPERATION_DURATION: BUCKETS_OPERATION_DURATION,
    METRIC_TOKEN_USAGE: BUCKETS_TOKEN_USAGE,
    METRIC_TIME_TO_FIRST_CHUNK: BUCKETS_TIME_TO_FIRST_CHUNK,
    METRIC_TOOL_DURATION: BUCKETS_TOOL_DURATION,
    METRIC_AGENT_DURATION: BUCKETS_AGENT_DURATION,
    METRIC_NODE_DURATION: BUCKETS_NODE_DURATION,
    METRIC_RUN_STEPS: BUCKETS_RUN_STEPS,
}

# How prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR) merges each gauge over
# worker processes: runs in progress are the sum over the workers alive now. Every gauge
# in METRICS has an entry (a test checks it).
METRIC_MULTIPROCESS_MODES: Final = {
    METRIC_ACTIVE_RUNS: "livesum",
}

# --- service metrics (service_obs: FastAPI server, outbound HTTP, SQLAlchemy) ------------------
METRIC_HTTP_SERVER_REQUESTS: Final = "http_server_requests_total"
METRIC_HTTP_SERVER_DURATION: Final = "http_server_request_duration_seconds"
METRIC_HTTP_CLIENT_DURATION: Final = "http_client_request_duration_seconds"
METRIC_HTTP_CLIENT_ERRORS: Final = "http_client_errors_total"
METRIC_DB_QUERY_DURATION: Final = "db_query_duration_seconds"
METRIC_DB_CONNECTION_ERRORS: Final = "db_connection_errors_total"

# Every service metric: name -> (type, labels, help), as METRICS; buckets in SERVICE_METRIC_BUCKETS.
SERVICE_METRICS: Final = {
    METRIC_HTTP_SERVER_REQUESTS: ("counter", ("method", "route", "status_code"),
                                  "HTTP requests served, by method, route template (unmatched: a 404) and status code."),
    METRIC_HTTP_SERVER_DURATION: ("histogram", ("method", "route", "status_code"),
                                  "Duration of HTTP requests served, by method, route template and status."),
    METRIC_HTTP_CLIENT_DURATION: ("histogram", ("host", "method", "status_code"),
                                  "Duration of outbound HTTP requests by target host."),
    METRIC_HTTP_CLIENT_ERRORS: ("counter", ("host", "error_type"),
                                "Outbound HTTP requests that failed (status >= 400 or no response), by target host."),
    METRIC_DB_QUERY_DURATION: ("histogram", ("db_system", "operation", "status"),
                               "Duration of database cursor executions."),
    METRIC_DB_CONNECTION_ERRORS: ("counter", ("db_system",), "Failures to connect to the database, and disconnects."),
}
SERVICE_METRIC_BUCKETS: Final = {
    METRIC_HTTP_SERVER_DURATION: (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    METRIC_HTTP_CLIENT_DURATION: (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    METRIC_DB_QUERY_DURATION: (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
}

# --- the worked example's business metrics (agent_obs_example/metrics.py feeds them) -----------
# In the vocabulary because the shipped dashboards and alert rules query them: the stack is
# tested against this module alone. Label values are described in agent_obs_example/metrics.py.
METRIC_OPTIMIZER_REQUESTS: Final = "optimizer_requests_total"
METRIC_OPTIMIZER_DURATION: Final = "optimizer_duration_seconds"
METRIC_ISSUES_DETECTED: Final = "issues_detected_total"
METRIC_RECOMMENDATIONS_GENERATED: Final = "recommendations_generated_total"
METRIC_MEASUREMENTS_RECORDED: Final = "measurements_recorded_total"
METRIC_AVERAGE_IMPROVEMENT: Final = "average_improvement_pct"
METRIC_ACTIVE_OPTIMIZATIONS: Final = "active_optimizations"
METRIC_DREMIO_API_ERRORS: Final = "dremio_api_errors_total"
METRIC_DREMIO_API_REQUESTS: Final = "dremio_api_requests_total"
METRIC_TIME_SAVED: Final = "optimizer_time_saved_seconds_total"
METRIC_RECOMMENDATIONS_DECIDED: Final = "recommendations_decided_total"
METRIC_MEASUREMENTS_BY_ISSUE: Final = "optimizer_measurements_by_issue_total"

# Every example metric: name -> (type, labels, help), as METRICS.
EXAMPLE_METRICS: Final = {
    METRIC_OPTIMIZER_REQUESTS: ("counter", ("endpoint", "status"), "Optimizer service requests by endpoint and status."),
    METRIC_OPTIMIZER_DURATION: ("histogram", ("operation",), "Optimizer operation duration in seconds."),
    METRIC_ISSUES_DETECTED: ("counter", ("issue_type", "severity"), "Performance issues detected."),
    METRIC_RECOMMENDATIONS_GENERATED: ("counter", ("issue_type",), "Recommendations generated and stored."),
    METRIC_MEASUREMENTS_RECORDED: ("counter", ("meets_expectation",), "Measurements recorded for recommendations."),
    METRIC_AVERAGE_IMPROVEMENT: ("gauge", (), "Average measured improvement percentage over all measurements."),
    METRIC_ACTIVE_OPTIMIZATIONS: ("gauge", (), "Optimizations currently running."),
    METRIC_DREMIO_API_ERRORS: ("counter", ("endpoint", "status_code"), "Failed Dremio API calls."),
    METRIC_DREMIO_API_REQUESTS: ("counter", ("endpoint",), "Dremio API request attempts (success or failure)."),
    METRIC_TIME_SAVED: ("counter", ("issue_type",), "Query time saved by measured recommendations, in seconds."),
    METRIC_RECOMMENDATIONS_DECIDED: ("counter", ("decision",), "High-risk recommendations approved or rejected by a human."),
    METRIC_MEASUREMENTS_BY_ISSUE: ("counter", ("issue_type", "meets_expectation"), "Measurements by issue type and outcome."),
}
EXAMPLE_METRIC_BUCKETS: Final = {
    METRIC_OPTIMIZER_DURATION: (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
}
# How multiprocess mode merges each example gauge over worker processes: running optimizations
# add up over the live workers; the average is computed from the shared database, so the value
# set last by any worker is the current one.
EXAMPLE_METRIC_MULTIPROCESS_MODES: Final = {
    METRIC_ACTIVE_OPTIMIZATIONS: "livesum",
    METRIC_AVERAGE_IMPROVEMENT: "mostrecent",
}

# --- log events and fields (loguru record["extra"]) ------------------------------------
LOG_RUN_START: Final = "agent.run.start"
LOG_RUN_END: Final = "agent.run.end"
LOG_NODE_END: Final = "agent.node.end"
LOG_LLM_END: Final = "agent.llm.end"
LOG_TOOL_END: Final = "agent.tool.end"
LOG_EVENTS: Final = (LOG_RUN_START, LOG_RUN_END, LOG_NODE_END, LOG_LLM_END, LOG_TOOL_END)

FIELD_EVENT: Final = "event"
FIELD_TRACE_ID: Final = "trace_id"
FIELD_SPAN_ID: Final = "span_id"
FIELD_RUN_ID: Final = "run_id"
FIELD_AGENT: Final = "agent"
FIELD_NODE: Final = "node"
FIELD_STEP: Final = "step"
FIELD_MODEL: Final = "model"
FIELD_TOOL: Final = "tool"
FIELD_STATUS: Final = "status"
FIELD_DURATION_MS: Final = "duration_ms"
FIELD_INPUT_TOKENS: Final = "input_tokens"
FIELD_OUTPUT_TOKENS: Final = "output_tokens"
FIELD_ERROR_TYPE: Final = "error_type"
FIELD_ERROR_MESSAGE: Final = "error_message"
FIELD_COST_USD: Final = "cost_usd"
FIELD_THREAD_ID: Final = "thread_id"
FIELD_HANDOFF_TO: Final = "handoff_to"
FIELD_ROOT_AGENT: Final = "root_agent"

# --- environment variables read by agent_obs -------------------------------------------
ENV_CAPTURE_CONTENT: Final = "AGENT_OBS_CAPTURE_CONTENT"
ENV_TRACE_FILE: Final = "AGENT_OBS_TRACE_FILE"
DEFAULT_TRACE_FILE: Final = "telemetry/traces.jsonl"
