"""Griffe extension: the reStructuredText markup in csrules' docstrings, as Markdown.

The docstrings are Google style, but cross-reference with Sphinx roles
(``:class:`Order```, ``:func:`~csrules.decide```), introduce literal blocks
with ``::`` and may hold a bare doctest paragraph. For the documentation site
(``mkdocs.yml`` loads this file) every docstring of the package is rewritten:

- a role becomes a code span that links to the object's page when the site
  has one (an optional autorefs reference), else stays plain code;
- ``text::`` followed by an indented block becomes ``text:`` and a fenced
  Python block;
- a paragraph of ``>>>`` lines becomes a fenced ``pycon`` block.

The source docstrings are left as they are.
"""

from __future__ import annotations

import html
import re
import textwrap
from typing import Any

import griffe

__all__ = ["RestMarkup", "rest_to_markdown"]

_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|attr|data|const|exc|mod|obj):`(?P<tilde>~?)(?P<target>[^`]+)`"
)


def _resolve(scope: griffe.Object | None, target: str) -> str:
    """Full path of `target` as seen from `scope`, or `target` itself if unknown."""
    if scope is None:
        return target
    first, dot, rest = target.partition(".")
    try:
        base = scope.resolve(first)
    except griffe.NameResolutionError:
        return target
    return f"{base}{dot}{rest}"


def _role_to_ref(match: re.Match[str], scope: griffe.Object | None) -> str:
    target = match["target"].strip().removesuffix("()")
    shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
    identifier = html.escape(_resolve(scope, target), quote=True)
    code = f"<code>{html.escape(shown)}</code>"
    return f'<autoref identifier="{identifier}" optional>{code}</autoref>'


def _convert_blocks(text: str) -> str:
    """Literal blocks after ``::`` and bare doctest paragraphs, as fenced blocks."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and i + 2 < len(lines) and not lines[i + 1].strip():
            indent = len(line) - len(line.lstrip())
            j = i + 2
            block: list[str] = []
            while j < len(lines) and (
                not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent
            ):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                pad = " " * indent
                body = textwrap.dedent("\n".join(block)).split("\n")
                out += [line.rstrip()[:-1], "", f"{pad}```python"]
                out += [f"{pad}{b}" if b else "" for b in body]
                out += [f"{pad}```", ""]
                i = j
                continue
        if line.lstrip().startswith(">>>") and (i == 0 or not lines[i - 1].strip()):
            pad = line[: len(line) - len(line.lstrip())]
            j = i
            while j < len(lines) and lines[j].strip():
                j += 1
            out += [f"{pad}```pycon", *lines[i:j], f"{pad}```"]
            i = j
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def rest_to_markdown(text: str, scope: griffe.Object | None = None) -> str:
    """Docstring `text` with its reStructuredText markup turned into Markdown.

    Args:
        text: The docstring's text.
        scope: The object the docstring belongs to; role targets are resolved in
            its scope. Without it, targets are used as written.

    Returns:
        The Markdown text.
    """
    text = _convert_blocks(text)
    return _ROLE.sub(lambda m: _role_to_ref(m, scope), text)


class RestMarkup(griffe.Extension):
    """Rewrites every docstring of a loaded package with :func:`rest_to_markdown`."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite the docstrings of `pkg` and of everything defined in it."""
        seen: set[str] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.path in seen:
                continue
            seen.add(obj.path)
            if obj.docstring is not None:
                obj.docstring.value = rest_to_markdown(obj.docstring.value, obj)
            stack.extend(m for m in obj.members.values() if isinstance(m, griffe.Object))
