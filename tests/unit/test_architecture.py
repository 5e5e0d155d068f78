"""The layout holds: imports run one way, no cycle between modules or packages, small folders.

Every import counts, function-level and ``TYPE_CHECKING`` ones included. A package is a folder;
a module at the ``burstlab/`` root (the client, the settings, ``__main__``) is a node of its own.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("producer", "workers", "sync_baseline")
PACKAGES = (*SERVICES, "burstlab")
SERVICE_MAY_IMPORT = ("burstlab.jobs", "burstlab.telemetry", "burstlab.settings")
"""The shared job model, the metrics plumbing and the settings: all a service takes of the lab."""
LAB_MAY_IMPORT_SERVICES = {
    "burstlab.__main__": "the console script joins each service's own command to the group",
    "burstlab.stack": "the stack's control ping builds its Celery app with the workers' settings",
}
ROOT_MODULES = {"burstlab", "burstlab.__main__", "burstlab.settings", "burstlab.client"}
RUN_KINDS = tuple(
    f"burstlab.experiments.{kind}"
    for kind in ("burst", "sweep", "durations", "settings", "brokers", "autoscale", "monitor")
)
FLOORS = tuple(
    f"burstlab.experiments.{floor}" for floor in ("loadgen", "model", "render", "targets")
)
"""What run kinds are built on: the generator, the model, rendering, the targets."""
BETWEEN_KINDS = {
    ("burstlab.experiments.autoscale", "burstlab.experiments.burst"): (
        "an autoscaled run is the burst run of each mode with the autoscaler watching"
    ),
}
MAX_MODULES = 15


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every project module ``path`` imports, at any depth of its code (not only the top)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _package(module: str, modules: dict[str, Path]) -> str:
    """The folder ``module`` lives in, as a dotted name; a ``burstlab/`` root module itself."""
    folder = modules[module].relative_to(ROOT).parent.parts
    return module if folder == ("burstlab",) else ".".join(folder)


def _package_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, imported in _graph().items():
        source = _package(module, modules)
        targets = {_package(name, modules) for name in imported}
        graph.setdefault(source, set()).update(targets - {source})
    return graph


def _within(name: str, packages: tuple[str, ...] | str) -> bool:
    packages = (packages,) if isinstance(packages, str) else packages
    return any(name == p or name.startswith(p + ".") for p in packages)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path of node names, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for imported in sorted(graph.get(node, ())):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_through_others_even_inside_a_function() -> None:
    # Given every module of the project and what it imports, function-level imports included
    graph = _graph()
    # Then following the imports never leads back to where it started
    assert "producer.keys" in graph["producer.bodies"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_package_imports_itself_through_other_packages() -> None:
    # Given the imports folded to the folders they run between
    graph = _package_graph()
    # Then no folder reaches itself again
    assert "burstlab.experiments.loadgen" in graph["burstlab.experiments.burst"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    # Given a graph a -> b -> c -> a, Then the cycle is reported
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]


def test_services_import_only_the_job_model_telemetry_and_settings_of_the_lab() -> None:
    # Given every import a service module makes outside its own package
    wrong = [
        f"{module} -> {name}"
        for module, imported in _graph().items()
        if _within(module, SERVICES)
        for name in imported
        if not _within(name, module.split(".")[0]) and not _within(name, SERVICE_MAY_IMPORT)
    ]
    # Then it is the shared job model, telemetry or the settings, never the lab or another service
    assert wrong == []


def test_the_lab_imports_no_service_but_where_named() -> None:
    # Given every import from a lab module into a service package
    found = {
        f"{module} -> {name}": module
        for module, imported in _graph().items()
        if _within(module, "burstlab")
        for name in imported
        if _within(name, SERVICES)
    }
    # Then the experiments, the autoscaler, the faults and the commands have none,
    for lab in ("burstlab.experiments", "burstlab.autoscale", "burstlab.faults", "burstlab.cli"):
        assert [edge for edge, module in found.items() if _within(module, lab)] == []
    # and the only others are the named ones
    assert {
        edge
        for edge, module in found.items()
        if not _within(module, tuple(LAB_MAY_IMPORT_SERVICES))
    } == set()
    assert any(module == "burstlab.__main__" for module in found.values())


def test_run_kinds_build_on_the_floors_not_on_each_other() -> None:
    graph = _package_graph()
    # Given the imports between the experiments' packages
    between = {
        (source, target)
        for source in RUN_KINDS
        for target in graph.get(source, ())
        if target in RUN_KINDS
    }
    # Then a run kind imports another only where that is named and said why,
    assert between <= set(BETWEEN_KINDS), between - set(BETWEEN_KINDS)
    # the floors import no run kind, and the scenario language nothing of the experiments
    for floor in FLOORS:
        assert not {t for t in graph.get(floor, ()) if _within(t, RUN_KINDS)}, floor
    scenario = {s: t for s, t in graph.items() if _within(s, "burstlab.scenario")}
    assert not [
        t for targets in scenario.values() for t in targets if _within(t, "burstlab.experiments")
    ]


def test_no_folder_holds_more_than_fifteen_modules() -> None:
    # Given every folder of the project and its modules (``__init__`` not counted)
    counts = Counter(
        path.parent.relative_to(ROOT).as_posix()
        for path in _modules().values()
        if path.name != "__init__.py"
    )
    # Then none holds more than fifteen
    assert counts["producer"] > 5
    assert {folder: n for folder, n in counts.items() if n > MAX_MODULES} == {}


def test_the_burstlab_root_holds_only_the_entry_points_the_settings_and_the_client() -> None:
    # Given the modules directly under burstlab/
    root = {name for name, path in _modules().items() if path.parent == ROOT / "burstlab"}
    # Then they are the package itself, __main__, the settings and the shared client
    assert root == ROOT_MODULES


def test_building_the_command_group_imports_no_service_library() -> None:
    # Given a fresh interpreter that builds the whole `burstlab` group (lab and service commands)
    code = (
        "import sys\n"
        "from burstlab.__main__ import command\n"
        "command()\n"
        "print(' '.join(m for m in ('prometheus_client', 'aiohttp', 'celery', 'redis', 'rich')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    # Then nothing heavy was imported: a service sets up its metrics before prometheus_client
    # is imported, and a command's help answers at once
    assert done.stdout.strip() == ""
