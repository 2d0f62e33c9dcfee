// Parse queries with the real grammars Grafana and Prometheus ship (Lezer).
// stdin: JSON array of {"lang": "logql"|"traceql"|"promql", "query": "..."}
// stdout: JSON array, one object per query in the same order:
//   {"ok": bool, "error": string|null}
//   plus, for PromQL: "metrics" (metric names in vector selectors) and "boolified" (the query
//   with `bool` after every comparison operator, so a threshold expression returns its
//   underlying values instead of filtering them away).
import { parser as logql } from "@grafana/lezer-logql";
import { parser as traceql } from "@grafana/lezer-traceql";
import { parser as promql } from "@prometheus-io/lezer-promql";

const parsers = { logql, traceql, promql };
const COMPARISONS = new Set(["Gtr", "Lss", "Gte", "Lte", "Eql", "Neq"]);

function check(lang, query) {
  const p = parsers[lang];
  if (!p) return { ok: false, error: `unknown language ${lang}` };
  const tree = p.parse(query);
  let error = null;
  const metrics = [];
  const inserts = [];
  tree.iterate({
    enter(ref) {
      if (error === null && ref.type.isError) {
        error = `syntax error at ${ref.from}: ...${query.slice(Math.max(0, ref.from - 30), ref.from + 30)}...`;
      }
      if (lang !== "promql") return;
      const parent = ref.node.parent;
      if (ref.name === "Identifier" && parent && parent.name === "VectorSelector") {
        metrics.push(query.slice(ref.from, ref.to));
      }
      if (COMPARISONS.has(ref.name) && parent && parent.name === "BinaryExpr") {
        const next = ref.node.nextSibling;
        if (!(next && next.name === "BoolModifier")) inserts.push(ref.to);
      }
    },
  });
  const result = { ok: error === null, error };
  if (lang === "promql") {
    let boolified = query;
    for (const pos of inserts.sort((a, b) => b - a)) {
      boolified = boolified.slice(0, pos) + " bool" + boolified.slice(pos);
    }
    result.metrics = [...new Set(metrics)];
    result.boolified = boolified;
  }
  return result;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const items = JSON.parse(input);
  process.stdout.write(JSON.stringify(items.map((i) => check(i.lang, i.query))));
});
