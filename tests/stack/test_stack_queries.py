"""Every dashboard and rule query parses with the real grammars and uses known metric names.

PromQL, LogQL and TraceQL are parsed with the Lezer grammars Prometheus and Grafana ship
(@prometheus-io/lezer-promql, @grafana/lezer-logql, @grafana/lezer-traceql, pinned in
parsers/package.json), after Grafana's variable substitution. Metric names are checked
against the vocabulary modules, so a rename fails here rather than on a dashboard.
"""

from __future__ import annotations

import re

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
                        q["query"].replace("$$__tags", 'service="optimizer-agent"')
                        .replace('$${__span.tags["service.name"]}', "optimizer-agent")))
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


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def test_promql_avoids_what_prometheus_3_changed():
    """Debian's Prometheus 2.42 runs these in CI and the compose file pins 3.x, so no query may
    use a construct whose meaning differs between them (docs/running-the-stack.md, "Prometheus
    2.x and 3.x"): no holt_winters/double_exponential_smoothing (renamed in 3.0), no matcher on
    `le`/`quantile` values (3.0 normalises them to floats), hand-written ranges of at least four
    scrape intervals (3.0's left-open ranges drop a sample exactly on the left edge), regex
    matchers only from Grafana variables (3.0's `.` also matches a newline; our label values
    have none), and legacy metric names (3.0 accepts UTF-8 names, which 2.x cannot query).
    """
    scrape = 15  # prometheus/prometheus.yml's scrape_interval, in seconds
    cfg = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    assert cfg["global"]["scrape_interval"] == f"{scrape}s"
    queries = [(w, q) for w, lang, q in _all_queries() if lang == "promql"]
    assert len(queries) > 60
    problems = []
    for where, q in queries:
        if re.search(r"holt_winters|double_exponential_smoothing", q):
            problems.append(f"{where}: holt_winters/double_exponential_smoothing")
        if re.search(r"\b(le|quantile)\s*(=|!=|=~|!~)\s*\"", q):
            problems.append(f"{where}: matches le/quantile values")
        for window in re.findall(r"\[(\d+)([smhd])(?::[^\]]*)?\]", q):
            if int(window[0]) * _DURATION[window[1]] < 4 * scrape:
                problems.append(f"{where}: range [{''.join(window)}] under four scrape intervals")
        for value in re.findall(r'=~\s*"([^"]*)"', q):
            if value not in (".+", ".*"):
                problems.append(f"{where}: hand-written regex {value!r}")
    results = parse_queries([("promql", q) for _, q in queries])
    for (where, _), res in zip(queries, results):
        problems += [f"{where}: non-legacy name {n!r}" for n in res["metrics"]
                     if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", n)]
    assert not problems, "\n".join(problems)
