"""The kustomize overlays of deploy/k8s rendered by ``kubectl kustomize``, and the shared schemas."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())
SCHEMAS = ROOT.parent / "shared" / "k8s-schemas"


def kubectl() -> str:
    """The kubectl binary; a missing one skips locally and fails in CI (.ci/run installs it)."""
    found = shutil.which("kubectl")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is missing: .ci/run installs it")
        pytest.skip("kubectl is not installed")
    return found


@functools.cache
def _render(path: Path) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return result.stdout


def render(path: Path) -> list[dict[str, Any]]:
    """Every document ``kubectl kustomize path`` prints."""
    return [doc for doc in yaml.safe_load_all(_render(path)) if doc]


def overlay(name: str) -> list[dict[str, Any]]:
    """The documents of ``deploy/k8s/overlays/<name>``."""
    return render(K8S / "overlays" / name)


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """The documents of ``kind`` (named ``name``, if given)."""
    return [
        doc
        for doc in docs
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The single document of ``kind`` named ``name``."""
    found = find(docs, kind, name)
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def schema_file(doc: dict[str, Any]) -> Path:
    """The shared schema file of a document's kind and apiVersion (kubeconform's naming)."""
    group, _, version = doc["apiVersion"].rpartition("/")
    parts = (doc["kind"].lower(), group.split(".")[0], version)
    return SCHEMAS / ("-".join(part for part in parts if part) + ".json")


@functools.cache
def validator(path: Path) -> jsonschema.Draft7Validator:
    """A strict validator for one schema file, loaded once."""
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


def schemas_present() -> None:
    """Skip locally, fail in CI, when ../shared/k8s-schemas is not beside the checkout."""
    if not SCHEMAS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the Kubernetes schemas are missing at {SCHEMAS}")
        pytest.skip("no ../shared/k8s-schemas beside this checkout")
