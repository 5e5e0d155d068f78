"""Free TCP ports on the loopback interface.

A port found free is handed to a service that binds it a moment later. If the OS picked it from
its ephemeral range, an outgoing connection (a load generator opens hundreds) may take it as its
local port in that moment and the service fails with "address already in use". So ports are
drawn outside the ephemeral range (``net.ipv4.ip_local_port_range``), where outgoing connections
never land, are checked free by binding them, and are not handed out twice by one process.
``BURSTLAB_PORT_RANGE=LOW-HIGH`` narrows where they are drawn (a firewall's open range, or one
range per parallel test worker so that two processes never draw the same port).
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LISTEN_RANGE = (20_000, 32_767)
"""Where service ports are drawn: above the usual fixed service ports, below Linux's default
ephemeral range; clipped to stay below the machine's ephemeral range."""
PORT_RANGE_ENV = "BURSTLAB_PORT_RANGE"
_handed_out: set[int] = set()
_random = random.SystemRandom()


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the services bind
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _os_pick(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_range(env: dict[str, str] | None = None) -> tuple[int, int]:
    """``BURSTLAB_PORT_RANGE`` (``LOW-HIGH``, 1024-65535), else ``LISTEN_RANGE`` clipped below
    the ephemeral range; refused with the setting named if malformed."""
    raw = (os.environ if env is None else env).get(PORT_RANGE_ENV, "").strip()
    if not raw:
        return LISTEN_RANGE[0], min(LISTEN_RANGE[1], _ephemeral_low() - 1)
    try:
        low, high = (int(part) for part in raw.split("-"))
    except ValueError:
        low, high = 0, -1
    if not 1024 <= low <= high <= 65_535:
        raise ValueError(f"{PORT_RANGE_ENV} must be LOW-HIGH within 1024-65535, got {raw!r}")
    return low, high


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free now, outside the ephemeral range, not handed out before."""
    low, high = port_range()
    if high - low >= 100:
        for _ in range(200):
            port = _random.randint(low, high)
            if port not in _handed_out and _bindable(host, port):
                _handed_out.add(port)
                return port
    port = _os_pick(host)  # a machine whose ephemeral range leaves no room below it
    _handed_out.add(port)
    return port


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """Return whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
