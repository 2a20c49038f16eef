"""Generated documentation stays in step with the code it documents."""

from __future__ import annotations

from pathlib import Path

from csrules._docs import all_tables, policy_markdown, tables_markdown
from csrules.policy import default_policy

DOCS = Path(__file__).resolve().parent.parent / "docs"


class TestGeneratedDocs:
    def test_rule_tables_page_matches_the_tables(self) -> None:
        """docs/rule-tables.md is exactly what `csrules tables` prints (regenerate it if not)."""
        assert (DOCS / "rule-tables.md").read_text(encoding="utf-8") == tables_markdown()

    def test_parameters_page_matches_the_bundled_policy(self) -> None:
        """docs/parameters.md is exactly what `csrules policy` prints for the bundled policy."""
        expected = policy_markdown(default_policy())
        assert (DOCS / "parameters.md").read_text(encoding="utf-8") == expected

    def test_every_table_and_rule_is_documented(self) -> None:
        """Every shipped table and every rule id appear on the rule-tables page."""
        page = tables_markdown()
        for table in all_tables():
            assert f"`{table.name}`" in page
            for rule in table.rules:
                assert f"`{rule.id}`" in page
