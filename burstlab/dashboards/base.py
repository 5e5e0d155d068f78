"""A burstlab dashboard: its settings, links and annotations (bursts from the runner)."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from burstlab.dashboards.panels import Built, datasource


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
