"""Holding idle CPUs awake for a run: the PM QoS request is made while inside, and only then."""

from __future__ import annotations

import struct
from pathlib import Path

from burstlab.experiments.loadgen.cpu_idle import DEFAULT, SHALLOW, shallow_idle


def test_the_request_is_a_zero_latency_held_while_inside(tmp_path: Path) -> None:
    # Given a writable device (a file standing in for /dev/cpu_dma_latency)
    device = tmp_path / "cpu_dma_latency"
    device.touch()
    # When a block runs inside, Then it is told the idle was held shallow, with 0 µs asked
    with shallow_idle(device) as idle:
        assert idle == SHALLOW
        assert struct.unpack("i", device.read_bytes()) == (0,)


def test_without_the_device_or_the_right_nothing_changes(tmp_path: Path) -> None:
    with shallow_idle(tmp_path / "missing" / "cpu_dma_latency") as idle:
        assert idle == DEFAULT
