"""Panels, queries, variables and dashboards built with Grafana's own SDK (grafana-foundation-sdk).

Thin factories over the SDK's typed builders, so a dashboard module lists panels in reading
order with their width and height; the SDK lays them out on Grafana's 24-column grid. The SDK
is pinned in pyproject's ``dev`` extra to its build for Grafana 12 (schema version 41): the
committed JSON is what ships, so neither Grafana nor users need the SDK.

Queries reference datasources through template variables (``${datasource}``, ``${loki}``,
``${tempo}``), so the dashboards work with any datasource uids.

What the SDK cannot express is added to the built JSON in one place, :func:`sdk_gaps`.
"""

from __future__ import annotations

from typing import Any, Union

from grafana_foundation_sdk.builders import bargauge as sdk_bargauge
from grafana_foundation_sdk.builders import common as sdk_common
from grafana_foundation_sdk.builders import dashboard as sdk_dashboard
from grafana_foundation_sdk.builders import gauge as sdk_gauge
from grafana_foundation_sdk.builders import heatmap as sdk_heatmap
from grafana_foundation_sdk.builders import logs as sdk_logs
from grafana_foundation_sdk.builders import loki as sdk_loki
from grafana_foundation_sdk.builders import prometheus as sdk_prometheus
from grafana_foundation_sdk.builders import stat as sdk_stat
from grafana_foundation_sdk.builders import table as sdk_table
from grafana_foundation_sdk.builders import tempo as sdk_tempo
from grafana_foundation_sdk.builders import timeseries as sdk_timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as mc
from grafana_foundation_sdk.models import dashboard as md
from grafana_foundation_sdk.models import heatmap as mh
from grafana_foundation_sdk.models import prometheus as mp
from grafana_foundation_sdk.models import tempo as mt

PROMETHEUS = mc.DataSourceRef(type_val="prometheus", uid="${datasource}")
LOKI = mc.DataSourceRef(type_val="loki", uid="${loki}")
TEMPO = mc.DataSourceRef(type_val="tempo", uid="${tempo}")

Panel = Union[Any]  # an SDK panel or row builder
Query = Any  # an SDK query builder


# --- template variables ----------------------------------------------------------------
def datasource_var(name: str, ds_type: str, label: str, default_uid: str) -> Any:
    """A datasource picker; ``default_uid`` is the uid the provisioning file gives it."""
    return (sdk_dashboard.DatasourceVariable(name).label(label).type(ds_type)
            .current(md.VariableOption(selected=False, text=label, value=default_uid))
            .hide(md.VariableHide.DONT_HIDE).regex("").multi(False).include_all(False))


def label_var(name: str, label: str, metric_selector: str, label_name: str, all_value: str = ".*") -> Any:
    """A multi-value Prometheus label variable; "All" becomes ``all_value`` in queries."""
    query = f"label_values({metric_selector}, {label_name})"
    return (sdk_dashboard.QueryVariable(name).label(label).datasource(PROMETHEUS)
            .query({"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"})
            .refresh(md.VariableRefresh.ON_TIME_RANGE_CHANGED).multi(True).include_all(True)
            .all_value(all_value).current(md.VariableOption(selected=True, text=["All"], value=["$__all"]))
            .options([]).regex("").sort(md.VariableSort.ALPHABETICAL_ASC).hide(md.VariableHide.DONT_HIDE))


# --- targets ---------------------------------------------------------------------------
def prom(expr: str, legend: str = "", *, instant: bool = False, exemplar: bool = False,
         fmt: str = "time_series") -> Query:
    """A PromQL query; ``fmt="heatmap"`` for bucket heatmaps, ``"table"`` for tables."""
    query = (sdk_prometheus.Dataquery().datasource(PROMETHEUS).expr(expr).legend_format(legend or "__auto")
             .exemplar(exemplar).format(mp.PromQueryFormat(fmt)).editor_mode(mp.QueryEditorMode.CODE))
    return query.instant() if instant else query.range()


def loki(expr: str) -> Query:
    """A LogQL log query."""
    return (sdk_loki.Dataquery().datasource(LOKI).expr(expr).query_type("range")
            .editor_mode("code"))


def traceql(query: str, limit: int = 20) -> Query:
    """A TraceQL search shown as a table of traces."""
    return (sdk_tempo.TempoQuery().datasource(TEMPO).query_type("traceql").query(query).limit(limit)
            .table_type(mt.SearchTableType.TRACES))


