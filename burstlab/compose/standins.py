"""Stand-in images where no registry can be reached: built from Debian's packages.

For each image the compose stack runs (the burstlab image's Python base, Redis, RabbitMQ and
Prometheus), the image the compose file names is used when the engine has it or can pull it.
Otherwise a stand-in is built: ``mmdebstrap`` makes a Debian bookworm root file system with the
packages (one for Python, one shared by the three servers), ``docker import`` turns it into an
image, and a few lines of Dockerfile (``deploy/compose/standins/ROLE/``) give it the official
image's contract: the same commands, paths, user and entry point the compose file relies on.
Grafana has no package in Debian and gets no stand-in: the stack runs without it.

A stand-in carries a label with the hash of its recipe (packages and Dockerfile folder), so it is
rebuilt only when the recipe changes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from burstlab.compose.envfile import set_values

SUITE = "bookworm"
RECIPE_LABEL = "org.burstlab.standin.recipe"
STANDINS_DIR = Path("deploy/compose/standins")

# The root file systems, each with the packages its stand-ins need.
ROOTFS_PACKAGES: dict[str, tuple[str, ...]] = {
    "python": ("python3", "python3-pip", "python3-venv", "ca-certificates", "passwd"),
    "services": (
        "redis-server", "redis-tools", "prometheus", "wget", "rabbitmq-server", "ca-certificates",
    ),
}  # fmt: skip


class StandInError(RuntimeError):
    """A stand-in could not be built."""


@dataclass(frozen=True)
class StandIn:
    """One image of the stack that can be built from Debian's packages."""

    variable: str  # the compose file's variable naming the image
    role: str  # its folder under deploy/compose/standins/
    rootfs: str  # the root file system it builds on

    @property
    def tag(self) -> str:
        return f"burstlab-standin/{self.role}:{SUITE}"


STANDINS = (
    StandIn("PYTHON_IMAGE", "python", "python"),
    StandIn("REDIS_IMAGE", "redis", "services"),
    StandIn("RABBITMQ_IMAGE", "rabbitmq", "services"),
    StandIn("PROMETHEUS_IMAGE", "prometheus", "services"),
)
# Images with no stand-in: the stack runs without their service.
NO_STANDIN = {"GRAFANA_IMAGE": "Grafana has no Debian package; the stack runs without it"}

_DEFAULT = re.compile(r"\$\{(?P<var>[A-Z_]+_IMAGE):-(?P<image>[^}]+)\}")


def image_defaults(compose_file: Path) -> dict[str, str]:
    """The compose file's ``${X_IMAGE:-default}`` pins, by variable."""
    return {m["var"]: m["image"] for m in _DEFAULT.finditer(compose_file.read_text())}


@dataclass(frozen=True)
class Resolved:
    """What one image variable ends up naming, and how it was had."""

    variable: str
    image: str
    how: str  # "present", "pulled", "built", "up to date" or "missing"
    note: str = ""


