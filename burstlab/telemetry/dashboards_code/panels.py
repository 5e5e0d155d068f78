"""The few panel shapes burstlab's dashboards use, built with Grafana's SDK.

Every panel names the provisioned Prometheus datasource by its fixed uid, says its resolution in
its description, and shares one style: lines 2 px wide, legends at the bottom, a shared
crosshair. What the SDK's schema for Grafana 11.4 does not model (the Prometheus annotation's
label templates, the XY chart's options since Grafana 11.3) is written as plain JSON objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, statetimeline, timeseries, xychart
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat, QueryEditorMode
from grafana_foundation_sdk.models.xychart import ScatterShow

DATASOURCE_UID = "burstlab-prometheus"
GRAFANA_VERSION = "11.4.0"
"""The Grafana image compose and Kubernetes run (the SDK release is the one for it)."""
REF_IDS = "ABCDEFGHIJ"


def datasource() -> model.DataSourceRef:
    """The provisioned Prometheus, by uid (never by its display name)."""
    return model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)


def at(x: int, y: int, w: int, h: int) -> model.GridPos:
    """A panel's place on the 24-column grid."""
    return model.GridPos(h=h, w=w, x=x, y=y)


@dataclass(frozen=True)
class Target:
    """One PromQL query of a panel: range (a time series) or instant (a table row per series)."""

    expr: str
    legend: str = ""
    instant: bool = False


def _queries(targets: list[Target]) -> list[cogbuilder.Builder[Any]]:
    built: list[cogbuilder.Builder[Any]] = []
    for ref, target in zip(REF_IDS, targets, strict=False):
        query = (
            prometheus.Dataquery()
            .ref_id(ref)
            .datasource(datasource())
            .expr(target.expr)
            .editor_mode(QueryEditorMode.CODE)
        )
        if target.legend:
            query = query.legend_format(target.legend)
        table = target.instant
        built.append(query.instant().format(PromQueryFormat.TABLE) if table else query.range())
    if len(built) != len(targets):
        raise ValueError(f"at most {len(REF_IDS)} targets per panel, got {len(targets)}")
    return built


def _legend(show: bool = True) -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(show)
    )


def _tooltip(mode: common.TooltipDisplayMode, sort: common.SortOrder) -> Any:
    return common_builders.VizTooltipOptions().mode(mode).sort(sort)


def _scale(log: bool) -> common_builders.ScaleDistributionConfig:
    scale = common_builders.ScaleDistributionConfig()
    if log:
        return scale.type(common.ScaleDistribution.LOG).log(10)
    return scale.type(common.ScaleDistribution.LINEAR)


def time_series(
    panel_id: int,
    title: str,
    description: str,
    place: model.GridPos,
    targets: list[Target],
    *,
    unit: str,
    log: bool = False,
    bars: bool = False,
) -> timeseries.Panel:
    """A time-series panel: lines (or stacked bars), from 0 unless on a log axis."""
    panel = (
        timeseries.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .grid_pos(place)
        .datasource(datasource())
        .targets(_queries(targets))
        .unit(unit)
        .draw_style(common.GraphDrawStyle.BARS if bars else common.GraphDrawStyle.LINE)
        .line_width(2)
        .fill_opacity(60 if bars else 10)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .axis_placement(common.AxisPlacement.AUTO)
        .scale_distribution(_scale(log))
        .stacking(
            common_builders.StackingConfig()
            .mode(common.StackingMode.NORMAL if bars else common.StackingMode.NONE)
            .group("A")
        )
        .color_scheme(dashboard_builders.FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC))
        .legend(_legend())
        .tooltip(_tooltip(common.TooltipDisplayMode.MULTI, common.SortOrder.DESCENDING))
    )
    if not log:
        panel = panel.min(0)
    return panel


def override(panel: Any, regexp: str, **properties: object) -> Any:
    """Field properties for the series whose name matches ``regexp`` (keys as Grafana's ids,
    ``__`` for a dot: ``custom__axisPlacement``)."""
    return panel.override_by_regexp(
        regexp,
        [
            model.DynamicConfigValue(id_val=key.replace("__", "."), value=value)
            for key, value in properties.items()
        ],
    )


def state_timeline(
    panel_id: int, title: str, description: str, place: model.GridPos, targets: list[Target]
) -> statetimeline.Panel:
    """A state timeline of info series (one row per series, its legend as the state)."""
    return (
        statetimeline.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .grid_pos(place)
        .datasource(datasource())
        .targets(_queries(targets))
        .color_scheme(
            dashboard_builders.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color("orange")
        )
        .fill_opacity(70)
        .line_width(0)
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.8)
        .align_value(common.TimelineValueAlignment.LEFT)
        .legend(_legend(show=False))
        .tooltip(_tooltip(common.TooltipDisplayMode.SINGLE, common.SortOrder.NONE))
    )


