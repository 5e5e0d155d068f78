"""HdrHistograms of a run's latencies: recorded, encoded for a results folder, decoded, merged.

A sharded run writes each run's histograms (HdrHistogram's compressed, base64 ``encode()``) to
``histograms.json`` beside its summary, so ``burstlab merge`` can add the shards' histograms and
read percentiles from the sum: percentiles of shards cannot be averaged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3600 * 1_000_000
SIGNIFICANT_DIGITS = 3
HISTOGRAMS_FILE = "histograms.json"


def new_histogram() -> HdrHistogram:
    """An empty histogram of microseconds, 1 us..1 h, 3 significant digits."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def to_micros(values_s: Iterable[float]) -> list[int]:
    """Seconds as whole microseconds, clamped into the histogram's range."""
    return [min(max(round(v * 1e6), LOWEST_US), HIGHEST_US) for v in values_s]


def record(micros: Iterable[int]) -> HdrHistogram:
    """A histogram holding ``micros``."""
    histogram = new_histogram()
    for value in micros:
        histogram.record_value(value)
    return histogram


def encode(histogram: HdrHistogram) -> str:
    """HdrHistogram's own compressed encoding, as text."""
    return histogram.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    """The histogram :func:`encode` wrote."""
    return HdrHistogram.decode(text.encode("ascii"))


def merge(histograms: Iterable[HdrHistogram]) -> HdrHistogram:
    """One histogram with every count of ``histograms`` (HdrHistogram's ``add``)."""
    total = new_histogram()
    for histogram in histograms:
        total.add(histogram)
    return total


def percentiles(
    histogram: HdrHistogram, *, top_us: int, mean_us: float, count: int
) -> dict[str, float | int | None]:
    """p50/p90/p99/p999 of ``histogram`` in ms, capped at the exact max, with max/mean/count."""
    if count == 0:
        return dict.fromkeys(("p50", "p90", "p99", "p999", "max", "mean"), None) | {"count": 0}

    def at(percentile: float) -> float:
        return min(histogram.get_value_at_percentile(percentile), top_us) / 1000

    return {
        "p50": at(50),
        "p90": at(90),
        "p99": at(99),
        "p999": at(99.9),
        "max": top_us / 1000,
        "mean": mean_us / 1000,
        "count": count,
    }


def merged_percentiles(
    encoded: Sequence[str], parts: Sequence[Mapping[str, Any]]
) -> dict[str, float | int | None]:
    """Percentiles of the sum of ``encoded`` histograms; max, mean and count from the shards'
    exact ``parts`` (the percentile dicts they wrote beside them)."""
    counted = [p for p in parts if p.get("count")]
    count = sum(int(p["count"]) for p in counted)
    if count == 0:
        return percentiles(new_histogram(), top_us=0, mean_us=0.0, count=0)
    top_ms = max(float(p["max"]) for p in counted)
    mean_ms = sum(float(p["mean"]) * int(p["count"]) for p in counted) / count
    return percentiles(
        merge(decode(text) for text in encoded),
        top_us=round(top_ms * 1000),
        mean_us=mean_ms * 1000,
        count=count,
    )


def write_histograms(path: Path, runs: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``{"runs": [{"mode", "workers", <metric>: encoded, ...}]}`` to ``path``."""
    path.write_text(json.dumps({"runs": list(runs)}, indent=2) + "\n", encoding="utf-8")
    return path


def read_histograms(path: Path) -> dict[tuple[str, int], dict[str, str]]:
    """Each run's encoded histograms by (mode, workers)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        (str(run["mode"]), int(run["workers"])): {
            k: v for k, v in run.items() if k not in ("mode", "workers")
        }
        for run in data["runs"]
    }
