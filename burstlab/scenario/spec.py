"""Scenarios: the job mix, arrival pattern and limits of an experiment, read from TOML."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from burstlab.scenario.arrivals import (
    Arrival,
    BurstArrival,
    PoissonArrival,
    RampArrival,
    SineArrival,
    SteadyArrival,
    Step,
    StepArrival,
    parse_arrival,
)
from burstlab.scenario.autoscale import AutoscalePolicy, parse_autoscale
from burstlab.scenario.fields import ScenarioError, Table, show
from burstlab.scenario.sweep import (
    DurationSweepArrival,
    SweepArrival,
    check_step_holds_jobs,
)
from burstlab.scenario.target import TargetSpec, parse_target
from burstlab.scenario.thresholds import Thresholds
from burstlab.scenario.worker_settings import KIND as WORKER_SETTINGS
from burstlab.scenario.worker_settings import Matrix, parse_matrix

__all__ = [
    "Arrival",
    "BurstArrival",
    "JobMix",
    "PoissonArrival",
    "RampArrival",
    "Scenario",
    "ScenarioError",
    "SineArrival",
    "SteadyArrival",
    "Step",
    "StepArrival",
    "list_scenarios",
    "load_scenario",
    "loads_scenario",
    "parse_scenario",
]

SCENARIO_PACKAGE = "burstlab.scenario.builtin"
KINDS = ("io", "cpu")
MODES = ("sync", "async")
SCENARIO_KINDS = ("burst", WORKER_SETTINGS)
"""``burst``: a schedule sent to each mode and worker count; ``worker-settings``: bursts under
a matrix of Celery settings (:mod:`burstlab.experiments.settings.run`)."""
DURATION_SWEEP = "duration-sweep"
DISTRIBUTIONS = ("fixed", "exponential", "uniform", "lognormal")
# The producer accepts durations from 0 to this (jobs.spec.MAX_DURATION_MS).
MAX_DURATION_MS = 60_000.0


@dataclass(frozen=True)
class JobMix:
    """One kind of job in the mix; ``duration_ms`` is the mean for random distributions.

    ``uniform`` draws from [``min_ms``, ``max_ms``] (``duration_ms`` is their mean);
    ``lognormal`` has shape ``sigma`` and mean ``duration_ms``.
    """

    kind: str
    duration_ms: float
    weight: float = 1.0
    distribution: str = "fixed"
    min_ms: float | None = None
    max_ms: float | None = None
    sigma: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A complete experiment definition; every run of it uses the same schedule (same seed)."""

    name: str
    description: str
    jobs: tuple[JobMix, ...]
    arrival: Arrival
    thresholds: Thresholds = field(default_factory=Thresholds)
    workers: tuple[int, ...] = (1, 2, 4)
    modes: tuple[str, ...] = MODES
    seed: int = 1
    drain_timeout_s: float = 60.0
    timeout_s: float = 30.0
    autoscale: AutoscalePolicy | None = None
    kind: str = "burst"
    matrix: Matrix | None = None
    """The settings matrix of a ``worker-settings`` scenario."""
    target: TargetSpec | None = None
    """The user's task the jobs run instead of the job mix, or None."""

    @property
    def mean_duration_ms(self) -> float:
        """Weighted mean job duration of the mix."""
        total = sum(job.weight for job in self.jobs)
        return sum(job.weight * job.duration_ms for job in self.jobs) / total


