"""Every TraceQL, LogQL and PromQL example in docs/ parses with the real grammars (the ones
Grafana and Prometheus ship, via tests/stack/parsers) and uses only names the code defines."""

from __future__ import annotations

import re

from docs_helpers import REPO, grafana_values, query_blocks, runnable

RESOURCE_ATTRIBUTES = {"service.name", "service.version", "deployment.environment.name", "deployment.environment"}
LOKI_STREAM_LABELS = {"service", "environment", "level"}
LOG_LINE_KEYS = {"time", "level", "message", "logger", "function", "line", "exception"}


def _parsed(doc_blocks):
    from stack_helpers import parse_queries

    values = grafana_values()
    items = [(lang, runnable(body, values)) for _, _, lang, body in doc_blocks]
    return list(zip(doc_blocks, parse_queries(items)))


def test_docs_have_examples_in_every_language(doc_blocks):
    counts = {lang: sum(1 for b in doc_blocks if b[2] == lang) for lang in ("promql", "logql", "traceql")}
    assert counts["traceql"] >= 10 and counts["logql"] >= 8 and counts["promql"] >= 60, counts


def test_every_query_block_parses(doc_blocks):
    bad = [f"{path}:{line} [{lang}] {res['error']}" for (path, line, lang, _), res in _parsed(doc_blocks)
           if not res["ok"]]
    assert not bad, "\n".join(bad)


def test_a_broken_block_is_caught(tmp_path):
    """The extraction and the parse can fail: a typo in a docs block is reported with its line."""
    from stack_helpers import parse_queries

    page = tmp_path / "page.md"
    page.write_text("intro\n\n```traceql\n{ span.gen_ai.operation.name = }\n```\n\n```promql\nsum(rate(x[5m])\n```\n")
    blocks = query_blocks([page])
    assert [(b[1], b[2]) for b in blocks] == [(3, "traceql"), (7, "promql")]
    assert [r["ok"] for r in parse_queries([(b[2], b[3]) for b in blocks])] == [False, False]


def _span_attribute_values() -> set[str]:
    import gen_reference

    return {value for _, value in gen_reference.attribute_constants()}


def test_traceql_uses_only_vocabulary_attributes(doc_blocks):
    known = _span_attribute_values()
    unknown = []
    for path, line, lang, body in doc_blocks:
        if lang != "traceql":
            continue
        for scope, name in re.findall(r"\b(span|resource)\.([\w.]+)", body):
            ok = name in known if scope == "span" else name in RESOURCE_ATTRIBUTES
            if not ok:
                unknown.append(f"{path}:{line} {scope}.{name}")
    assert not unknown, unknown


def _log_names() -> set[str]:
    import gen_reference
    from agent_obs import semconv as sc

    names = {v for k, v in vars(sc).items() if k.startswith("FIELD_") and isinstance(v, str)}
    names |= LOKI_STREAM_LABELS | LOG_LINE_KEYS | {"event_type"}
    for _, _, fields in gen_reference.example_log_events():
        names |= set(fields)
    return names


def test_logql_uses_only_stream_labels_and_logged_fields(doc_blocks):
    import gen_reference
    from agent_obs import semconv as sc

    known = _log_names()
    events = set(sc.LOG_EVENTS) | {e for e, _, _ in gen_reference.example_log_events()}
    problems = []
    for path, line, lang, body in doc_blocks:
        if lang != "logql":
            continue
        query = re.sub(r'"(?:[^"\\]|\\.)*"', '""', body)  # names only, not values
        selectors = re.findall(r"\{([^{}]*)\}", query)
        used = {m for sel in selectors for m in re.findall(r"(\w+)\s*=~?", sel)}
        used |= set(re.findall(r"\|\s*(\w+)\s*(?:=~|!=|!~|>=|<=|=|>|<)", query))
        used |= set(re.findall(r"unwrap\s+(\w+)", query))
        used |= {n.strip() for grp in re.findall(r"\bby\s*\(([^)]*)\)", query) for n in grp.split(",")}
        used |= set(re.findall(r"\{\{\s*\.(\w+)\s*\}\}", body))
        for name in sorted(used - known):
            problems.append(f"{path}:{line} unknown label or field {name!r}")
        for value in re.findall(r'\bevent(?:_type)?="([^"]+)"', body):
            if value not in events:
                problems.append(f"{path}:{line} unknown event {value!r}")
    assert not problems, "\n".join(problems)


def test_runbook_and_guide_env_vars_exist():
    """Every AGENT_OBS_* variable the docs mention is a real setting of the package or the example."""
    import dataclasses

    from agent_obs import semconv as sc
    from agent_obs_example.settings import OptimizerSettings
    from service_obs.settings import ObservabilitySettings

    real = {f"AGENT_OBS_{f.name.upper()}" for f in dataclasses.fields(ObservabilitySettings)}
    real |= {f"AGENT_OBS_{f.name.upper()}" for f in dataclasses.fields(OptimizerSettings)}
    real |= {v for k, v in vars(sc).items() if k.startswith("ENV_")}
    # the real-server test's binaries (docs/running-the-stack.md tells how to give them)
    servers_test = (REPO / "tests" / "stack" / "test_stack_servers.py").read_text(encoding="utf-8")
    real |= set(re.findall(r'os\.environ\.get\("(AGENT_OBS_[A-Z0-9_]+)"\)', servers_test))
    # and Prometheus 3 / the current Alertmanager's (stack_helpers.CURRENT_ENV)
    helpers = (REPO / "tests" / "stack" / "stack_helpers.py").read_text(encoding="utf-8")
    real |= set(re.findall(r'"(AGENT_OBS_[A-Z0-9_]+_BIN)"', helpers))
    texts = {p: p.read_text(encoding="utf-8") for p in sorted((REPO / "docs").glob("*.md"))}
    unknown = {(p.name, v) for p, t in texts.items() for v in re.findall(r"AGENT_OBS_[A-Z0-9_]*[A-Z0-9]", t) if v not in real}
    assert not unknown, sorted(unknown)
