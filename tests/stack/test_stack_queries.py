"""Every dashboard and rule query parses with the real grammars and uses known metric names.

PromQL, LogQL and TraceQL are parsed with the Lezer grammars Prometheus and Grafana ship
(@prometheus-io/lezer-promql, @grafana/lezer-logql, @grafana/lezer-traceql, pinned in
parsers/package.json), after Grafana's variable substitution. Metric names are checked
against the vocabulary modules, so a rename fails here rather than on a dashboard.
"""

from __future__ import annotations

import yaml

from stack_helpers import REPO, alert_rules, dashboard_queries, parse_queries
from stack_vocabulary import known_metric_names


def _rule_and_provisioning_queries() -> list[tuple[str, str, str]]:
    out = [(f"rule {r['alert']}", "promql", r["expr"]) for r in alert_rules()]
    provisioned = yaml.safe_load(
        (REPO / "grafana" / "provisioning" / "datasources" / "datasources.yaml").read_text())
    for ds in provisioned["datasources"]:
        for q in ds.get("jsonData", {}).get("tracesToMetrics", {}).get("queries", []):
            # Grafana replaces $__tags with the span's tag matchers; `$$` is provisioning's `$`
            out.append((f"tracesToMetrics {q['name']}", "promql",
                        q["query"].replace("$$__tags", 'service="optimizer-agent"')))
    return out


def _all_queries() -> list[tuple[str, str, str]]:
    dash = [(f"{d}: {title}", lang, q) for d, title, lang, q in dashboard_queries()]
    return dash + _rule_and_provisioning_queries()


def test_every_query_parses_with_the_real_grammar():
    queries = _all_queries()
    langs = {lang for _, lang, _ in queries}
    assert langs == {"promql", "logql", "traceql"}
    results = parse_queries([(lang, q) for _, lang, q in queries])
    bad = [f"{where} [{lang}] {res['error']}" for (where, lang, _), res in zip(queries, results)
           if not res["ok"]]
    assert not bad, "\n".join(bad)


def test_the_parser_rejects_broken_queries():
    """The check can fail: one broken query per language is reported as an error."""
    results = parse_queries([
        ("promql", "sum by (le (rate(x_bucket[5m]))"),
        ("logql", '{service="a" | json'),
        ("traceql", "{ span.gen_ai.operation.name = }"),
    ])
    assert [r["ok"] for r in results] == [False, False, False]


def test_every_metric_name_is_in_the_vocabulary():
    queries = [(w, q) for w, lang, q in _all_queries() if lang == "promql"]
    results = parse_queries([("promql", q) for _, q in queries])
    known = known_metric_names()
    unknown = {}
    used = set()
    for (where, _), res in zip(queries, results):
        used.update(res["metrics"])
        for name in res["metrics"]:
            if name not in known:
                unknown.setdefault(name, []).append(where)
    assert not unknown, f"metric names not defined by agent_obs/service_obs/the example: {unknown}"
    assert len(used) >= 30, sorted(used)


def test_loki_queries_use_the_sink_stream_labels_and_json_fields():
    from agent_obs import semconv as sc

    logql = [q for _, lang, q in _all_queries() if lang == "logql"]
    assert logql
    for q in logql:
        assert q.startswith('{service=~".+"}'), q
        assert "| json" in q and sc.FIELD_EVENT in q


def test_traceql_queries_use_semconv_attributes():
    from agent_obs import semconv as sc

    traceql = [q for _, lang, q in _all_queries() if lang == "traceql"]
    assert traceql
    for q in traceql:
        # agent spans: the top-level invoke_agent span or a sub-agent's, both carry gen_ai.agent.name
        assert f"span.{sc.GEN_AI_AGENT_NAME}" in q, q
