"""Tests of csrules.policy: bundled policies, dated values, overrides and errors."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

import csrules
from csrules import WorkCalendar
from csrules.exceptions import CsrulesError, PolicyError
from csrules.io import parse_case_line
from csrules.policy import PARAMETER_TYPES, default_policy, load_policy

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = (ROOT / "examples" / "cases.jsonl").read_text("utf-8").splitlines()
B2C = default_policy()


def example(case_id: str) -> csrules.Case:
    """The case with this id from examples/cases.jsonl."""
    for line in EXAMPLES:
        case = parse_case_line(line)
        if case.id == case_id:
            return case
    raise LookupError(case_id)


def write(folder: Path, name: str, text: str) -> Path:
    """Write a policy (or schedule) file and return its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> PolicyError:
    """Load a policy file that must fail, and return the error."""
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return info.value


class TestBundledPolicies:
    """The bundled b2c and taobao policies load and are well formed."""

    def test_b2c_parameters_are_complete(self) -> None:
        """Every b2c parameter cites a clause, has a known type and at least one value."""
        assert B2C.name == "b2c"
        assert len(B2C.parameters) > 50
        for name, parameter in B2C.parameters.items():
            assert parameter.name == name
            assert re.match(r"^[A-Z][A-Z0-9]*-", parameter.clause), name
            assert parameter.type in PARAMETER_TYPES, name
            assert parameter.description, name
            assert len(parameter.values) >= 1, name
            dates = [since for since, _ in parameter.values]
            assert dates == sorted(dates), name
            for _, value in parameter.values:
                assert not isinstance(value, float), name
                if parameter.choices:
                    assert value in parameter.choices, name

    def test_money_is_decimal(self) -> None:
        """Money and decimal parameters are Decimal; times are datetime.time."""
        on = dt.date(2026, 5, 6)
        assert B2C.value("shipping_fee", on) == Decimal("10.00")
        assert isinstance(B2C.value("small_min_price_factor", on), Decimal)
        assert B2C.value("finance_table_due", on) == dt.time(16, 0)
        assert B2C.value("refund_working_days", on) == 7

    def test_default_policy_is_shared(self) -> None:
        """default_policy() and load_policy('b2c') give the one shared policy."""
        assert default_policy() is B2C
        assert load_policy("b2c") is B2C
        assert csrules.load_policy("b2c") is B2C

    def test_taobao_overrides(self) -> None:
        """taobao changes the refund clock, TBX-4 and TB-1.4.1, and keeps the rest of b2c."""
        taobao = load_policy("taobao")
        on = dt.date(2026, 5, 6)
        assert taobao.name == "taobao"
        assert taobao.value("refund_clock", on) == "taobao"
        assert taobao.value("agent_closes_unpaid_orders", on) is False
        assert taobao.value("reject_missing_tag_or_packaging", on) is True
        assert B2C.value("refund_clock", on) == "b2c"
        changed = {"refund_clock", "agent_closes_unpaid_orders", "reject_missing_tag_or_packaging"}
        assert set(taobao.parameters) == set(B2C.parameters)
        for name in set(B2C.parameters) - changed:
            assert taobao.parameters[name] == B2C.parameters[name], name
        assert "b2c" in taobao.source
        assert "taobao" in taobao.source

    def test_iteration_gives_parameters(self) -> None:
        """Iterating a policy gives its Parameter objects."""
        assert {p.name for p in B2C} == set(B2C.parameters)


