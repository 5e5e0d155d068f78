"""Compose's ``.env`` files: variables set in one, line by line, the rest of it kept."""

from __future__ import annotations

from pathlib import Path


def set_values(path: Path, values: dict[str, str]) -> Path:
    """Set each variable in ``path`` (its line replaced, or added at the end); create the file if
    it is missing."""
    lines = path.read_text().splitlines() if path.exists() else []
    for name, value in values.items():
        line = f"{name}={value}"
        index = next((i for i, x in enumerate(lines) if x.startswith(f"{name}=")), None)
        if index is None:
            lines.append(line)
        else:
            lines[index] = line
    path.write_text("\n".join(lines) + "\n")
    return path


def from_example(example: Path, path: Path, values: dict[str, str]) -> Path:
    """``path`` as a user makes it: a copy of ``example`` (``.env.example``) with ``values`` set."""
    path.write_text(example.read_text())
    return set_values(path, values)
