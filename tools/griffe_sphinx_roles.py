"""A griffe extension for the API reference (``mkdocs.yml``): gwsnb's docstrings are Sphinx-style.

mkdocstrings' ``sphinx`` docstring style parses the field lists (``:param x:``, ``:raises E:``,
``:returns:``) but leaves the inline roles (``:class:`~gwsnb.batch.ChainedRecordBatch```, ``:meth:`close```)
and reST literal blocks (``text::``) as they are. This extension rewrites them to Markdown once the
package is loaded, before mkdocstrings renders it:

- a role whose target is public and resolves to an object in the package becomes a cross-reference
  (``[`ChainedRecordBatch`][gwsnb.batch.ChainedRecordBatch]``); names are resolved the way a reader
  would, in the scope of the docstring's object (its class, then its module), and names re-exported by
  ``gwsnb`` (``gwsnb.GwsClient``) go to the module that defines them;
- any other role (a private module, a name outside gwsnb) becomes inline code;
- ``text::`` before an indented block becomes ``text:`` (the block is already a Markdown code block).

A cross-reference to an object the site does not render fails the strict build (``make docs-check``), so
a broken reference in a docstring is found, not shipped.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|mod|exc|data|obj|const):`([^`]+)`")
LITERAL_BLOCK = re.compile(r"(?m)^(?P<text>.*?)(?P<sep>\s?)::[ \t]*$")


def _is_public(path: str) -> bool:
    return all(not part.startswith("_") or (part.startswith("__") and part.endswith("__"))
               for part in path.split("."))


class SphinxRoles(griffe.Extension):
    """Rewrites Sphinx roles and reST literal-block markers in every docstring of the loaded package."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        root: griffe.Object = pkg
        while root.parent is not None:
            root = root.parent
        self._root = root
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = self.rewrite(obj.docstring.value, obj)

    def rewrite(self, text: str, scope: griffe.Object) -> str:
        text = ROLE.sub(lambda m: self._role(m.group(2), scope), text)
        return LITERAL_BLOCK.sub(_literal_block, text)

    def _role(self, target: str, scope: griffe.Object) -> str:
        target = target.strip()
        short = target.startswith("~")
        target = target.lstrip("~.")
        shown = target.rsplit(".", 1)[-1] if short else target
        if shown.endswith("()"):
            target = target[:-2]
        path = self._resolve(target, scope)
        if path is None or not _is_public(path):
            return f"`{shown}`"
        return f"[`{shown}`][{path}]"

    def _resolve(self, target: str, scope: griffe.Object) -> str | None:
        """The canonical path of ``target`` as seen from ``scope``, or ``None`` when it is not in gwsnb."""
        head, _, rest = target.partition(".")
        if head == self._root.name:
            return self._lookup(self._root, rest.split(".") if rest else [])
        places: list[griffe.Object] = []
        node: griffe.Object | None = scope
        while node is not None:
            if node.is_class or node.is_module:
                places.append(node)
            node = node.parent
        for place in places:
            if head in place.members:
                return self._lookup(place, target.split("."))
        return None

    def _lookup(self, start: griffe.Object, parts: list[str]) -> str | None:
        obj: griffe.Object | griffe.Alias = start
        for part in parts:
            try:
                member = obj.members[part]
            except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                return None
            obj = member
        try:
            return obj.final_target.path if isinstance(obj, griffe.Alias) else obj.path
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None


def _literal_block(match: re.Match[str]) -> str:
    text = match.group("text")
    return "" if not text.strip() else f"{text}:"


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not isinstance(member, griffe.Alias):
            found.extend(_walk(member))
    return found