class TestResolution:
    """A policy resolves the values in force on a date, with their effective dates."""

    def test_resolve(self) -> None:
        """resolve() gives values and since-dates; results are cached per date."""
        on = dt.date(2026, 5, 6)
        resolved = B2C.resolve(on)
        assert resolved.on == on
        assert resolved.values["shipping_fee"] == Decimal("10.00")
        assert resolved.since["shipping_fee"] == dt.date(2010, 4, 1)
        assert resolved.since["no_reason_return_days"] == dt.date(2014, 3, 15)
        assert B2C.resolve(on) is resolved

    def test_before_a_parameter_exists(self) -> None:
        """Before its first date a parameter is left out of resolve() and value() fails."""
        early = dt.date(2012, 1, 1)
        assert "no_reason_return_days" not in B2C.resolve(early).values
        with pytest.raises(PolicyError, match="no value in force on 2012-01-01"):
            B2C.value("no_reason_return_days", early)

    def test_unknown_parameter(self) -> None:
        """value() and parameter() of an unknown name raise PolicyError naming it."""
        with pytest.raises(PolicyError, match="shiping_fee: no such parameter") as info:
            B2C.value("shiping_fee", dt.date(2026, 5, 6))
        assert info.value.key == "shiping_fee"
        assert isinstance(info.value, CsrulesError)
        assert isinstance(info.value, ValueError)
        with pytest.raises(PolicyError):
            B2C.parameter("nope")


class TestOverrides:
    """Files and with_values() add dated values on top of a base policy."""

    def test_value_from_a_date_keeps_the_old_one_before(self, tmp_path: Path) -> None:
        """A value added from 2027-01-01 leaves the old value in force on 2026-12-31."""
        path = write(
            tmp_path,
            "shop.toml",
            '[policy]\nname = "shop"\n'
            '[parameters.shipping_fee]\nvalues = { 2027-01-01 = "12.00" }\n',
        )
        shop = load_policy(path)
        assert shop.name == "shop"
        assert shop.value("shipping_fee", dt.date(2026, 12, 31)) == Decimal("10.00")
        assert shop.value("shipping_fee", dt.date(2027, 1, 1)) == Decimal("12.00")
        assert shop.resolve(dt.date(2027, 6, 1)).since["shipping_fee"] == dt.date(2027, 1, 1)
        assert str(path) in shop.source
        assert B2C.value("shipping_fee", dt.date(2027, 1, 1)) == Decimal("10.00")

    def test_replace_drops_earlier_values(self, tmp_path: Path) -> None:
        """replace = true keeps only the file's values."""
        path = write(
            tmp_path,
            "shop.toml",
            '[parameters.shipping_fee]\nreplace = true\nvalues = { 2027-01-01 = "12.00" }\n',
        )
        shop = load_policy(path)
        assert shop.parameter("shipping_fee").values == ((dt.date(2027, 1, 1), Decimal("12.00")),)
        with pytest.raises(PolicyError, match="no value in force"):
            shop.value("shipping_fee", dt.date(2026, 12, 31))

    def test_new_parameter(self, tmp_path: Path) -> None:
        """A full definition adds a parameter for a shop's own rules."""
        path = write(
            tmp_path,
            "shop.toml",
            "[parameters.gift_wrap_fee]\n"
            'clause = "SHOP-1"\ntype = "money"\nunit = "CNY"\n'
            'description = "Gift wrapping."\nvalues = { 2026-01-01 = "5.00" }\n',
        )
        parameter = load_policy(path).parameter("gift_wrap_fee")
        assert parameter.clause == "SHOP-1"
        assert parameter.values == ((dt.date(2026, 1, 1), Decimal("5.00")),)

    def test_file_extends_taobao(self, tmp_path: Path) -> None:
        """[policy] extends = "taobao" builds on the taobao policy."""
        path = write(
            tmp_path,
            "shop.toml",
            '[policy]\nextends = "taobao"\n[parameters.shipping_fee]\n'
            'values = { 2027-01-01 = "12.00" }\n',
        )
        shop = load_policy(path)
        assert shop.value("refund_clock", dt.date(2027, 1, 1)) == "taobao"
        assert shop.value("shipping_fee", dt.date(2027, 1, 1)) == Decimal("12.00")

    def test_with_values(self) -> None:
        """with_values() is a copy with new values from a date; the original is unchanged."""
        shop = B2C.with_values("2027-01-01", shipping_fee="12.00", refund_working_days=5)
        assert shop is not B2C
        assert shop.value("shipping_fee", dt.date(2026, 12, 31)) == Decimal("10.00")
        assert shop.value("shipping_fee", dt.date(2027, 1, 1)) == Decimal("12.00")
        assert shop.value("refund_working_days", dt.date(2027, 1, 1)) == 5
        assert B2C.value("refund_working_days", dt.date(2027, 1, 1)) == 7
        same = B2C.with_values(dt.date(2027, 1, 1), shipping_fee="12.00")
        assert same.parameters["shipping_fee"] == shop.parameters["shipping_fee"]

    def test_with_values_checks_what_it_is_given(self) -> None:
        """with_values() refuses unknown names, wrong types and bad dates."""
        with pytest.raises(PolicyError, match="shiping_fee"):
            B2C.with_values("2027-01-01", shiping_fee="12.00")
        with pytest.raises(PolicyError, match=r"shipping_fee\.values\.2027-01-01"):
            B2C.with_values("2027-01-01", shipping_fee=12.5)
        with pytest.raises(PolicyError, match="YYYY-MM-DD"):
            B2C.with_values("next year", shipping_fee="12.00")

    def test_with_calendar(self) -> None:
        """with_calendar() counts working days with another calendar."""
        case = example("r01")  # refund 7 working days after Wed 2026-05-06
        assert csrules.decide(case).refund_due == dt.date(2026, 5, 14)  # Sat 05-09 is worked
        plain_2026 = WorkCalendar.from_mapping({"2026": {}})  # weekends only
        policy = B2C.with_calendar(plain_2026)
        assert policy.calendar is plain_2026
        assert policy.parameters == B2C.parameters
        assert csrules.decide(case, policy=policy).refund_due == dt.date(2026, 5, 15)

    def test_calendar_schedule_relative_to_the_file(self, tmp_path: Path) -> None:
        """[calendar] schedule names a file next to the policy; its years are not estimated."""
        write(tmp_path, "holidays-2027.toml", '[2027]\nholidays = ["2027-01-01"]\n')
        path = write(tmp_path, "shop.toml", '[calendar]\nschedule = "holidays-2027.toml"\n')
        shop = load_policy(path)
        assert B2C.calendar.is_estimated(dt.date(2027, 3, 1))
        assert not shop.calendar.is_estimated(dt.date(2027, 3, 1))
        assert not shop.calendar.is_workday(dt.date(2027, 1, 1))


