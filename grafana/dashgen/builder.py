"""Small builders for Grafana dashboard JSON (schema 39, Grafana 10/11) as plain dicts.

Panels are laid out left to right on Grafana's 24-column grid and wrap when a row is full,
so a dashboard module lists panels in reading order with their width and height only.
Queries reference datasources through template variables (``${datasource}``, ``${loki}``,
``${tempo}``), so the dashboards work with any datasource uids.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 39
GRID_WIDTH = 24

PROMETHEUS = {"type": "prometheus", "uid": "${datasource}"}
LOKI = {"type": "loki", "uid": "${loki}"}
TEMPO = {"type": "tempo", "uid": "${tempo}"}

Panel = dict[str, Any]


# --- template variables ----------------------------------------------------------------
def datasource_var(name: str, ds_type: str, label: str, default_uid: str) -> dict[str, Any]:
    """A datasource picker; ``default_uid`` is the uid the provisioning file gives it."""
    return {
        "name": name,
        "label": label,
        "type": "datasource",
        "query": ds_type,
        "current": {"selected": False, "text": label, "value": default_uid},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
        "skipUrlSync": False,
    }


def label_var(name: str, label: str, metric_selector: str, label_name: str,
              all_value: str = ".*") -> dict[str, Any]:
    """A multi-value Prometheus label variable; "All" becomes ``all_value`` in queries."""
    query = f"label_values({metric_selector}, {label_name})"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": all_value,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
        "skipUrlSync": False,
    }


# --- targets ---------------------------------------------------------------------------
def prom(expr: str, legend: str = "", *, instant: bool = False, exemplar: bool = False,
         fmt: str = "time_series") -> dict[str, Any]:
    """A PromQL query; ``fmt="heatmap"`` for bucket heatmaps, ``"table"`` for tables."""
    return {
        "datasource": PROMETHEUS,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "exemplar": exemplar,
        "format": fmt,
        "editorMode": "code",
    }


def loki(expr: str) -> dict[str, Any]:
    """A LogQL log query."""
    return {"datasource": LOKI, "expr": expr, "queryType": "range", "editorMode": "code"}


def traceql(query: str, limit: int = 20) -> dict[str, Any]:
    """A TraceQL search shown as a table of traces."""
    return {
        "datasource": TEMPO,
        "queryType": "traceql",
        "query": query,
        "limit": limit,
        "tableType": "traces",
    }


# --- panels ----------------------------------------------------------------------------
def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    """``thresholds((None, "green"), (0.05, "orange"), (0.1, "red"))``."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


OK_ONLY = thresholds((None, "green"))


def panel(kind: str, title: str, targets: list[dict[str, Any]], *, w: int, h: int,
          description: str, unit: str = "short", threshold: dict[str, Any] | None = None,
          options: dict[str, Any] | None = None, custom: dict[str, Any] | None = None,
          datasource: dict[str, str] = PROMETHEUS, extra_defaults: dict[str, Any] | None = None,
          ) -> Panel:
    """One panel; ``id`` and ``gridPos.x/y`` are filled in by :func:`dashboard`."""
    defaults: dict[str, Any] = {"unit": unit, "thresholds": threshold or OK_ONLY}
    if custom:
        defaults["custom"] = custom
    if extra_defaults:
        defaults.update(extra_defaults)
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": {"h": h, "w": w, "x": 0, "y": 0},
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
    }


def timeseries(title: str, targets: list[dict[str, Any]], *, unit: str, description: str,
               w: int = 12, h: int = 8, threshold: dict[str, Any] | None = None,
               stack: bool = False, bars: bool = False) -> Panel:
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    if threshold is not None:
        custom["thresholdsStyle"] = {"mode": "line"}
    return panel(
        "timeseries", title, targets, w=w, h=h, unit=unit, description=description,
        threshold=threshold, custom=custom,
        options={"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"],
                            "showLegend": True},
                 "tooltip": {"mode": "multi", "sort": "desc"}},
    )


def stat(title: str, target: dict[str, Any], *, unit: str, description: str, w: int = 6,
         h: int = 5, threshold: dict[str, Any] | None = None, decimals: int | None = None) -> Panel:
    extra = {"decimals": decimals} if decimals is not None else None
    return panel(
        "stat", title, [target], w=w, h=h, unit=unit, description=description, threshold=threshold,
        extra_defaults=extra,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                 "textMode": "auto", "orientation": "auto"},
    )


def gauge(title: str, target: dict[str, Any], *, unit: str, description: str, w: int = 6,
          h: int = 5, threshold: dict[str, Any] | None = None, minimum: float = 0,
          maximum: float | None = None) -> Panel:
    extra: dict[str, Any] = {"min": minimum}
    if maximum is not None:
        extra["max"] = maximum
    return panel(
        "gauge", title, [target], w=w, h=h, unit=unit, description=description,
        threshold=threshold, extra_defaults=extra,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "showThresholdLabels": False, "showThresholdMarkers": True},
    )


def bargauge(title: str, target: dict[str, Any], *, unit: str, description: str, w: int = 12,
             h: int = 8, threshold: dict[str, Any] | None = None) -> Panel:
    return panel(
        "bargauge", title, [target], w=w, h=h, unit=unit, description=description,
        threshold=threshold,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )


def heatmap(title: str, target: dict[str, Any], *, unit: str, description: str, w: int = 12,
            h: int = 8) -> Panel:
    return panel(
        "heatmap", title, [target], w=w, h=h, unit=unit, description=description,
        options={"calculate": False, "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges",
                                                              "exponent": 0.5, "steps": 64},
                 "yAxis": {"unit": unit, "axisPlacement": "left"},
                 "rowsFrame": {"layout": "auto"}, "tooltip": {"mode": "single", "yHistogram": True},
                 "exemplars": {"color": "rgba(255,0,255,0.7)"}},
    )


def traces_table(title: str, target: dict[str, Any], *, description: str, w: int = 24,
                 h: int = 9) -> Panel:
    return panel("table", title, [target], w=w, h=h, description=description, datasource=TEMPO,
                 options={"showHeader": True, "cellHeight": "sm"})


def logs(title: str, target: dict[str, Any], *, description: str, w: int = 24,
         h: int = 10) -> Panel:
    return panel("logs", title, [target], w=w, h=h, description=description, datasource=LOKI,
                 options={"showTime": True, "wrapLogMessage": True, "prettifyLogMessage": False,
                          "enableLogDetails": True, "sortOrder": "Descending",
                          "dedupStrategy": "none"})


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": [],
            "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": 0}}


# --- dashboard -------------------------------------------------------------------------
def _layout(panels: list[Panel]) -> list[Panel]:
    x = y = row_height = 0
    laid = []
    for pid, p in enumerate(panels, start=1):
        p = dict(p, id=pid)
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if p["type"] == "row" or x + w > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        row_height = max(row_height, h)
        if p["type"] == "row":
            x, y, row_height = 0, y + h, 0
        laid.append(p)
    return laid


def dashboard(uid: str, title: str, description: str, variables: list[dict[str, Any]],
              panels: list[Panel], *, tags: list[str], links: list[dict[str, Any]] | None = None,
              time_from: str = "now-6h") -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["agent-obs", *tags],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": links if links is not None else [
            {"type": "dashboards", "tags": ["agent-obs"], "asDropdown": True, "title": "agent-obs",
             "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
             "tooltip": "", "url": ""}
        ],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "templating": {"list": variables},
        "panels": _layout(panels),
    }
