"""What the monitoring config asks of Prometheus: every query of every dashboard and rule file.

Tests evaluate all of them against a real Prometheus; the panel renderer draws from them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _monitoring_dir() -> Path:
    """The Prometheus and Grafana configuration: inside an installed wheel, else in the checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "monitoring"
    return installed if installed.is_dir() else package.parent / "monitoring"


MONITORING_DIR = _monitoring_dir()
"""The ``monitoring/`` folder (Prometheus and Grafana configuration): package data in a wheel, the
repository's root folder in a checkout."""
DASHBOARDS_DIR = MONITORING_DIR / "grafana" / "dashboards"
RULES_DIR = MONITORING_DIR / "prometheus" / "rules"
DATASOURCES_DIR = MONITORING_DIR / "grafana" / "provisioning" / "datasources"
GRAFANA_RANGE = "$__range"
"""The one variable a dashboard query may use: Grafana's dashboard time range, in the range
selector of an instant query (a sweep step averaged over its samples within the range)."""
EVALUATION_RANGE = "15m"
"""What ``$__range`` becomes when a query is evaluated outside Grafana (tests, the renderer)."""
STEP_METRICS = ("burstlab_experiment_step_info", "step:")
"""Series that exist only while a sweep step runs (and the recording rules built on them)."""


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it is used."""

    source: str
    """``dashboard file: panel title`` or ``rule file: rule name``."""
    expr: str
    legend: str = ""
    alert: bool = False
    instant: bool = False
    """An instant query (one value per series: a table row), not a range query."""

    @property
    def per_step(self) -> bool:
        """Whether it has data only during (or, over a range, after) a sweep step."""
        return any(name.startswith(STEP_METRICS) for name in metric_names(self.expr))


def load_dashboard(path: Path) -> dict[str, Any]:
    """Read one dashboard JSON file."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def dashboard_paths(folder: Path = DASHBOARDS_DIR) -> list[Path]:
    """Every dashboard JSON file, sorted."""
    return sorted(folder.glob("*.json"))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside rows included."""
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def evaluable(expr: str, range_window: str = EVALUATION_RANGE) -> str:
    """``expr`` as Prometheus can evaluate it: Grafana's ``$__range`` replaced by a window."""
    return expr.replace(GRAFANA_RANGE, range_window)


def dashboard_queries(path: Path, range_window: str = EVALUATION_RANGE) -> list[Query]:
    """The PromQL of every panel target and Prometheus annotation of a dashboard, with
    ``$__range`` replaced by ``range_window``."""
    dashboard = load_dashboard(path)
    queries = [
        Query(
            f"{path.name}: {panel.get('title')}",
            evaluable(target["expr"], range_window),
            target.get("legendFormat", ""),
            instant=bool(target.get("instant")),
        )
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            queries.append(
                Query(f"{path.name}: annotation {annotation['name']}", annotation["expr"])
            )
    return queries


def rule_queries(folder: Path = RULES_DIR) -> list[Query]:
    """The expression of every recording and alerting rule."""
    import yaml

    queries = []
    for path in sorted(folder.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("record") or rule["alert"]
                queries.append(Query(f"{path.name}: {name}", rule["expr"], alert="alert" in rule))
    return queries


def recorded_names(folder: Path = RULES_DIR) -> set[str]:
    """The metric names recording rules produce."""
    return {q.source.split(": ", 1)[1] for q in rule_queries(folder) if not q.alert}


def datasource_uids(folder: Path = DATASOURCES_DIR) -> set[str]:
    """The uids of the provisioned datasources."""
    import yaml

    uids = set()
    for path in sorted(folder.glob("*.yml")):
        for source in yaml.safe_load(path.read_text()).get("datasources", []):
            uids.add(source["uid"])
    return uids


_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile"}
)
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"bool", "offset", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords and labels left out)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LIST.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group(1)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS or name in _AGGREGATIONS:
            continue
        names.add(name)
    return names
