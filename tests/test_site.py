"""The documentation site (mkdocs.yml) builds cleanly and holds what it should."""

from __future__ import annotations

import html
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from csrules._docs import all_tables

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None,
    reason="mkdocs is not installed: install the 'docs' (or 'dev') extra to build the site",
)

#: Every public module and the API reference page that documents it.
API_PAGES = {
    "csrules": "api/csrules",
    "csrules.rules": "api/rules",
    "csrules.rules.returns": "api/rule-sets",
    "csrules.rules.complaints": "api/rule-sets",
    "csrules.rules.promotions": "api/rule-sets",
    "csrules.policy": "api/policy",
    "csrules.stream": "api/stream",
    "csrules.batch": "api/batch",
    "csrules.io": "api/io",
    "csrules.spark": "api/spark",
    "csrules.testing": "api/testing",
    "csrules.exceptions": "api/exceptions",
}


def _page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once with ``mkdocs build --strict`` into a temporary directory."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _rest_markup() -> ModuleType:
    """The site's griffe extension, loaded from its file (it is not part of the package)."""
    pytest.importorskip("griffe", reason="griffe comes with the 'docs' extra")
    spec = importlib.util.spec_from_file_location(
        "griffe_rest_markup", ROOT / "tools" / "griffe_rest_markup.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestSiteBuild:
    def test_home_page_is_the_readme_with_links_into_the_site(self, site: Path) -> None:
        """index.html renders README.md; its links to docs/*.md point at the site's pages."""
        home = (site / "index.html").read_text(encoding="utf-8")
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        linked = sorted(set(re.findall(r"\]\(docs/([\w-]+)\.md\)", readme)))
        assert linked, "README.md links to no docs page"
        for name in linked:
            assert f'href="{name}/"' in home
            assert (site / name / "index.html").is_file()
        assert 'href="docs/' not in home
        headings = re.findall(r"^## (.+)$", readme, flags=re.MULTILINE)
        assert headings
        for heading in headings:
            slug = re.sub(r"[^\w]+", "-", heading.lower()).strip("-")
            assert f'id="{slug}"' in home, heading

    def test_every_docs_page_is_built(self, site: Path) -> None:
        """Each docs/*.md becomes a page of the site."""
        for md in sorted((ROOT / "docs").glob("*.md")):
            target = "index.html" if md.stem == "index" else f"{md.stem}/index.html"
            assert (site / target).is_file(), md.name

    def test_rule_tables_page_lists_every_table(self, site: Path) -> None:
        """The rule-tables page has every shipped table and rule id."""
        page = _page(site, "rule-tables")
        for table in all_tables():
            assert f"<code>{table.name}</code>" in page
            for rule in table.rules:
                assert f"<code>{rule.id}</code>" in page

    def test_rule_table_cells_render_as_written(self, site: Path) -> None:
        """Conditions and outcomes keep their text, braces included: {a, b} is a set."""
        page = _page(site, "rule-tables")
        source = (ROOT / "docs" / "rule-tables.md").read_text(encoding="utf-8")
        rows = re.findall(r"^\| \d+ \| .* \|$", source, flags=re.MULTILINE)
        assert rows
        for row in rows:
            for cell in row.strip("| ").split(" | ")[3:]:
                assert f"<td>{html.escape(cell, quote=False)}</td>" in page, cell

    @pytest.mark.parametrize("module_name", sorted(API_PAGES))
    def test_api_reference_documents_every_public_name(
        self, site: Path, module_name: str
    ) -> None:
        """Every name in a public module's __all__ has its entry on the module's API page."""
        module = importlib.import_module(module_name)
        page = _page(site, API_PAGES[module_name])
        names = [n for n in module.__all__ if not n.startswith("_")]
        assert names
        missing = [n for n in names if f'id="{module_name}.{n}"' not in page]
        assert not missing, f"{module_name}: no API entry for {missing}"

    def test_api_pages_carry_docstring_text_and_links(self, site: Path) -> None:
        """API pages render docstrings, with cross-references as links, not Sphinx roles."""
        exceptions = importlib.import_module("csrules.exceptions")
        page = _page(site, API_PAGES["csrules.exceptions"])
        for name in exceptions.__all__:
            summary = (getattr(exceptions, name).__doc__ or "").strip().splitlines()[0]
            assert "`" in summary or html.escape(summary, quote=False) in page, name
        assert 'href="#csrules.Order"' in _page(site, API_PAGES["csrules"])
        for name in set(API_PAGES.values()):
            assert not re.search(
                r":(class|func|meth|data|attr|exc|mod):<code>", _page(site, name)
            ), name


class TestRestMarkup:
    def test_roles_become_optional_references(self) -> None:
        """A Sphinx role becomes a code span inside an optional autorefs reference."""
        markup = _rest_markup()
        text = markup.rest_to_markdown("See :func:`~csrules.decide` and :class:`a.B`.")
        assert text == (
            'See <autoref identifier="csrules.decide" optional><code>decide</code></autoref>'
            ' and <autoref identifier="a.B" optional><code>a.B</code></autoref>.'
        )

    def test_literal_block_becomes_a_fenced_python_block(self) -> None:
        """``text::`` and an indented block become ``text:`` and a fenced block."""
        markup = _rest_markup()
        text = markup.rest_to_markdown("Like this::\n\n    x = 1\n    y = 2\n\nAfter.")
        assert text == "Like this:\n\n```python\nx = 1\ny = 2\n```\n\nAfter."

    def test_doctest_paragraph_becomes_a_fenced_block(self) -> None:
        """A paragraph of ``>>>`` lines is fenced as ``pycon``, the rest is untouched."""
        markup = _rest_markup()
        text = markup.rest_to_markdown("Intro.\n\n>>> 1 + 1\n2\n\nMore.")
        assert text == "Intro.\n\n```pycon\n>>> 1 + 1\n2\n```\n\nMore."

    def test_site_tools_pass_ruff_and_mypy(self) -> None:
        """tools/ (the site's extension) meets the project's ruff and mypy --strict rules."""
        ruff = subprocess.run(
            [str(Path(sys.executable).parent / "ruff"), "check", "tools"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr
        mypy = subprocess.run(
            [sys.executable, "-m", "mypy", "tools"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        assert mypy.returncode == 0, mypy.stdout + mypy.stderr
