"""XY chart panels: Grafana 11.3+ options, which the SDK's 11.4 schema does not model, as JSON."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import xychart
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.xychart import ScatterShow

from burstlab.dashboards.panels import (
    GRAFANA_VERSION,
    Built,
    Target,
    datasource,
    override,
    queries,
    scale,
)


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
        .targets(queries(targets))
        .transformations(
            [
                model.DataTransformerConfig(id_val=name, options=opts)
                for name, opts in transformations
            ]
        )
        .unit(y_unit)
        .show(ScatterShow.POINTS_AND_LINES if lines else ScatterShow.POINTS)
        .point_size(common_builders.ScaleDimensionConfig().fixed(6).min(1).max(20))
        .scale_distribution(scale(y_log))
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