class Built(cogbuilder.Builder[Any]):
    """A model object already built, where the SDK wants a builder."""

    def __init__(self, built: Any) -> None:
        self._built = built

    def build(self) -> Any:
        return self._built


def xy_chart(
    panel_id: int,
    title: str,
    description: str,
    place: model.GridPos,
    targets: list[Target],
    *,
    x_fields: str,
    x_unit: str,
    y_unit: str,
    y_log: bool,
    lines: bool,
    options: dict[str, Any],
    transformations: list[tuple[str, dict[str, Any]]],
) -> Built:
    """An XY chart (Grafana 11.3+ options, given as JSON) over transformed query results:
    the fields matching the regexp ``x_fields`` on a linear axis in ``x_unit``, the others in
    ``y_unit``."""
    panel = (
        xychart.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .grid_pos(place)
        .datasource(datasource())
        .targets(_queries(targets))
        .transformations(
            [
                model.DataTransformerConfig(id_val=name, options=opts)
                for name, opts in transformations
            ]
        )
        .unit(y_unit)
        .show(ScatterShow.POINTS_AND_LINES if lines else ScatterShow.POINTS)
        .point_size(common_builders.ScaleDimensionConfig().fixed(6).min(1).max(20))
        .scale_distribution(_scale(y_log))
    )
    panel = override(
        panel,
        x_fields,
        unit=x_unit,
        custom__scaleDistribution={"type": "linear"},
    )
    built: model.Panel = panel.build()
    built.options = options
    built.plugin_version = GRAFANA_VERSION
    return Built(built)


def xy_series(
    x: str, y: str | None = None, *, name: str = "", frame: int | None = None
) -> dict[str, Any]:
    """One series of an XY chart: field ``x`` against field ``y`` (against every other number
    field when None) of frame ``frame`` (of every frame in the chart's auto mapping)."""
    series: dict[str, Any] = {"name": name} if name else {}
    if frame is not None:
        series["frame"] = {"matcher": {"id": "byIndex", "options": frame}}
    series["x"] = {"matcher": {"id": "byName", "options": x}}
    if y is not None:
        series["y"] = {"matcher": {"id": "byName", "options": y}}
    return series


def xy_options(mapping: str, series: list[dict[str, Any]]) -> dict[str, Any]:
    """The XY chart's options: ``manual`` (one series per entry) or ``auto`` (one per frame)."""
    return {
        "mapping": mapping,
        "series": series,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "single", "sort": "none"},
    }


class PrometheusAnnotation(model.AnnotationQuery):
    """A Prometheus annotation with its label templates (absent from the SDK's model)."""

    def __init__(self, *, title_format: str, text_format: str, tag_keys: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.title_format = title_format
        self.text_format = text_format
        self.tag_keys = tag_keys

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload.update(
            {
                "step": "1s",
                "titleFormat": self.title_format,
                "textFormat": self.text_format,
                "tagKeys": self.tag_keys,
                "useValueForTime": False,
            }
        )
        return payload


def burst_annotations() -> list[cogbuilder.Builder[model.AnnotationQuery]]:
    """Grafana's own annotations, and the runner's bursts marked from the experiment context."""
    grafana = (
        dashboard_builders.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .built_in(1)
    )
    bursts = PrometheusAnnotation(
        name="Bursts",
        datasource=datasource(),
        enable=True,
        hide=False,
        icon_color="rgba(255, 120, 50, 0.35)",
        expr='burstlab_experiment_info{phase="burst"}',
        title_format="burst: {{scenario}}",
        text_format="{{mode}}, {{workers}} workers",
        tag_keys="scenario,mode,workers",
    )
    return [grafana, Built(bursts)]


def dashboard(uid: str, title: str, description: str) -> dashboard_builders.Dashboard:
    """A read-only burstlab dashboard: last 5 min, refreshed every 5 s, bursts annotated,
    linked to the other burstlab dashboards."""
    return (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["burstlab"])
        .timezone("browser")
        .readonly()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .fiscal_year_start_month(0)
        .live_now(False)
        .refresh("5s")
        .version(1)
        .time("now-5m", "now")
        .annotations(burst_annotations())
        .link(
            dashboard_builders.DashboardLink("burstlab dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["burstlab"])
            .as_dropdown(False)
            .include_vars(False)
            .keep_time(True)
            .target_blank(False)
            .icon("external link")
            .tooltip("")
            .url("")
        )
    )