class TestParametersUsed:
    """A decision lists the parameters its fired rules used, with effective dates."""

    def test_since_dates(self) -> None:
        """The b2c refund clock and finance deadline are listed with their dates."""
        decision = csrules.decide(example("r01"))
        used = {p.name: p for p in decision.parameters}
        assert used["refund_working_days"].value == 7
        assert used["refund_working_days"].since == dt.date(2010, 4, 1)
        assert used["refund_working_days"].clause == "B2C-7.8.2"
        assert used["finance_table_due"].value == dt.time(16, 0)
        assert decision.parameters == decision.trace.parameters
        for use in decision.parameters:
            assert use.since <= dt.date(2026, 5, 6)
            assert use.value == B2C.value(use.name, dt.date(2026, 5, 6))

    def test_a_dated_override_shows_its_date(self) -> None:
        """A value in force from 2026-01-01 is listed as since 2026-01-01, and used."""
        shop = B2C.with_values("2026-01-01", refund_working_days=3)
        decision = csrules.decide(example("r01"), policy=shop)
        used = {p.name: p for p in decision.parameters}
        assert used["refund_working_days"].value == 3
        assert used["refund_working_days"].since == dt.date(2026, 1, 1)
        assert decision.refund_due == dt.date(2026, 5, 9)  # Thu, Fri, worked Sat

    def test_only_used_parameters(self) -> None:
        """A rejection lists the window parameters and not the refund clock."""
        decision = csrules.decide(example("r03"))  # no-reason return past 7 days
        names = [p.name for p in decision.parameters]
        assert "no_reason_return_days" in names
        assert "refund_working_days" not in names
        assert len(names) == len(set(names))


