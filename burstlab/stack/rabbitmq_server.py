"""A private RabbitMQ node: the system's ``rabbitmq-server``, run beside any system node.

Everything the node keeps is in its own folder: the database (``RABBITMQ_MNESIA_BASE``), logs,
its config and enabled-plugins files (so ``/etc/rabbitmq`` is ignored) and ``HOME``, where
Erlang keeps the cookie. Its node name, AMQP, distribution and management ports are its own, so
it never collides with a node already running on 5672/25672/15672. The management plugin (it
ships with the server package) is enabled from the folder's plugins file, offline: the producer
reads the queue's unacknowledged count from its HTTP API.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from burstlab.stack.process import ManagedProcess

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
"""Where Debian's package installs the server script (``/usr/sbin``'s wrapper insists on
running as the ``rabbitmq`` user; this one runs as whoever starts it)."""

INSTALL_HINT = (
    "RabbitMQ is not installed: `apt-get install rabbitmq-server` (the stack starts a private "
    "node of it), or pass --broker-url amqp://USER:PASSWORD@host:5672/ for one already running"
)

DEFAULT_USER = "burstlab"
STATISTICS_INTERVAL_MS = 1000
"""How often the node refreshes the queue statistics the management API serves (default 5 s)."""


def rabbitmq_server_binary() -> Path | None:
    """The RabbitMQ server script if installed (the Debian path, else ``rabbitmq-server`` on
    PATH), else ``None``."""
    if RABBITMQ_SERVER.exists():
        return RABBITMQ_SERVER
    found = shutil.which("rabbitmq-server")
    return Path(found) if found else None


def amqp_url(host: str, port: int, user: str, password: str, vhost: str = "/") -> str:
    """The ``amqp://`` URL of a node (user and password URL-quoted)."""
    user, password, vhost = (urllib.parse.quote(part, safe="") for part in (user, password, vhost))
    return f"amqp://{user}:{password}@{host}:{port}/{vhost}"


@dataclass(frozen=True)
class RabbitNode:
    """Where a private node listens and how to log in."""

    host: str
    port: int
    dist_port: int
    management_port: int
    password: str
    user: str = DEFAULT_USER

    @property
    def name(self) -> str:
        return f"burstlab-{self.port}@localhost"

    @property
    def url(self) -> str:
        return amqp_url(self.host, self.port, self.user, self.password)

    @property
    def management_url(self) -> str:
        """The management API's base URL, with the login."""
        quote = urllib.parse.quote
        login = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"http://{login}@{self.host}:{self.management_port}"


def _config_text(node: RabbitNode) -> str:
    # rabbitmq.conf's sysctl format takes a value to the end of the line: no quoting.
    return "\n".join(
        [
            f"listeners.tcp.default = {node.host}:{node.port}",
            f"default_user = {node.user}",
            f"default_pass = {node.password}",
            "loopback_users = none",
            f"management.tcp.ip = {node.host}",
            f"management.tcp.port = {node.management_port}",
            f"collect_statistics_interval = {STATISTICS_INTERVAL_MS}",
            # The queue's counts are kept as samples every 5 s by default: every second here.
            "management.sample_retention_policies.global.minute = 1",
            "management.sample_retention_policies.basic.minute = 1",
            "management.sample_retention_policies.detailed.10 = 1",
            "",
        ]
    )


def rabbitmq_process(node: RabbitNode, folder: Path, log_path: Path) -> ManagedProcess:
    """A RabbitMQ node for ``node`` keeping everything in ``folder``.

    Started with ``RUNNING_UNDER_SYSTEMD`` so the script ``exec``s the Erlang VM: the process
    the stack starts is the node itself, which gets the parent-death signal and SIGTERM
    (a clean shutdown) directly.
    """
    binary = rabbitmq_server_binary()
    if binary is None:
        raise RuntimeError(INSTALL_HINT)
    if any(c in node.password for c in "\n\r") or not node.password.strip():
        raise ValueError("the RabbitMQ password must be one non-empty line")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "rabbitmq.conf"
    config.write_text(_config_text(node))
    config.chmod(0o600)
    plugins = folder / "enabled_plugins"
    plugins.write_text("[rabbitmq_management].\n")
    home = folder / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHON": sys.executable,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "RUNNING_UNDER_SYSTEMD": "true",
        "RABBITMQ_NODENAME": node.name,
        "RABBITMQ_NODE_IP_ADDRESS": node.host,
        "RABBITMQ_NODE_PORT": str(node.port),
        "RABBITMQ_DIST_PORT": str(node.dist_port),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_LOGS": "-",  # to standard output: the stack's log file for the service
        "RABBITMQ_CONFIG_FILE": str(config),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
        "RABBITMQ_PLUGINS_EXPAND_DIR": str(folder / "plugins-expand"),
        "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid"),
        # The Erlang VM writes its crash dump to its working folder unless told otherwise.
        "ERL_CRASH_DUMP": str(folder / "erl_crash.dump"),
    }
    return ManagedProcess("rabbitmq", [str(binary)], env, log_path)
