"""Keep idle CPUs awake while an experiment measures (Linux PM QoS, ``/dev/cpu_dma_latency``).

A halted CPU takes time to wake, and a halted virtual CPU takes longest (its host must schedule
it again). Between the sends of a burst the generator, the producer and the workers all sleep,
so every request after a quiet moment pays that wake-up twice: measured on a 2-core virtual
machine, the first request of a burst waited 2-7 ms before the producer's handler started, and
async accept p99 of the default run was 5-15 ms; with the CPUs held out of deep idle it was
4.5-6.3 ms and the generator's send lag p99 1.1-1.8 ms. The request is what latency tools such
as cyclictest make: it lasts as long as the file stays open, and idle CPUs then poll instead of
halting (they burn power, not time other tasks could use).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from pathlib import Path

PM_QOS_DEVICE = Path("/dev/cpu_dma_latency")
SHALLOW = "shallow (PM QoS 0 us)"
DEFAULT = "default"


@contextlib.contextmanager
def shallow_idle(device: Path = PM_QOS_DEVICE) -> Iterator[str]:
    """Ask for a CPU wake-up latency of 0 µs while inside; yield which idle the run had.

    Only root may ask; elsewhere (or on a system without the device) nothing changes and the
    block runs with the :data:`DEFAULT` idle."""
    try:
        handle = device.open("wb", buffering=0)
    except OSError:
        yield DEFAULT
        return
    with handle:
        try:
            handle.write(struct.pack("i", 0))
        except OSError:
            yield DEFAULT
            return
        yield SHALLOW