def _job(data: object, where: str) -> JobMix:
    keys = ("kind", "duration_ms", "weight", "distribution", "min_ms", "max_ms", "sigma")
    table = Table(data, where, keys)
    kind = table.choice("kind", KINDS)
    distribution = table.choice("distribution", DISTRIBUTIONS, default="fixed")
    weight = table.number("weight", above=0, default=1.0)
    extras = {"uniform": ("min_ms", "max_ms"), "lognormal": ("sigma",)}.get(distribution, ())
    for key, owner in (("min_ms", "uniform"), ("max_ms", "uniform"), ("sigma", "lognormal")):
        if table.has(key) and key not in extras:
            raise table.fail(key, f'only allowed with distribution "{owner}"')
    if distribution == "uniform":
        if table.has("duration_ms"):
            raise table.fail(
                "duration_ms", 'not allowed with distribution "uniform" (use min_ms, max_ms)'
            )
        low = table.number("min_ms", at_least=0)
        high = table.number("max_ms", above=low)
        if high > MAX_DURATION_MS:
            raise table.fail("max_ms", f"must be a number > min_ms and <= {MAX_DURATION_MS:g}")
        return JobMix(kind, (low + high) / 2, weight, distribution, min_ms=low, max_ms=high)
    duration = table.number("duration_ms", above=0)
    if duration > MAX_DURATION_MS:
        raise table.fail("duration_ms", f"must be a number > 0 and <= {MAX_DURATION_MS:g}")
    sigma = table.number("sigma", above=0) if distribution == "lognormal" else None
    return JobMix(kind, duration, weight, distribution, sigma=sigma)


def _duration_sweep_jobs(data: object, arrival: DurationSweepArrival) -> tuple[JobMix, ...]:
    """The one ``[[job]]`` of a duration sweep: its kind only (default io); each step sets the
    duration from ``arrival.durations_ms``."""
    if data is None:
        return (JobMix("io", arrival.durations_ms[-1]),)
    if not isinstance(data, list) or len(data) != 1:
        raise ScenarioError(
            'job: with arrival.pattern "duration-sweep", one [[job]] table giving the kind, '
            f"got {show(data)}"
        )
    table = Table(data[0], "job[0]", ("kind", "duration_ms"))
    if table.has("duration_ms"):
        raise table.fail(
            "duration_ms",
            'not used with arrival.pattern "duration-sweep" (arrival.durations_ms sets it)',
        )
    return (JobMix(table.choice("kind", KINDS, default="io"), arrival.durations_ms[-1]),)


def _thresholds(data: object) -> Thresholds:
    keys = (
        "async_accept_p99_ms",
        "max_lost",
        "max_rejected",
        "max_drain_error",
        "min_async_speedup_4v1",
        "slo_p99_ms",
        "completion_p99_ms",
    )
    table = Table(data, "thresholds", keys)
    return Thresholds(
        async_accept_p99_ms=table.optional_number("async_accept_p99_ms", above=0),
        max_lost=table.optional_integer("max_lost", at_least=0),
        max_rejected=table.optional_integer("max_rejected", at_least=0),
        max_drain_error=table.optional_number("max_drain_error", above=0),
        min_async_speedup_4v1=table.optional_number("min_async_speedup_4v1", above=0),
        slo_p99_ms=table.optional_number("slo_p99_ms", above=0),
        completion_p99_ms=table.optional_number("completion_p99_ms", above=0),
    )