class Docker:
    """The ``docker`` CLI of the engine ``DOCKER_HOST`` names."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    def run(self, *args: str, stdin: int | None = None, quiet: bool = False) -> str:
        proc = subprocess.run(
            ["docker", *args], stdin=stdin, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0 and not quiet:
            raise StandInError(f"docker {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def has(self, image: str) -> bool:
        return bool(self.run("image", "inspect", "--format", "{{.Id}}", image, quiet=True))

    def label(self, image: str) -> str:
        fmt = f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}'
        return self.run("image", "inspect", "--format", fmt, image, quiet=True)

    def pull(self, image: str) -> bool:
        return bool(self.run("pull", "--quiet", image, quiet=True))


def _rootfs_recipe(name: str) -> str:
    return hashlib.sha256(",".join(ROOTFS_PACKAGES[name]).encode()).hexdigest()[:16]


def _recipe(standin: StandIn, folder: Path) -> str:
    digest = hashlib.sha256(_rootfs_recipe(standin.rootfs).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _rootfs_tag(name: str) -> str:
    return f"burstlab-standin/rootfs-{name}:{SUITE}"


def _build_rootfs(docker: Docker, name: str) -> None:
    """``mmdebstrap`` a root file system straight into ``docker import``."""
    if shutil.which("mmdebstrap") is None:
        raise StandInError("no mmdebstrap here (Debian: apt-get install mmdebstrap)")
    packages = ",".join(ROOTFS_PACKAGES[name])
    docker.log(f"rootfs {name}: mmdebstrap {SUITE} with {packages}")
    debootstrap = subprocess.Popen(
        ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={packages}", SUITE, "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert debootstrap.stdout is not None
    label = f"LABEL {RECIPE_LABEL}={_rootfs_recipe(name)}"
    try:
        docker.run(
            "import", "--change", label, "-", _rootfs_tag(name), stdin=debootstrap.stdout.fileno()
        )
    finally:
        debootstrap.stdout.close()
        _, err = debootstrap.communicate()
    if debootstrap.returncode != 0:
        raise StandInError(f"mmdebstrap {name} failed: {err.decode(errors='replace')[-2000:]}")


def _build(docker: Docker, standin: StandIn, folder: Path, recipe: str, ca_bundle: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="burstlab-standin-") as tmp:
        context = Path(tmp) / standin.role
        shutil.copytree(folder, context)
        if standin.role == "python":
            shutil.copyfile(ca_bundle, context / "ca-certificates.crt")
        docker.log(f"{standin.tag}: docker build {folder}")
        docker.run(
            "build", "--quiet", "--network", "host",
            "--build-arg", f"ROOTFS={_rootfs_tag(standin.rootfs)}",
            "--label", f"{RECIPE_LABEL}={recipe}", "--tag", standin.tag, str(context),
        )  # fmt: skip


def ensure_images(
    compose_file: Path,
    *,
    standins_dir: Path | None = None,
    wanted: Iterable[str] | None = None,
    pull: bool = True,
    ca_bundle: Path = Path("/etc/ssl/certs/ca-certificates.crt"),
    log: Callable[[str], None] = print,
) -> list[Resolved]:
    """Make every image the compose file names available: present, pulled, or a stand-in built.

    ``wanted`` limits it to some variables (all the compose file pins by default). The images a
    caller's environment already names (``REDIS_IMAGE=...``) are looked for instead of the pins.
    """
    folder = standins_dir or compose_file.parent / STANDINS_DIR
    docker = Docker(log)
    pins = image_defaults(compose_file)
    names = list(wanted) if wanted is not None else list(pins)
    unknown = [n for n in names if n not in pins]
    if unknown:
        raise StandInError(f"{compose_file} pins no {', '.join(unknown)}")
    resolved: dict[str, Resolved] = {}
    to_build: list[StandIn] = []
    by_variable = {s.variable: s for s in STANDINS}
    for variable in names:
        image = os.environ.get(variable) or pins[variable]
        if docker.has(image):
            resolved[variable] = Resolved(variable, image, "present")
        elif pull and docker.pull(image):
            resolved[variable] = Resolved(variable, image, "pulled")
        elif variable in by_variable:
            to_build.append(by_variable[variable])
        else:
            note = NO_STANDIN.get(variable, "no stand-in")
            resolved[variable] = Resolved(variable, image, "missing", note)
    recipes = {s.variable: _recipe(s, folder / s.role) for s in to_build}
    stale = [s for s in to_build if docker.label(s.tag) != recipes[s.variable]]
    needed_rootfs = sorted({s.rootfs for s in stale})
    missing_rootfs = [n for n in needed_rootfs if docker.label(_rootfs_tag(n)) != _rootfs_recipe(n)]
    with ThreadPoolExecutor(max_workers=max(1, len(missing_rootfs))) as pool:
        for future in [pool.submit(_build_rootfs, docker, n) for n in missing_rootfs]:
            future.result()
    for standin in to_build:
        recipe = recipes[standin.variable]
        if standin in stale:
            _build(docker, standin, folder / standin.role, recipe, ca_bundle)
            how = "built"
        else:
            how = "up to date"
        note = f"stand-in for {os.environ.get(standin.variable) or pins[standin.variable]}"
        resolved[standin.variable] = Resolved(standin.variable, standin.tag, how, note)
    return [resolved[n] for n in names]


def write_env(env_file: Path, resolved: Iterable[Resolved]) -> None:
    """Set each stand-in's variable in ``env_file``."""
    built = {r.variable: r.image for r in resolved if r.how in ("built", "up to date")}
    set_values(env_file, built)
