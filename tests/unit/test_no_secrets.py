"""Nothing secret is committed: no key files, tokens, private keys or URLs with passwords."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SECRET_FILES = re.compile(r"(^|/)(\.env|.*\.pem|.*\.key|.*\.p12|id_rsa[^/]*|id_ed25519[^/]*)$")
SECRET_TEXT = {
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "an AWS access key": re.compile(r"\bA(KIA|SIA)[0-9A-Z]{16}\b"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "a Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "a Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
}
CREDENTIAL_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:([^@\s/'\"]+)@")
PLACEHOLDERS = re.compile(r"^(\$\{.*|\$\(.*|\$\$.*|PASSWORD|\*+|x+|\{.*\}|<.*>)$")
"""What may stand for a password in a URL: interpolation (compose `${}`, Kubernetes `$()`), a
placeholder, a masked value."""


def _tracked() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in out.decode().split("\0") if name]


def test_no_tracked_file_is_an_env_file_or_a_key() -> None:
    tracked = _tracked()
    assert ".env.example" in tracked
    assert [name for name in tracked if SECRET_FILES.search(name)] == []


def test_no_tracked_file_holds_a_private_key_a_token_or_a_url_with_a_real_password() -> None:
    found = []
    for name in _tracked():
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [
            f"{name}: {what}" for what, pattern in SECRET_TEXT.items() if pattern.search(text)
        ]
        if not name.startswith("tests/"):  # tests start throwaway servers with made-up passwords
            for match in CREDENTIAL_URL.finditer(text):
                if not PLACEHOLDERS.match(match.group(1)):
                    found.append(f"{name}: a URL with a password ({match.group(0)[:40]}...)")
    assert found == []


def test_the_scan_would_find_what_it_looks_for() -> None:
    # Every test can fail: the patterns match what they are meant to
    # (samples built from pieces, so this file does not hold what it looks for)
    assert SECRET_TEXT["a private key"].search("-----BEGIN OPENSSH " + "PRIVATE KEY-----")
    assert SECRET_TEXT["an AWS access key"].search("key AKIA" + "ABCDEFGHIJKLMNOP here")
    url = CREDENTIAL_URL.search("REDIS_URL=redis://:hunter2@redis:6379/0")
    assert url is not None and not PLACEHOLDERS.match(url.group(1))
    for placeholder in ("${REDIS_PASSWORD:?required}", "PASSWORD", "**"):
        match = CREDENTIAL_URL.search(f"redis://:{placeholder}@host:6379/0")
        assert match is not None and PLACEHOLDERS.match(match.group(1)), placeholder
    assert SECRET_FILES.search("deploy/.env") and not SECRET_FILES.search(".env.example")
