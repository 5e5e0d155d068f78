"""YAML text of manifests: keys in the order given, multi-line strings as literal blocks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Indents lists under their key, as kubectl and most manifests do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def dump_documents(documents: Iterable[dict[str, Any]], header: str = "") -> str:
    """Documents, each after ``---``, following ``header`` (comment lines starting with ``#``)."""
    body = yaml.dump_all(
        list(documents), Dumper=_Dumper, sort_keys=False, explicit_start=True, width=100
    )
    return header + body
