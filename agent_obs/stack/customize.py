"""The export options: the user's service name, scrape target and datasource uids.

The shipped files name the worked example (service ``optimizer-agent`` scraped at
``optimizer:8000``) and Grafana datasource uids ``prometheus``, ``loki`` and ``tempo``. An
option replaces exactly those values, in the files that carry them, as text edits so that
comments and layout survive. Each edit must find what it replaces: a shipped file that no
longer has it raises :class:`StackError` instead of exporting a stack that silently ignored
the option.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent_obs.errors import StackError

DEFAULT_SERVICE = "optimizer-agent"
DEFAULT_TARGET = "optimizer:8000"
DATASOURCE_TYPES = ("prometheus", "loki", "tempo")

PROMETHEUS_YML = "prometheus/prometheus.yml"
COMPOSE = "docker-compose.observability.yml"
DATASOURCES = "grafana/provisioning/datasources/datasources.yaml"
DASHBOARDS = "grafana/dashboards/"

_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_TARGET = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})")
_UID = re.compile(r"[a-zA-Z0-9_-]{1,40}")  # Grafana's uid rule


@dataclass(frozen=True)
class StackOptions:
    """What to change in the exported stack; ``None`` keeps the shipped value."""

    service_name: str | None = None
    scrape_target: str | None = None
    prometheus_uid: str | None = None
    loki_uid: str | None = None
    tempo_uid: str | None = None

    def __post_init__(self) -> None:
        if self.service_name is not None and not _SERVICE.fullmatch(self.service_name):
            raise StackError(f"--service-name {self.service_name!r}: use letters, digits, '.', '_' "
                             "and '-' (at most 63, starting with a letter or digit)")
        if self.scrape_target is not None:
            match = _TARGET.fullmatch(self.scrape_target)
            if not match or not 0 < int(match.group(1)) < 65536:
                raise StackError(f"--scrape-target {self.scrape_target!r}: expected HOST:PORT, "
                                 "for example host.docker.internal:8000")
        for kind in DATASOURCE_TYPES:
            uid = self.uid(kind)
            if uid is not None and not _UID.fullmatch(uid):
                raise StackError(f"--{kind}-uid {uid!r}: a Grafana uid is 1-40 letters, digits, '-' or '_'")

    def uid(self, kind: str) -> str | None:
        return getattr(self, f"{kind}_uid")


def customize(rel: str, data: bytes, options: StackOptions) -> bytes:
    """The file ``rel`` as exported with ``options`` (unchanged bytes when nothing applies)."""
    if rel == PROMETHEUS_YML:
        return _prometheus(data.decode(), options).encode()
    if rel == COMPOSE and options.service_name:
        return _replace(rel, data.decode(), r"^(\s*AGENT_OBS_SERVICE_NAME:\s*)" + re.escape(DEFAULT_SERVICE) + r"[ \t]*$",
                        options.service_name).encode()
    if rel == DATASOURCES:
        return _datasources(data.decode(), options).encode()
    if rel.startswith(DASHBOARDS) and rel.endswith(".json"):
        return _dashboard(data, options)
    return data


def _replace(rel: str, text: str, pattern: str, value: str) -> str:
    new, count = re.subn(pattern, lambda m: m.group(1) + value, text, flags=re.M)
    if count == 0:
        raise StackError(f"the shipped {rel} has nothing matching {pattern!r} to replace; "
                         "export without that option and edit the file by hand")
    return new


def _prometheus(text: str, options: StackOptions) -> str:
    if options.service_name:
        name = re.escape(DEFAULT_SERVICE)
        text = _replace(PROMETHEUS_YML, text, rf"^(\s*-?\s*job_name:\s*){name}[ \t]*$", options.service_name)
        text = _replace(PROMETHEUS_YML, text, rf"^(\s*service:\s*){name}[ \t]*$", options.service_name)
    if options.scrape_target:
        text = _replace(PROMETHEUS_YML, text, r'(")' + re.escape(DEFAULT_TARGET) + r'(?=")', options.scrape_target)
    return text


def _datasources(text: str, options: StackOptions) -> str:
    for kind in DATASOURCE_TYPES:
        uid = options.uid(kind)
        if uid:
            text = _replace(DATASOURCES, text, rf"^(\s*(?:-\s*)?(?:uid|datasourceUid):\s*){kind}[ \t]*$", uid)
    return text


def _dashboard(data: bytes, options: StackOptions) -> bytes:
    """Datasource template variables default to the chosen uids; panels keep ``${var}``."""
    wanted = {kind: options.uid(kind) for kind in DATASOURCE_TYPES if options.uid(kind)}
    if not wanted:
        return data
    dashboard = json.loads(data)
    changed = False
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "datasource" and var.get("query") in wanted:
            var.setdefault("current", {})["value"] = wanted[var["query"]]
            changed = True
    if not changed:
        return data
    return (json.dumps(dashboard, indent=2, sort_keys=True) + "\n").encode()
