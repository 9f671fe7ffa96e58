"""Issue 26, item 5: the API reference (docs/reference/*.md, mkdocstrings) shows a module's public names,
not its module attributes such as ``LOGGER`` or ``MAX_RESENDS``.  mkdocstrings' ``filters: public`` keeps
what griffe calls public: the names of ``__all__`` where a module has one, else those without a leading
underscore; this test asks griffe, as the docs build does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_reference_shows_only_public_names() -> None:
    griffe = pytest.importorskip("griffe")  # the docs extra (make venv); the 3.10/3.13 suites skip it
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+filters: public\s*$", config, re.M), "mkdocstrings must filter to public names"
    modules = sorted({m for page in (ROOT / "docs" / "reference").glob("*.md")
                      for m in re.findall(r"^::: (gwsnb[\w.]*)", page.read_text(encoding="utf-8"), re.M)})
    assert "gwsnb.client" in modules and "gwsnb.runs" in modules
    package = griffe.load("gwsnb", search_paths=[str(ROOT)])
    shown: dict[str, set[str]] = {}
    for name in modules:
        module = package if name == "gwsnb" else package[name.removeprefix("gwsnb.")]
        shown[name] = {member for member, obj in module.members.items() if obj.is_public}
    assert "LOGGER" not in shown["gwsnb.client"] | shown["gwsnb.runs"]
    assert "MAX_RESENDS" not in shown["gwsnb.client"]
    assert {"connect", "GwsClient"} <= shown["gwsnb.client"]
    assert "open_run" in shown["gwsnb.runs"]
