"""Multiprocess mode: set and wiped before prometheus_client is imported; dead children marked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from burstlab.telemetry.buckets import LATENCY_BUCKETS_S


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_one_bucket_set_spans_1_ms_to_10_minutes_in_increasing_steps() -> None:
    assert LATENCY_BUCKETS_S[0] == 0.001
    assert LATENCY_BUCKETS_S[-1] == 600
    assert list(LATENCY_BUCKETS_S) == sorted(set(LATENCY_BUCKETS_S))


def test_start_up_wipes_the_values_of_a_previous_run_and_nothing_else(tmp_path: Path) -> None:
    # Given a metrics folder left with a previous run's counter file and an unrelated file
    (tmp_path / "counter_4242.db").write_bytes(b"stale")
    (tmp_path / "keep.txt").write_text("not ours")
    # When a service starts up with it and counts one thing
    result = _python(
        """
        from burstlab.telemetry.multiproc import prepare_multiprocess_dir
        path = prepare_multiprocess_dir("test")
        from prometheus_client import Counter, CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector
        Counter("things_total", "Things.", registry=None).inc()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(path))
        print(registry.get_sample_value("things_total"))
        """,
        {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    # Then the old file is gone, the unrelated one kept, and the count is this run's only
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.0"
    assert not (tmp_path / "counter_4242.db").exists()
    assert (tmp_path / "keep.txt").read_text() == "not ours"


def test_setting_up_multiprocess_mode_after_prometheus_client_was_imported_fails_loudly() -> None:
    result = _python(
        """
        import prometheus_client
        from burstlab.telemetry.multiproc import MetricsSetupError, prepare_multiprocess_dir
        try:
            prepare_multiprocess_dir("test")
        except MetricsSetupError as exc:
            print("refused:", exc)
        """,
        {"PROMETHEUS_MULTIPROC_DIR": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused:")


def test_without_a_folder_a_temporary_one_is_made_and_removed_at_exit() -> None:
    result = _python(
        """
        from burstlab.telemetry.multiproc import prepare_multiprocess_dir
        import os
        path = prepare_multiprocess_dir("test")
        print(path, os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(path), path.is_dir())
        """,
        {"PROMETHEUS_MULTIPROC_DIR": ""},
    )
    path, same, existed = result.stdout.split()
    assert same == "True" and existed == "True"
    assert not Path(path).exists()


def test_a_dead_childs_live_gauges_are_dropped_and_a_live_childs_kept(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from burstlab.telemetry.exposition import reap_dead_processes

    # Given two children of this process that each count themselves in a livesum gauge
    script = textwrap.dedent(
        """
        import sys, time
        from prometheus_client import Gauge
        Gauge("alive", "Alive.", registry=None, multiprocess_mode="livesum").set(1)
        print("ready", flush=True)
        if sys.argv[1] == "stay":
            time.sleep(30)
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    staying = subprocess.Popen(
        [sys.executable, "-c", script, "stay"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert staying.stdout is not None and staying.stdout.readline().strip() == "ready"
        leaving = subprocess.run(
            [sys.executable, "-c", script, "leave"], env=env, capture_output=True, check=True
        )
        assert leaving.returncode == 0
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(tmp_path))
        assert registry.get_sample_value("alive") == 2
        # When the dead are reaped
        dead = reap_dead_processes(tmp_path)
        # Then only the child that left is marked dead, and the sum counts the live one
        assert dead != [] and staying.pid not in dead
        assert registry.get_sample_value("alive") == 1
    finally:
        staying.kill()
        staying.wait()
