"""The guide's pages hold together: links and anchors resolve, every page is reachable from the
index and the README, configuration examples parse, the compose table matches the compose file,
and every runbook section has what an on-call engineer needs."""

from __future__ import annotations

import re
from urllib.parse import unquote

import yaml

from docs_helpers import DOCS, REPO, anchors, doc_files, fenced_blocks, links

GUIDE_PAGES = ["getting-started.md", "running-the-stack.md", "cookbook.md", "privacy.md", "troubleshooting.md"]


def _check_links(path, text):
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    broken = []
    for target in links(text):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not checked offline
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{where}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{where}: {target} (no such anchor)")
    return broken


def test_links_and_anchors_resolve():
    broken = []
    for path in [*doc_files(), REPO / "README.md"]:
        broken += _check_links(path, path.read_text(encoding="utf-8"))
    assert not broken, "\n".join(broken)


def test_the_link_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Real heading\n")
    text = "[a](other.md#real-heading) [b](other.md#nope) [c](missing.md) `[d](in-code.md)`"
    assert _check_links(page, text) == ["page.md: other.md#nope (no such anchor)",
                                        "page.md: missing.md (no such file)"]


def test_every_page_is_reachable_from_the_index_and_the_readme():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in [*GUIDE_PAGES, "reference.md", "runbooks.md"]:
        assert (DOCS / page).exists(), page
        assert f"]({page})" in index, f"docs/README.md does not link {page}"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "](docs/README.md)" in readme


def test_github_anchor_rules():
    text = "# Metrics: agent_obs\n## `AgentObserver` options\n## Same\n## Same\n```\n# not a heading\n```\n"
    assert anchors(text) == {"metrics-agent_obs", "agentobserver-options", "same", "same-1"}


def test_yaml_examples_parse():
    bad = []
    for path in doc_files():
        for line, lang, body in fenced_blocks(path.read_text(encoding="utf-8")):
            if lang in ("yaml", "yml"):
                try:
                    yaml.safe_load(body)
                except yaml.YAMLError as exc:
                    bad.append(f"{path.name}:{line}: {exc}")
    assert not bad, "\n".join(bad)


def test_collector_section_describes_the_shipped_policies():
    """The guide points at collector/ (tested against real spans) and names each policy in it."""
    text = (DOCS / "running-the-stack.md").read_text(encoding="utf-8")
    shipped = yaml.safe_load((REPO / "collector" / "otel-collector.yaml").read_text(encoding="utf-8"))
    assert "`collector/otel-collector.yaml`" in text and "`collector/otel-collector-loadbalancer.yaml`" in text
    for policy in shipped["processors"]["tail_sampling"]["policies"]:
        assert f"`{policy['name']}` (`{policy['type']}" in text, policy["name"]


def test_compose_table_matches_the_compose_file():
    compose = yaml.safe_load((REPO / "docker-compose.observability.yml").read_text(encoding="utf-8"))
    text = (DOCS / "running-the-stack.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| (\S+) \| `[^`]+` \|.*$", text, re.M)}
    assert set(rows) == set(compose["services"]), "the services table must list exactly the compose services"
    for name, service in compose["services"].items():
        row = rows[name]
        assert f"`{service['image']}`" in row, name
        for port in service.get("ports", []):
            assert port.split(":")[0] + ":" + port.split(":")[1] in row, (name, port)


def test_every_runbook_has_meaning_checks_causes_and_fix():
    text = (DOCS / "runbooks.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    assert sections
    for section in sections:
        name = section.splitlines()[0]
        for part in ("**Means:**", "**First checks:**", "**Likely causes:**", "**Fix:**"):
            assert part in section, f"runbook {name} lacks {part}"
        assert name.lower() in anchors(text)
