"""The README stays a short front door, and no link in it or in docs/ leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_BYTES = 15_000
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
EXTERNAL = ("http://", "https://", "mailto:")


def relative_links(page: Path) -> list[str]:
    """Targets of the Markdown links and images of ``page`` outside code blocks, except URLs."""
    text = FENCE.sub("", page.read_text())
    return [t for t in LINK.findall(text) if not t.startswith(EXTERNAL)]


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``page``."""
    text = FENCE.sub("", page.read_text())
    anchors = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_the_readme_is_under_15_kb() -> None:
    size = len(README.read_bytes())
    assert size < README_MAX_BYTES, f"README.md is {size} bytes: move reference into docs/"


def test_the_readme_links_to_every_page_of_the_docs() -> None:
    linked = {(ROOT / target.split("#")[0]).resolve() for target in relative_links(README)}
    for page in PAGES[1:]:
        assert page.resolve() in linked, f"README.md does not link to {page.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file_and_heading(page: Path) -> None:
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name} links to missing {target}"
        assert file.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        if anchor and file.suffix == ".md":
            assert anchor in heading_anchors(file), f"{page.name}: no heading #{anchor} in {path}"
