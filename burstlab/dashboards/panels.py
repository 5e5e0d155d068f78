"""The few panel shapes burstlab's dashboards use, built with Grafana's SDK.

Every panel names the provisioned Prometheus datasource by its fixed uid, says its resolution in
its description, and shares one style: lines 2 px wide, legends at the bottom, a shared
crosshair. XY charts are in :mod:`.xy`, the dashboard's own settings in :mod:`.base`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, statetimeline, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat, QueryEditorMode

DATASOURCE_UID = "burstlab-prometheus"
GRAFANA_VERSION = "11.4.0"
"""The Grafana image compose and Kubernetes run (the SDK release is the one for it)."""
REF_IDS = "ABCDEFGHIJ"


RATE_5S = (
    "Resolution: 1 s scrapes, rates over 5 s windows: a burst shows within a second or two, at "
    "its height if it lasts 5 s or more (a shorter one reads as its jobs / 5 s, for 5 s)."
)
"""What a panel of 5 s rates can show (every dashboard says it the same way)."""
QUANTILES_5S = (
    "Resolution: 1 s scrapes, quantiles of the jobs finished in each 5 s window (no value while "
    "none finish)."
)
SCRAPED = "Resolution: read at each 1 s scrape (what happened between two scrapes is not seen)."


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


def queries(targets: list[Target]) -> list[cogbuilder.Builder[Any]]:
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


def scale(log: bool) -> common_builders.ScaleDistributionConfig:
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
        .targets(queries(targets))
        .unit(unit)
        .draw_style(common.GraphDrawStyle.BARS if bars else common.GraphDrawStyle.LINE)
        .line_width(2)
        .fill_opacity(60 if bars else 10)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .axis_placement(common.AxisPlacement.AUTO)
        .scale_distribution(scale(log))
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
        .targets(queries(targets))
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