class TestPolicyErrors:
    """A bad policy file fails on loading with a PolicyError naming the file and the key."""

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A missing file is reported with its path."""
        path = tmp_path / "missing.toml"
        error = load_error(path)
        assert str(path) in str(error)
        assert "cannot read" in str(error)

    def test_directory(self, tmp_path: Path) -> None:
        """A directory is not a policy file."""
        assert "cannot read" in str(load_error(tmp_path))

    def test_invalid_toml(self, tmp_path: Path) -> None:
        """A syntax error is reported as invalid TOML."""
        path = write(tmp_path, "bad.toml", "[parameters.shipping_fee\nvalues = 1\n")
        error = load_error(path)
        assert str(path) in str(error)
        assert "not valid TOML" in str(error)

    def test_unknown_parameter(self, tmp_path: Path) -> None:
        """A misspelt parameter name is named, with a hint that it may be misspelt."""
        path = write(
            tmp_path, "typo.toml", '[parameters.shiping_fee]\nvalues = { 2027-01-01 = "1" }\n'
        )
        error = load_error(path)
        assert error.source == str(path)
        assert error.key == "parameters.shiping_fee"
        assert "misspelt" in str(error)
        assert str(error).startswith(f"{path}: parameters.shiping_fee: ")

    @pytest.mark.parametrize(
        ("name", "value", "expected"),
        [
            ("shipping_fee", "12.5", "decimal string"),
            ("shipping_fee", '"-1"', "at least 0"),
            ("shipping_fee", '"ten"', "decimal string"),
            ("refund_working_days", '"7"', "whole number"),
            ("refund_working_days", "true", "whole number"),
            ("agent_closes_unpaid_orders", '"yes"', "true or false"),
            ("finance_table_due", '"4pm"', "HH:MM"),
            ("finance_table_due", '"24:00"', "HH:MM"),
            ("refund_clock", '""', "non-empty string"),
        ],
    )
    def test_wrong_type(self, tmp_path: Path, name: str, value: str, expected: str) -> None:
        """A value of the wrong type names the parameter, the date and what was expected."""
        path = write(
            tmp_path, "bad.toml", f"[parameters.{name}]\nvalues = {{ 2027-01-01 = {value} }}\n"
        )
        error = load_error(path)
        assert str(path) in str(error)
        assert error.key == f"parameters.{name}.values.2027-01-01"
        assert expected in error.reason

    @pytest.mark.parametrize("key", ['"2027-13-01"', '"next-year"', '"2027-02-30"'])
    def test_bad_date_key(self, tmp_path: Path, key: str) -> None:
        """A value keyed by something other than a date is refused."""
        path = write(
            tmp_path, "bad.toml", f'[parameters.shipping_fee]\nvalues = {{ {key} = "1" }}\n'
        )
        error = load_error(path)
        assert str(path) in str(error)
        assert error.key == "parameters.shipping_fee.values"
        assert "YYYY-MM-DD" in error.reason

    def test_bad_choice(self, tmp_path: Path) -> None:
        """A str parameter with choices refuses a value outside them."""
        path = write(
            tmp_path, "bad.toml", '[parameters.refund_clock]\nvalues = { 2027-01-01 = "jd" }\n'
        )
        error = load_error(path)
        assert str(path) in str(error)
        assert error.key == "parameters.refund_clock.values.2027-01-01"
        assert "'b2c', 'taobao'" in error.reason
        assert "'jd'" in error.reason

    def test_changing_a_type(self, tmp_path: Path) -> None:
        """An override cannot change a parameter's type."""
        path = write(
            tmp_path,
            "bad.toml",
            '[parameters.shipping_fee]\ntype = "int"\nvalues = { 2027-01-01 = 12 }\n',
        )
        error = load_error(path)
        assert str(path) in str(error)
        assert error.key == "parameters.shipping_fee.type"
        assert "'money'" in error.reason
        assert "'int'" in error.reason

    @pytest.mark.parametrize(
        ("text", "key"),
        [
            (
                '[parameters.shipping_fee]\nvalue = { 2027-01-01 = "1" }\n',
                "parameters.shipping_fee",
            ),
            ("[parameters]\nshipping_fee = 3\n", "parameters.shipping_fee"),
            ('[parameters.shipping_fee]\nvalues = "12.00"\n', "parameters.shipping_fee.values"),
            ('[parameters.shipping_fee]\nclause = "7.10.2"\n', "parameters.shipping_fee.clause"),
            ('[parameters.shipping_fee]\ntype = "float"\n', "parameters.shipping_fee.type"),
            ('[parameters.Shipping]\nvalues = { 2027-01-01 = "1" }\n', "parameters.Shipping"),
            ("[rules]\nx = 1\n", "rules"),
            ('[policy]\nextends = "jd"\n', "policy.extends"),
            ('calendar = "holidays.toml"\n', "calendar"),
            (
                '[parameters.wrap]\nclause = "SHOP-1"\ntype = "money"\n'
                'description = "x"\nvalues = {}\n',
                "parameters.wrap.values",
            ),
        ],
        ids=[
            "unknown-key",
            "not-a-table",
            "values-not-a-table",
            "bad-clause",
            "unknown-type",
            "bad-name",
            "unknown-table",
            "unknown-base",
            "calendar-not-a-table",
            "new-without-values",
        ],
    )
    def test_other_structure_errors(self, tmp_path: Path, text: str, key: str) -> None:
        """Malformed tables and keys are reported with the file and the key."""
        path = write(tmp_path, "bad.toml", text)
        error = load_error(path)
        assert error.key == key
        assert str(error).startswith(f"{path}: {key}: ")

    def test_missing_schedule(self, tmp_path: Path) -> None:
        """A [calendar] schedule that cannot be read names the policy file and the key."""
        path = write(tmp_path, "shop.toml", '[calendar]\nschedule = "nowhere.toml"\n')
        error = load_error(path)
        assert error.source == str(path)
        assert error.key == "calendar.schedule"
        assert "nowhere.toml" in error.reason

    @pytest.mark.parametrize(
        ("name", "text", "expected"),
        [
            ("holidays.toml", '[2027]\nholidays = ["2026-01-01"]\n', "not in 2027"),
            ("holidays.toml", "[2027]\nholidays = [\n", "invalid TOML"),
            ("holidays.toml", '[2027]\nworkdays = ["2027-03-03"]\n', "Saturdays and Sundays"),
            ("holidays.txt", "", "unsupported schedule file type"),
        ],
    )
    def test_bad_schedule(self, tmp_path: Path, name: str, text: str, expected: str) -> None:
        """An invalid schedule file is reported under calendar.schedule of the policy file."""
        write(tmp_path, name, text)
        path = write(tmp_path, "shop.toml", f'[calendar]\nschedule = "{name}"\n')
        error = load_error(path)
        assert str(error).startswith(f"{path}: calendar.schedule: ")
        assert expected in error.reason

    def test_policy_key_that_is_not_a_table(self, tmp_path: Path) -> None:
        """`policy = "x"` is a PolicyError for the key 'policy', not a crash."""
        path = write(tmp_path, "bad.toml", 'policy = "shop"\n')
        assert load_error(path).key == "policy"

    def test_choices_must_be_a_list(self, tmp_path: Path) -> None:
        """choices given as one string is refused instead of being split into letters."""
        path = write(
            tmp_path,
            "bad.toml",
            '[parameters.refund_clock]\nchoices = "b2c"\nvalues = { 2027-01-01 = "b" }\n',
        )
        assert load_error(path).key.startswith("parameters.refund_clock")
