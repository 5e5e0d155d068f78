"""The locks install what pyproject.toml allows, every pin with its hashes, and every install
path (make, CI, the Dockerfile) takes its versions from a lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
INTERNALS = ("celery", "kombu", "redis")
"""Packages whose internals burstlab relies on: bounded below the next major."""


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """Name -> (pinned version, number of hashes) of a uv/pip-compile lock file."""
    found: dict[str, tuple[str, int]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            found[name] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = found[name]
            found[name] = (version, hashes + 1)
    return found


def requirements(*, dev: bool) -> list[Requirement]:
    listed = list(PYPROJECT["project"]["dependencies"])
    if dev:
        listed += PYPROJECT["project"]["optional-dependencies"]["dev"]
    return [Requirement(text) for text in listed]


@pytest.mark.parametrize(("lock", "dev"), [("dev.txt", True), ("runtime.txt", False)])
def test_every_requirement_is_pinned_in_the_lock_within_its_range(lock: str, dev: bool) -> None:
    pinned = pins(ROOT / "requirements" / lock)
    for requirement in requirements(dev=dev):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in requirements/{lock}: run make lock"
        version, _ = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {name}=={version}, outside {requirement.specifier}: "
            "run make lock"
        )


@pytest.mark.parametrize("lock", ["dev.txt", "runtime.txt"])
def test_every_pin_carries_its_hashes_and_the_build_backend_is_locked(lock: str) -> None:
    pinned = pins(ROOT / "requirements" / lock)
    assert {"setuptools", "wheel"} <= pinned.keys()
    unhashed = [name for name, (_, hashes) in pinned.items() if hashes == 0]
    assert not unhashed, f"pins without a hash in requirements/{lock}: {unhashed}"


def test_the_packages_whose_internals_burstlab_uses_stop_before_the_next_major() -> None:
    for requirement in requirements(dev=False):
        if requirement.name not in INTERNALS:
            continue
        uppers = [spec for spec in requirement.specifier if spec.operator == "<"]
        assert uppers, f"{requirement.name} needs an upper bound: {requirement.specifier}"
        lower = next(spec for spec in requirement.specifier if spec.operator == ">=")
        (upper,) = uppers
        assert upper.version.split(".")[0] == str(int(lower.version.split(".")[0]) + 1)


def test_make_ci_and_the_image_install_from_a_lock_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK := requirements/dev.txt" in makefile
    assert "--require-hashes -r $(LOCK)" in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements/runtime.txt" in dockerfile
    assert "--no-deps ." in dockerfile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