def _int_list(table: Table, key: str, default: list[Any]) -> tuple[int, ...]:
    values = table.array(key, default=default)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise table.fail(key, "must be an array of integers >= 1")
    return tuple(values)


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Build a scenario from a parsed TOML document; ScenarioError names the first bad field."""
    keys = (
        "name", "description", "seed", "workers", "modes", "drain_timeout_s", "timeout_s",
        "job", "arrival", "thresholds", "autoscale", "kind", "matrix", "target",
    )  # fmt: skip
    table = Table(data, "", keys)
    kind = table.choice("kind", SCENARIO_KINDS, default="burst")
    if kind == WORKER_SETTINGS:
        return _worker_settings(table, data)
    if "matrix" in data:
        raise table.fail("matrix", f'only allowed with kind = "{WORKER_SETTINGS}"')
    if isinstance(data.get("arrival"), dict) and data["arrival"].get("pattern") == DURATION_SWEEP:
        arrival = parse_arrival(data["arrival"])
        assert isinstance(arrival, DurationSweepArrival)
        jobs = _duration_sweep_jobs(data.get("job"), arrival)
    else:
        jobs = tuple(_job(item, f"job[{i}]") for i, item in enumerate(table.array("job")))
        if "arrival" not in data:
            raise ScenarioError("arrival: required table with a pattern")
        arrival = parse_arrival(data["arrival"])
    modes = table.array("modes", default=list(MODES))
    if not all(mode in MODES for mode in modes):
        raise table.fail("modes", 'must be an array of "sync" and/or "async"')
    scenario = Scenario(
        name=table.string("name"),
        description=table.string("description", default="-"),
        jobs=jobs,
        arrival=arrival,
        thresholds=_thresholds(data.get("thresholds", {})),
        workers=_int_list(table, "workers", [1, 2, 4]),
        modes=tuple(modes),
        seed=table.integer("seed", at_least=0, default=1),
        drain_timeout_s=table.number("drain_timeout_s", above=0, default=60.0),
        timeout_s=table.number("timeout_s", above=0, default=30.0),
        autoscale=parse_autoscale(data["autoscale"]) if "autoscale" in data else None,
    )
    check_sweep(scenario)
    if "target" in data:
        scenario = run_task(scenario, parse_target(data["target"]))
    return scenario


def run_task(scenario: Scenario, target: TargetSpec) -> Scenario:
    """The scenario with its job mix replaced by the user's task (one ``task`` job per send)."""
    return dataclasses.replace(scenario, jobs=(JobMix("task", 0.0),), target=target)


def check_sweep(scenario: Scenario, field: str = "arrival.step_s") -> None:
    """Refuse a fixed sweep step too short for one job per worker at the nominal job length."""
    arrival = scenario.arrival
    if isinstance(arrival, SweepArrival) and arrival.step_s is not None:
        for workers in scenario.workers:
            check_step_holds_jobs(
                arrival.step_s,
                arrival.rho,
                scenario.mean_duration_ms / 1000,
                workers,
                warmup_fraction=arrival.warmup_fraction,
                field=field,
            )


def _worker_settings(table: Table, data: dict[str, Any]) -> Scenario:
    for key in ("job", "arrival", "modes", "thresholds"):
        if key in data:
            raise table.fail(key, f'not used with kind = "{WORKER_SETTINGS}" (see [matrix])')
    workers = _int_list(table, "workers", [4])
    if len(workers) != 1 or workers[0] < 2:
        raise table.fail("workers", "must be one worker process count >= 2 (two replicas)")
    matrix = parse_matrix(data.get("matrix", {}), workers[0])
    return Scenario(
        name=table.string("name"),
        description=table.string("description", default="-"),
        jobs=(JobMix("io", matrix.io_ms),),
        arrival=BurstArrival(size=matrix.io_jobs, at_s=0.0, duration_s=0.0),
        workers=workers,
        modes=("async",),
        seed=table.integer("seed", at_least=0, default=1),
        kind=WORKER_SETTINGS,
        matrix=matrix,
    )


def loads_scenario(text: str, source: str = "<string>") -> Scenario:
    """Parse scenario TOML; errors start with ``source`` (and the line, for syntax errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        line = f":{match.group(1)}" if match else ""
        raise ScenarioError(f"{source}{line}: invalid TOML: {exc}") from exc
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from exc


def list_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``burstlab/scenario/builtin``."""
    files = resources.files(SCENARIO_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Load a shipped scenario by name (``burst``) or a user file by path (``my.toml``)."""
    path = Path(name_or_path)
    is_name = path.suffix != ".toml" and len(path.parts) == 1
    if is_name and name_or_path in list_scenarios():
        resource = resources.files(SCENARIO_PACKAGE).joinpath(f"{name_or_path}.toml")
        return loads_scenario(resource.read_text(encoding="utf-8"), f"{name_or_path}.toml")
    if is_name and not path.exists():
        shipped = ", ".join(list_scenarios())
        raise ScenarioError(f'unknown scenario "{name_or_path}"; shipped: {shipped}')
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror or exc}") from exc
    return loads_scenario(text, str(path))
