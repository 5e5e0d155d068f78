"""``burstlab merge``: shard result folders into one result, as if one generator had run.

Job rows are concatenated (sorted by intended send), so counts, throughput, drain and backlog are
recomputed over every job; latency percentiles come from the sum of the shards' HdrHistograms
(``histograms.json``), never from averaging the shards' percentiles. The merged folder has the
summary.json, jobs.csv and report of a single run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burstlab.experiments.model.histograms import (
    HISTOGRAMS_FILE,
    merged_percentiles,
    read_histograms,
)
from burstlab.experiments.model.prediction import ReplayInputs
from burstlab.experiments.model.records import JobRow, read_jobs_csv, write_jobs_csv
from burstlab.experiments.model.run import finite
from burstlab.experiments.model.stats import run_keys, summarize_run
from burstlab.experiments.model.theory import TheoryInputs
from burstlab.experiments.report import write_report
from burstlab.scenario.thresholds import Thresholds, all_passed, check_thresholds


class MergeError(ValueError):
    """Folders that are not shards of one run."""


@dataclass(frozen=True)
class ShardResult:
    """One shard's folder as read back."""

    folder: Path
    summary: dict[str, Any]
    rows: list[JobRow]
    histograms: dict[tuple[str, int], dict[str, str]]


def read_shard(folder: Path) -> ShardResult:
    """A shard's summary.json, jobs.csv and histograms.json."""
    summary_path = folder / "summary.json"
    histograms_path = folder / HISTOGRAMS_FILE
    for path in (summary_path, folder / "jobs.csv", histograms_path):
        if not path.is_file():
            raise MergeError(f"{folder}: no {path.name} (was it run with --shard?)")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if "shard" not in summary:
        raise MergeError(f"{folder}: summary.json has no shard section (run with --shard)")
    return ShardResult(
        folder, summary, read_jobs_csv(folder / "jobs.csv"), read_histograms(histograms_path)
    )


def _check_shards(shards: Sequence[ShardResult]) -> None:
    first = shards[0].summary
    for shard in shards[1:]:
        for key in ("scenario", "seed"):
            if shard.summary[key] != first[key]:
                raise MergeError(f"{shard.folder}: {key} differs from {shards[0].folder}")
        if shard.summary["shard"]["count"] != first["shard"]["count"]:
            raise MergeError(f"{shard.folder}: shard count differs from {shards[0].folder}")
    indexes = [s.summary["shard"]["index"] for s in shards]
    if len(set(indexes)) != len(indexes):
        raise MergeError(f"the same shard index appears twice: {sorted(indexes)}")


def _merge_run(
    shards: Sequence[ShardResult], rows: list[JobRow], key: tuple[str, int]
) -> dict[str, Any]:
    mode, workers = key
    parts = [
        run
        for shard in shards
        for run in shard.summary["runs"]
        if (run["mode"], run["workers"]) == key
    ]
    inputs = (parts[0].get("theory") or {}).get("inputs")
    replay = (parts[0].get("prediction") or {}).get("inputs")
    run = summarize_run(
        rows,
        mode,
        workers,
        TheoryInputs(**inputs) if inputs else None,
        ReplayInputs.from_dict(replay) if replay else None,
    )
    for name in ("latency_ms", "latency_uncorrected_ms", "accept_latency_ms", "queue_wait_ms",
                 "service_ms"):  # fmt: skip
        encoded = [s.histograms[key][name] for s in shards if key in s.histograms]
        run[name] = merged_percentiles(encoded, [part[name] for part in parts])
    for extra in ("probe", "burst_window_s", "generator_priority", "replicas"):
        if extra in parts[0]:
            run[extra] = parts[0][extra]
    run["shards"] = len(parts)
    return run


def merge_shards(folders: Sequence[Path], out_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """Merge shard ``folders`` into ``out_dir``; return the merged summary and the files written.

    Shards that are missing (fewer folders than the shard count) are merged all the same and
    recorded as ``missing_shards`` in the summary.
    """
    if not folders:
        raise MergeError("no shard folders given")
    shards = [read_shard(folder) for folder in folders]
    _check_shards(shards)
    first = shards[0].summary
    rows = sorted((row for s in shards for row in s.rows), key=lambda r: r.intended)
    runs = [_merge_run(shards, rows, key) for key in run_keys(rows)]
    checks = check_thresholds(Thresholds(**first["shard"]["thresholds"]), runs)
    count = int(first["shard"]["count"])
    present = {int(s.summary["shard"]["index"]) for s in shards}
    summary = {
        "scenario": first["scenario"],
        "description": first.get("description", ""),
        "seed": first["seed"],
        "target": first.get("target"),
        "started_at": min(s.summary["started_at"] for s in shards),
        "elapsed_s": max(s.summary["started_at"] + s.summary["elapsed_s"] for s in shards)
        - min(s.summary["started_at"] for s in shards),
        "machine": first.get("machine"),
        "runs": runs,
        "thresholds": [check.to_dict() for check in checks],
        "passed": all_passed(checks),
        "merged": {
            "shard_count": count,
            "folders": [str(s.folder) for s in shards],
            "missing_shards": sorted(set(range(count)) - present),
            "start_at": first["shard"].get("start_at"),
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [write_jobs_csv(out_dir / "jobs.csv", rows)]
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(finite(summary), indent=2, allow_nan=False) + "\n")
    files.append(summary_path)
    files.extend(write_report(out_dir, summary, rows))
    return summary, files