# --- panels ----------------------------------------------------------------------------
def thresholds(*steps: tuple[float | None, str]) -> Any:
    """``thresholds((None, "green"), (0.05, "orange"), (0.1, "red"))``."""
    return (sdk_dashboard.ThresholdsConfig().mode(md.ThresholdsMode.ABSOLUTE)
            .steps([md.Threshold(value=v, color=c) for v, c in steps]))


def OK_ONLY() -> Any:  # noqa: N802 - a constant in spirit; builders are mutable, so made fresh
    return thresholds((None, "green"))


def _common(panel: Any, title: str, targets: list[Query], *, w: int, h: int, description: str,
            unit: str, threshold: Any, datasource: mc.DataSourceRef) -> Any:
    for i, target in enumerate(targets):
        panel = panel.with_target(target.ref_id(chr(ord("A") + i)))
    return (panel.title(title).description(description).datasource(datasource).span(w).height(h)
            .unit(unit).thresholds(threshold or OK_ONLY()))


def timeseries(title: str, targets: list[Query], *, unit: str, description: str, w: int = 12, h: int = 8,
               threshold: Any = None, stack: bool = False, bars: bool = False) -> Any:
    panel = (sdk_timeseries.Panel()
             .draw_style(mc.GraphDrawStyle.BARS if bars else mc.GraphDrawStyle.LINE)
             .line_width(1).fill_opacity(60 if bars else 10).show_points(mc.VisibilityMode.NEVER)
             .span_nulls(False)
             .stacking(sdk_common.StackingConfig()
                       .mode(mc.StackingMode.NORMAL if stack else mc.StackingMode.NONE).group("A"))
             .legend(sdk_common.VizLegendOptions().display_mode(mc.LegendDisplayMode.TABLE)
                     .placement(mc.LegendPlacement.BOTTOM).calcs(["mean", "max"]).show_legend(True))
             .tooltip(sdk_common.VizTooltipOptions().mode(mc.TooltipDisplayMode.MULTI)
                      .sort(mc.SortOrder.DESCENDING)))
    if threshold is not None:
        panel = panel.thresholds_style(sdk_common.GraphThresholdsStyleConfig().mode(mc.GraphThresholdsStyleMode.LINE))
    return _common(panel, title, targets, w=w, h=h, description=description, unit=unit,
                   threshold=threshold, datasource=PROMETHEUS)


def _reduce() -> Any:
    return sdk_common.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def stat(title: str, target: Query, *, unit: str, description: str, w: int = 6, h: int = 5,
         threshold: Any = None, decimals: int | None = None) -> Any:
    panel = (sdk_stat.Panel().reduce_options(_reduce()).color_mode(mc.BigValueColorMode.VALUE)
             .graph_mode(mc.BigValueGraphMode.AREA).justify_mode(mc.BigValueJustifyMode.AUTO)
             .text_mode(mc.BigValueTextMode.AUTO).orientation(mc.VizOrientation.AUTO))
    if decimals is not None:
        panel = panel.decimals(decimals)
    return _common(panel, title, [target], w=w, h=h, description=description, unit=unit,
                   threshold=threshold, datasource=PROMETHEUS)


def gauge(title: str, target: Query, *, unit: str, description: str, w: int = 6, h: int = 5,
          threshold: Any = None, minimum: float = 0, maximum: float | None = None) -> Any:
    panel = (sdk_gauge.Panel().reduce_options(_reduce()).show_threshold_labels(False)
             .show_threshold_markers(True).min(minimum))
    if maximum is not None:
        panel = panel.max(maximum)
    return _common(panel, title, [target], w=w, h=h, description=description, unit=unit,
                   threshold=threshold, datasource=PROMETHEUS)


def bargauge(title: str, target: Query, *, unit: str, description: str, w: int = 12, h: int = 8,
             threshold: Any = None) -> Any:
    panel = (sdk_bargauge.Panel().reduce_options(_reduce()).orientation(mc.VizOrientation.HORIZONTAL)
             .display_mode(mc.BarGaugeDisplayMode.GRADIENT).show_unfilled(True))
    return _common(panel, title, [target], w=w, h=h, description=description, unit=unit,
                   threshold=threshold, datasource=PROMETHEUS)


