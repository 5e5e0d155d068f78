"""Sharding a schedule, and merging the shards' HdrHistograms instead of their percentiles."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from burstlab.cli.run import run
from burstlab.experiments.merge import MergeError, merge_shards
from burstlab.experiments.model.histograms import (
    HISTOGRAMS_FILE,
    decode,
    encode,
    merge,
    merged_percentiles,
    record,
    to_micros,
    write_histograms,
)
from burstlab.experiments.model.records import write_jobs_csv
from burstlab.experiments.model.stats import percentiles_ms
from burstlab.scenario.schedule import build_schedule
from burstlab.scenario.shard import Shard, ShardError, parse_start_at
from burstlab.scenario.spec import load_scenario


def test_the_shards_of_a_schedule_hold_every_send_once_at_its_planned_offset() -> None:
    # Given the shipped burst scenario's schedule
    schedule = build_schedule(load_scenario("burst"), seed=7)
    # When it is split three ways
    shares = [Shard(i, 3).select(schedule) for i in range(3)]
    # Then together the shares are the schedule, item for item, and each is about a third
    merged = sorted((item for share in shares for item in share.items), key=repr)
    assert merged == sorted(schedule.items, key=repr)
    assert sum(share.offered for share in shares) == schedule.offered
    assert max(s.offered for s in shares) - min(s.offered for s in shares) <= 1
    assert all(share.burst_window == schedule.burst_window for share in shares)


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0"])
def test_a_shard_outside_its_count_or_not_i_of_p_is_refused(text: str) -> None:
    with pytest.raises(ShardError):
        Shard.parse(text)


def test_a_start_is_an_epoch_or_the_next_whole_period_at_least_half_a_period_away() -> None:
    assert parse_start_at("1767225600.5") == 1767225600.5
    assert parse_start_at("next:60", now=1000.0) == 1080.0  # 1020 is only 20 s away
    assert parse_start_at("next:60", now=1029.0) == 1080.0
    assert parse_start_at("next:60", now=1051.0) == 1140.0
    with pytest.raises(ShardError):
        parse_start_at("soon")


def test_a_histogram_survives_its_encoding() -> None:
    histogram = record([1, 250, 1_000, 99_999])
    again = decode(encode(histogram))
    assert again.get_total_count() == 4
    assert again.get_value_at_percentile(100) == histogram.get_value_at_percentile(100)


def test_merged_histograms_give_the_percentiles_of_all_samples_not_the_mean_of_the_shards() -> None:
    # Given two shards with very different latencies (one fast, one with a slow tail)
    rng = random.Random(3)
    fast = [rng.uniform(0.001, 0.002) for _ in range(900)]
    slow = [rng.uniform(0.5, 1.0) for _ in range(100)]
    parts = [percentiles_ms(fast), percentiles_ms(slow)]
    encoded = [encode(record(to_micros(fast))), encode(record(to_micros(slow)))]
    # When their histograms are merged
    merged = merged_percentiles(encoded, parts)
    # Then the percentiles are those of every sample at once, not the shards' average
    together = percentiles_ms(fast + slow)
    assert merged == pytest.approx(together)
    assert merged["count"] == 1000
    averaged_p50 = (parts[0]["p50"] + parts[1]["p50"]) / 2  # type: ignore[operator]
    assert merged["p50"] < 2.1 < averaged_p50  # type: ignore[operator]


def test_merging_no_samples_gives_empty_percentiles() -> None:
    empty = percentiles_ms([])
    merged = merged_percentiles([encode(record([]))], [empty])
    assert merged == empty
    assert merge([]).get_total_count() == 0


def _shard_folder(root: Path, index: int, *, seed: int = 1, count: int = 2) -> Path:
    folder = root / f"shard-{index}"
    folder.mkdir()
    write_jobs_csv(folder / "jobs.csv", [])
    summary = {
        "scenario": "burst",
        "seed": seed,
        "runs": [],
        "started_at": 0.0,
        "elapsed_s": 1.0,
        "shard": {"index": index, "count": count, "start_at": None, "thresholds": {}},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    write_histograms(folder / HISTOGRAMS_FILE, [])
    return folder


def test_merge_refuses_folders_that_are_not_shards_of_one_run(tmp_path: Path) -> None:
    # Given shard folders of one run, a second copy of shard 0, and one of another seed
    first, second = _shard_folder(tmp_path, 0), _shard_folder(tmp_path, 1)
    (tmp_path / "again").mkdir()
    again = _shard_folder(tmp_path / "again", 0)
    (tmp_path / "other").mkdir()
    other_seed = _shard_folder(tmp_path / "other", 1, seed=2)
    # Then merging the same index twice, or two seeds, or a folder without histograms fails
    with pytest.raises(MergeError, match="twice"):
        merge_shards([first, again], tmp_path / "out")
    with pytest.raises(MergeError, match="seed"):
        merge_shards([first, other_seed], tmp_path / "out")
    (second / HISTOGRAMS_FILE).unlink()
    with pytest.raises(MergeError, match=r"no histograms\.json"):
        merge_shards([first, second], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "0/2"], "--target"),
        (["--start-at", "next:60"], "--start-at goes with --shard"),
        (["--target", "http://127.0.0.1:1", "--workers", "4", "--shard", "2/2"], "0 <= I < P"),
    ],
)
def test_run_refuses_a_shard_it_cannot_send(args: list[str], message: str) -> None:
    result = CliRunner().invoke(run, ["burst", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
