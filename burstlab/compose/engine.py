"""A private Docker engine for machines that run none: ``dockerd`` in folders of its own.

Its data root (images, volumes), socket and pid file live under one folder; its runtime state in a
short folder of its own under the temporary directory (containerd's sockets must fit a Unix socket
path). It creates no default bridge (``docker0`` stays another engine's), writes no iptables rules
and masquerades nothing, so its containers reach each other on their project's networks and the
host only through ports published on 127.0.0.1 (the engine's userland proxy), never another
address. Its containerd namespace is its own, so a system containerd another engine uses sees
nothing of it. Builds that need the package index use the host's network (``network: host``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def default_root() -> Path:
    """The engine's folder when none is named: under the user's cache folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "burstlab" / "dockerd"


class EngineError(RuntimeError):
    """No engine answered, or the private one did not start or stop."""


def server_version(host: str | None = None) -> str | None:
    """The engine's version at ``host`` (``DOCKER_HOST`` form; the client's default without),
    or None when none answers."""
    if shutil.which("docker") is None:
        return None
    env = {**os.environ, **({"DOCKER_HOST": host} if host else {})}
    try:
        proc = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, env=env, check=False, timeout=10,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


@dataclass(frozen=True)
class PrivateEngine:
    """``dockerd`` with its data under ``root``."""

    root: Path = field(default_factory=default_root)

    @property
    def _tag(self) -> str:
        return "bl" + hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:8]

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        """The ``DOCKER_HOST`` that reaches it."""
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.root / "docker.pid"

    @property
    def exec_root(self) -> Path:
        return Path(tempfile.gettempdir()) / f"{self._tag}-exec"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    def argv(self) -> list[str]:
        return [
            "dockerd",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.exec_root}",
            f"--host={self.host}",
            f"--pidfile={self.pidfile}",
            f"--containerd-namespace={self._tag}",
            f"--containerd-plugins-namespace={self._tag}-plugins",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
        ]

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def start(self, timeout_s: float = 60.0) -> str:
        """Start it (or find it running); return its version."""
        if self.pid() is not None and (version := server_version(self.host)):
            return version
        if shutil.which("dockerd") is None:
            raise EngineError(
                "no dockerd here: install Docker's engine (Debian: apt-get install docker.io)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if version := server_version(self.host):
                return version
            time.sleep(0.5)
        tail = self.log.read_text(errors="replace").splitlines()[-5:]
        raise EngineError(f"dockerd did not answer on {self.host} in {timeout_s:g} s: {tail}")

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop it (its containers stop with it) and remove its runtime folder."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
                raise EngineError(f"dockerd ({pid}) did not stop in {timeout_s:g} s: killed")
        # dockerd keeps its network namespace bound under its runtime folder; a stop that did not
        # unmount it leaves the file busy.
        for mount in _mounts_under(self.exec_root):
            subprocess.run(["umount", "--lazy", str(mount)], capture_output=True, check=False)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.exec_root)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (reaping it when it is our own child that exited)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _mounts_under(folder: Path) -> list[Path]:
    """The mount points inside ``folder``, deepest first (from /proc/self/mountinfo)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    prefix = f"{folder}/"
    points = [Path(line.split()[4]) for line in lines if line.split()[4].startswith(prefix)]
    return sorted(points, key=lambda p: len(p.parts), reverse=True)