def heatmap(title: str, target: Query, *, unit: str, description: str, w: int = 12, h: int = 8) -> Any:
    panel = (sdk_heatmap.Panel().calculate(False).cell_gap(1)
             .color(sdk_heatmap.HeatmapColorOptions().mode(mh.HeatmapColorMode.SCHEME).scheme("Oranges")
                    .exponent(0.5).steps(64))
             .y_axis(sdk_heatmap.YAxisConfig().unit(unit).axis_placement(mc.AxisPlacement.LEFT))
             .rows_frame(sdk_heatmap.RowsHeatmapOptions().layout(mc.HeatmapCellLayout.AUTO))
             .mode(mc.TooltipDisplayMode.SINGLE).show_y_histogram()
             .exemplars_color("rgba(255,0,255,0.7)"))
    return _common(panel, title, [target], w=w, h=h, description=description, unit=unit,
                   threshold=None, datasource=PROMETHEUS)


def traces_table(title: str, target: Query, *, description: str, w: int = 24, h: int = 9) -> Any:
    panel = sdk_table.Panel().show_header(True).cell_height(mc.TableCellHeight.SM)
    return _common(panel, title, [target], w=w, h=h, description=description, unit="short",
                   threshold=None, datasource=TEMPO)


def logs(title: str, target: Query, *, description: str, w: int = 24, h: int = 10) -> Any:
    panel = (sdk_logs.Panel().show_time(True).wrap_log_message(True).prettify_log_message(False)
             .enable_log_details(True).sort_order(mc.LogsSortOrder.DESCENDING)
             .dedup_strategy(mc.LogsDedupStrategy.NONE))
    return _common(panel, title, [target], w=w, h=h, description=description, unit="short",
                   threshold=None, datasource=LOKI)


def row(title: str) -> Any:
    return sdk_dashboard.Row(title).collapsed(False)


# --- dashboard -------------------------------------------------------------------------
def dashboard(uid: str, title: str, description: str, variables: list[Any], panels: list[Any], *,
              tags: list[str], links: list[Any] | None = None, time_from: str = "now-6h") -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (a dict), ids numbered in reading order."""
    builder = (sdk_dashboard.Dashboard(title).uid(uid).description(description).tags(["agent-obs", *tags])
               .editable().tooltip(md.DashboardCursorSync.CROSSHAIR).timezone("browser").version(1)
               .refresh("30s").time(time_from, "now").fiscal_year_start_month(0).live_now(False)
               .week_start("").timepicker(sdk_dashboard.TimePicker())
               .annotation(sdk_dashboard.AnnotationQuery().built_in(1).name("Annotations & Alerts")
                           .datasource(mc.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
                           .enable(True).hide(True).icon_color("rgba(0, 211, 255, 1)").type("dashboard")))
    for link in links if links is not None else [
        sdk_dashboard.DashboardLink("agent-obs").type(md.DashboardLinkType.DASHBOARDS).tags(["agent-obs"])
        .as_dropdown(True).include_vars(True).keep_time(True).icon("external link").target_blank(False)
        .tooltip("").url("")
    ]:
        builder = builder.link(link)
    for variable in variables:
        builder = builder.with_variable(variable)
    for pid, panel in enumerate(panels, start=1):
        panel = panel.id(pid)
        builder = builder.with_row(panel) if isinstance(panel, sdk_dashboard.Row) else builder.with_panel(panel)
    return sdk_gaps(JSONEncoder(sort_keys=True).encode(builder.build()))


def sdk_gaps(encoded: str) -> dict[str, Any]:
    """What grafana-foundation-sdk (build for Grafana 12) cannot express, added to its JSON.

    The one place for it: each item names the gap.
    - Query variables: the SDK's VariableModel has no ``definition`` (the query text Grafana's
      variable editor shows); it is copied from the query.
    - Datasource variables: the SDK's DatasourceVariable builder sets neither ``refresh`` nor
      ``options``; they get ``refresh: 1`` (on dashboard load) and ``options: []``, as Grafana
      saves them.
    """
    import json

    model = json.loads(encoded)
    for var in model.get("templating", {}).get("list", []):
        if var.get("type") == "query" and isinstance(var.get("query"), dict):
            var["definition"] = var["query"]["query"]
        if var.get("type") == "datasource":
            var.setdefault("refresh", 1)
            var.setdefault("options", [])
    return model
