"""The containers of deploy/k8s, run here as processes with the same arguments and environment.

The dev overlay is rendered with ``kubectl kustomize``; each container's environment is resolved as
the kubelet does (its ConfigMap, then its variables, the Secret's password, ``$(VAR)`` expanded),
Redis runs the StatefulSet's own command line. Only what names the cluster network or a volume is
rewritten for this host (service names to 127.0.0.1, fixed ports to free ones, mount paths to
folders). Then every probe must pass and jobs must run in both modes.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from burstlab.client import Producer
from burstlab.stack.ports import free_port
from burstlab.stack.process import ManagedProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from k8s_overlays import one, overlay

PASSWORD = "k8s-test-password"
EXPANSION = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
APPS = ("baseline", "worker", "producer")


class Host:
    """Rewrites cluster addresses and container paths for this machine."""

    def __init__(self, folder: Path) -> None:
        self.ports = {p: free_port() for p in (6379, 8080, 8081, 9540, 9541)}
        self.folder = folder

    def __call__(self, value: str) -> str:
        value = value.replace("0.0.0.0", "127.0.0.1")
        value = re.sub(r"^(redis|baseline|producer)$", "127.0.0.1", value)
        value = re.sub(r"//(redis|baseline|producer):", "//127.0.0.1:", value)
        for port, local in self.ports.items():
            value = re.sub(rf"(?<=[:/]){port}\b|^{port}$", str(local), value)
        return value

    def path(self, container: str, mount: str) -> str:
        folder = self.folder / container / mount.strip("/").replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)


def resolved_env(docs: list[dict[str, Any]], item: dict[str, Any], host: Host) -> dict[str, str]:
    """A container's environment as the kubelet builds it, rewritten for this host."""
    mounts = {m["mountPath"] for m in item.get("volumeMounts", [])}

    def local(value: str) -> str:
        return host.path(item["name"], value) if value in mounts else host(value)

    env: dict[str, str] = {}
    for source in item.get("envFrom", []):
        data = one(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
        env.update({name: local(value) for name, value in data.items()})
    for var in item.get("env", []):
        if "valueFrom" in var:
            assert var["valueFrom"]["secretKeyRef"]["name"] == "burstlab-redis"
            env[var["name"]] = PASSWORD
        else:
            value = local(var["value"])
            env[var["name"]] = EXPANSION.sub(lambda m: env.get(m[1], m[0]), value)
    return env


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Host, list[dict[str, Any]]]]:
    docs = overlay("dev")
    folder = tmp_path_factory.mktemp("k8s")
    host = Host(folder)
    processes: list[ManagedProcess] = []
    try:
        redis = one(docs, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]
        command = [host.path("redis", "/data").join(part.split("/data")) if "--dir /data" in part else part
                   for part in redis["command"]]  # fmt: skip
        command[-1] += f" --port {host.ports[6379]} --bind 127.0.0.1"
        env = {**_base_env(), "REDIS_PASSWORD": PASSWORD}
        processes.append(ManagedProcess("redis", command, env, folder / "redis.log"))
        processes[-1].start()
        for name in APPS:
            item = one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
            argv = [sys.executable, "-m", "burstlab", *item["args"]]
            env = {**_base_env(), **resolved_env(docs, item, host)}
            processes.append(ManagedProcess(name, argv, env, folder / f"{name}.log"))
            processes[-1].start()
        yield host, docs
    finally:
        for process in reversed(processes):
            process.stop()


def _passes(probe: dict[str, Any], host: Host, env: dict[str, str]) -> bool:
    if "httpGet" in probe:
        port = probe["httpGet"]["port"]
        url = f"http://127.0.0.1:{host.ports[port]}{probe['httpGet']['path']}"
        try:
            with urllib.request.urlopen(url, timeout=probe.get("timeoutSeconds", 1)) as response:
                return bool(response.status == 200)
        except OSError:
            return False
    if "tcpSocket" in probe:
        try:
            socket.create_connection(
                ("127.0.0.1", host.ports[probe["tcpSocket"]["port"]]), 2
            ).close()
            return True
        except OSError:
            return False
    argv = [host(part) for part in probe["exec"]["command"]]
    if argv[0] == "burstlab":
        argv = [sys.executable, "-m", "burstlab", *argv[1:]]
    if argv[0] == "sh":
        argv[-1] = argv[-1].replace("redis-cli", f"redis-cli -p {host.ports[6379]}")
    proc = subprocess.run(argv, capture_output=True, env={**_base_env(), **env}, check=False,
                          timeout=30)  # fmt: skip
    return proc.returncode == 0


def _wait(probe: dict[str, Any], host: Host, env: dict[str, str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not _passes(probe, host, env):
        assert time.monotonic() < deadline, f"{what} kept failing"
        time.sleep(0.5)


def named_ports(item: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in item.get("ports", [])}


@pytest.mark.slow
def test_every_probe_of_every_container_passes_once_the_pods_run(
    running: tuple[Host, list[dict[str, Any]]],
) -> None:
    host, docs = running
    workloads = [("StatefulSet", "redis"), *(("Deployment", name) for name in APPS)]
    for kind, name in workloads:
        item = one(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]
        env = {"REDIS_PASSWORD": PASSWORD} if name == "redis" else resolved_env(docs, item, host)
        for which in ("readinessProbe", "livenessProbe"):
            if which not in item:
                continue
            probe = dict(item[which])
            for action in ("httpGet", "tcpSocket"):
                if action in probe:  # a named port: the container port it names
                    port = probe[action]["port"]
                    probe[action] = {**probe[action], "port": named_ports(item).get(port, port)}
            _wait(probe, host, env, f"{name} {which}")


@pytest.mark.slow
def test_jobs_run_in_both_modes_through_the_services_configured_as_in_the_cluster(
    running: tuple[Host, list[dict[str, Any]]],
) -> None:
    host, docs = running
    item = one(docs, "Deployment", "producer")["spec"]["template"]["spec"]["containers"][0]
    probe = {"httpGet": {"path": "/readyz", "port": 8080}}
    _wait(probe, host, resolved_env(docs, item, host), "producer readiness")
    producer = Producer(f"http://127.0.0.1:{host.ports[8080]}", timeout_s=10)
    for mode in ("sync", "async"):
        reply = producer.run(mode, "io", 10, timeout_s=10)
        assert reply["status"] == "succeeded", reply
    # And the ports the ServiceMonitors scrape serve metrics
    for port in (8080, 9540, 9541):
        with urllib.request.urlopen(f"http://127.0.0.1:{host.ports[port]}/metrics", timeout=5) as r:
            assert r.status == 200
