"""The CI entry point parses as bash and ends by running the README's test command."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / ".ci" / "run"


def test_the_ci_script_is_valid_bash() -> None:
    result = subprocess.run(["bash", "-n", str(CI)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_ci_script_runs_make_test_the_newest_versions_then_compose_stopping_on_an_error() -> (
    None
):
    lines = [line for line in CI.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "set -euo pipefail"
    assert lines[-3:] == ["make test", "make test-newest", "make test-compose"]
    assert "make test" in (ROOT / "README.md").read_text()
