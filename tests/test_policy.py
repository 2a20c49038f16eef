"""Tests of csrules.policy: bundled policies, dated values, overrides and errors."""

from __future__ import annotations

import copy as copy_module
import datetime as dt
import io
import json
import multiprocessing
import os
import pickle
import re
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

import csrules
from csrules import WorkCalendar
from csrules.cli import main
from csrules.exceptions import CsrulesError, PolicyError
from csrules.io import parse_case_line
from csrules.io._decisions import decision_to_json
from csrules.policy import (
    MAX_POLICY_BYTES,
    PARAMETER_TYPES,
    Policy,
    _policy,
    default_policy,
    load_policy,
)

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
            ("holidays.toml", "[2027]\nholidays = [\n", "not valid TOML"),
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


class TestDefinitionTypes:
    """Every key of a policy file is type-checked: a wrong type is a PolicyError naming it."""

    @pytest.mark.parametrize(
        ("text", "key", "expected"),
        [
            (
                "[parameters.refund_clock]\nchoices = 5\n",
                "parameters.refund_clock.choices",
                "array",
            ),
            (
                '[parameters.refund_clock]\nchoices = { b2c = "b2c" }\n',
                "parameters.refund_clock.choices",
                "array",
            ),
            (
                '[parameters.refund_clock]\nchoices = ["b2c", 1]\n',
                "parameters.refund_clock.choices[1]",
                "string",
            ),
            (
                '[parameters.wrap]\nclause = "SHOP-1"\ntype = ["int"]\n'
                'description = "x"\nvalues = { 2027-01-01 = 1 }\n',
                "parameters.wrap.type",
                "['int']",
            ),
            (
                '[parameters.wrap]\nclause = "SHOP-1"\ntype = "int"\n'
                "description = 5\nvalues = { 2027-01-01 = 1 }\n",
                "parameters.wrap.description",
                "string",
            ),
            ("[parameters.shipping_fee]\nunit = 5\n", "parameters.shipping_fee.unit", "string"),
            ("[parameters.shipping_fee]\nclause = 5\n", "parameters.shipping_fee.clause", "clause"),
            (
                '[parameters.shipping_fee]\nreplace = "yes"\n',
                "parameters.shipping_fee.replace",
                "true or false",
            ),
            (
                '[parameters.shipping_fee]\nvalues = [["2027-01-01", "1"]]\n',
                "parameters.shipping_fee.values",
                "table of dated values",
            ),
            (
                '[parameters.shipping_fee]\nchoices = ["1"]\n',
                "parameters.shipping_fee.choices",
                "only str parameters",
            ),
            (
                '[parameters.refund_clock]\nchoices = ["taobao"]\n',
                "parameters.refund_clock.choices",
                "'b2c' in force from 2010-04-01",
            ),
            ("[calendar]\nschedule = 5\n", "calendar.schedule", "path as a string"),
            ('[calendar]\nschedules = "h.toml"\n', "calendar.schedules", "unknown key"),
            ("[policy]\nname = 5\n", "policy.name", "non-empty string"),
            ('[policy]\ndescription = ["x"]\n', "policy.description", "non-empty string"),
            ('[policy]\nextends = ["b2c"]\n', "policy.extends", "non-empty string"),
            ('[policy]\nextend = "taobao"\n', "policy.extend", "unknown key"),
        ],
    )
    def test_wrong_type(self, tmp_path: Path, text: str, key: str, expected: str) -> None:
        """Each key of a definition or table must have its type; the error names the key."""
        path = write(tmp_path, "bad.toml", text)
        error = load_error(path)
        assert error.source == str(path)
        assert error.key == key
        assert expected in error.reason
        assert str(error).startswith(f"{path}: {key}: ")

    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ('[parameters.finance_table_due]\nvalues = { 2027-01-01 = "16:00\\n" }\n', ".values"),
            ('[parameters.shipping_fee]\nclause = "B2C-7.10.2\\n"\n', ".clause"),
            (
                '[parameters."wrap\\n"]\nclause = "SHOP-1"\ntype = "int"\n'
                'description = "x"\nvalues = { 2027-01-01 = 1 }\n',
                "",
            ),
        ],
        ids=["time", "clause", "name"],
    )
    def test_a_trailing_newline_is_not_ignored(self, tmp_path: Path, text: str, key: str) -> None:
        """A time, clause or name is matched whole: "16:00\\n" is not a time."""
        path = write(tmp_path, "bad.toml", text)
        error = load_error(path)
        assert error.key.startswith("parameters.")
        assert key in error.key

    def test_long_values_are_shortened_in_messages(self, tmp_path: Path) -> None:
        """A huge wrong value is not copied whole into the message."""
        path = write(
            tmp_path,
            "bad.toml",
            f'[parameters.shipping_fee]\nvalues = {{ 2027-01-01 = "{"9" * 10_000}x" }}\n',
        )
        error = load_error(path)
        assert error.key == "parameters.shipping_fee.values.2027-01-01"
        assert len(str(error)) < 300


class TestDateKeys:
    """The key of a dated value is a date written YYYY-MM-DD, and each date is given once."""

    @pytest.mark.parametrize(
        "key",
        ['"20270101"', '"2027-1-01"', '"2027-01-01T00:00:00"', '" 2027-01-01"', '"2027-W01-5"'],
    )
    def test_only_the_canonical_form(self, tmp_path: Path, key: str) -> None:
        """Other forms Python would read as a date are refused, naming the key."""
        path = write(
            tmp_path, "bad.toml", f'[parameters.shipping_fee]\nvalues = {{ {key} = "1" }}\n'
        )
        error = load_error(path)
        assert error.key == "parameters.shipping_fee.values"
        assert "YYYY-MM-DD" in error.reason
        assert repr(key.strip('"')) in error.reason

    def test_two_spellings_of_one_date(self, tmp_path: Path) -> None:
        """2027-01-01 and 20270101 no longer load silently as the last one."""
        path = write(
            tmp_path,
            "bad.toml",
            '[parameters.shipping_fee]\nvalues = { 2027-01-01 = "12.00", 20270101 = "13.00" }\n',
        )
        error = load_error(path)
        assert error.key == "parameters.shipping_fee.values"
        assert "'20270101'" in error.reason

    def test_a_date_given_twice(self) -> None:
        """Keys that are already dates are checked for repeats after parsing too."""
        data = {
            "parameters": {
                "shipping_fee": {"values": {"2027-01-01": "1", dt.date(2027, 1, 1): "2"}}
            }
        }
        with pytest.raises(PolicyError, match="the same date") as info:
            _policy._merge(B2C, data, "<test>", base_dir=None)
        assert info.value.key == "parameters.shipping_fee.values"

    def test_with_values_date(self) -> None:
        """with_values() takes its date in the same form."""
        with pytest.raises(PolicyError, match="YYYY-MM-DD"):
            B2C.with_values("20270101", shipping_fee="12.00")


def fifo(folder: Path, name: str) -> Path:
    """A named pipe in ``folder`` (the test is skipped where there are none)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    path = folder / name
    os.mkfifo(path)
    return path


def finishes(work: Callable[[], object], unblock: Path | None = None) -> BaseException | None:
    """Run ``work`` in a thread and return what it raised; fail if it blocks.

    If it is still running after a generous wait, ``unblock`` (a FIFO) is
    opened for writing and closed, so a reader blocked on it ends.
    """
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            work()
        except BaseException as err:
            outcome.append(err)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    if thread.is_alive() and unblock is not None:
        with open(unblock, "wb"):
            pass
        thread.join(30)
        pytest.fail(f"reading {unblock} blocked until a writer came")
    assert outcome, "the call did not finish"
    return outcome[0]


class TestFileLimits:
    """Only a regular UTF-8 file of at most MAX_POLICY_BYTES, nested within limits, is read."""

    def test_invalid_utf8(self, tmp_path: Path) -> None:
        """A byte that is not UTF-8 is a PolicyError naming its line."""
        path = tmp_path / "bad.toml"
        path.write_bytes(b'[policy]\nname = "caf\xe9"\n')
        error = load_error(path)
        assert error.source == str(path)
        assert error.key == "line 2"
        assert "not UTF-8" in error.reason
        assert "0xe9" in error.reason

    @pytest.mark.parametrize(
        "text",
        [
            "a = " + "[" * 100_000 + "]" * 100_000 + "\n",
            "a = " + "{ b = " * 100_000 + "1" + " }" * 100_000 + "\n",
            "[[policy.name" + ".a" * 100_000 + "]]\n",
            "policy.name" + ".a" * 2_000 + " = 1\n",
            "".join("[[policy.name" + ".a" * i + "]]\n" for i in range(600)),
        ],
        ids=["arrays", "inline-tables", "array-of-tables", "dotted-key", "nested-headers"],
    )
    def test_deep_nesting(self, tmp_path: Path, text: str) -> None:
        """Deep nesting is refused before parsing (not a RecursionError)."""
        path = write(tmp_path, "deep.toml", text)
        error = load_error(path)
        assert error.source == str(path)
        assert error.key == ("line 65" if text.count("\n") > 1 else "line 1")
        assert "more than" in error.reason

    def test_nesting_inside_strings_is_not_counted(self, tmp_path: Path) -> None:
        """Brackets and dots inside strings and comments are text, not nesting."""
        brackets = "[" * 100 + "." * 100
        path = write(
            tmp_path,
            "shop.toml",
            f'# {brackets}\n[policy]\nname = "{brackets}"\n'
            f"description = '{brackets}'\n"
            f'[parameters.shipping_fee]\nvalues = {{ 2027-01-01 = "12.00" }}  # {brackets}\n',
        )
        assert load_policy(path).name == brackets

    def test_fifo(self, tmp_path: Path) -> None:
        """A named pipe is refused at once instead of waiting for a writer."""
        path = fifo(tmp_path, "shop.toml")
        error = finishes(lambda: load_policy(path), unblock=path)
        assert isinstance(error, PolicyError)
        assert error.source == str(path)
        assert "FIFO" in error.reason

    @pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
    def test_device(self, device: str) -> None:
        """A device (an endless /dev/zero, an empty /dev/null) is not a policy file."""
        if not Path(device).exists():
            pytest.skip(f"no {device}")
        error = load_error(Path(device))
        assert error.source == device
        assert "character device, not a regular file" in error.reason

    def test_symlink_to_a_device(self, tmp_path: Path) -> None:
        """The file's own type counts, not the name's: a link to /dev/zero is refused."""
        if not Path("/dev/zero").exists():
            pytest.skip("no /dev/zero")
        link = tmp_path / "shop.toml"
        link.symlink_to("/dev/zero")
        assert "not a regular file" in load_error(link).reason

    def test_size_limit(self, tmp_path: Path) -> None:
        """A file of MAX_POLICY_BYTES loads; one byte more is refused before reading."""
        body = '[parameters.shipping_fee]\nvalues = { 2027-01-01 = "12.00" }\n'
        filler = "#" * (MAX_POLICY_BYTES - len(body) - 1) + "\n"
        path = write(tmp_path, "shop.toml", filler + body)
        assert path.stat().st_size == MAX_POLICY_BYTES
        assert load_policy(path).value("shipping_fee", dt.date(2027, 1, 1)) == Decimal("12.00")
        write(tmp_path, "shop.toml", "#" + filler + body)
        error = load_error(path)
        assert f"larger than {MAX_POLICY_BYTES} bytes" in error.reason
        assert str(MAX_POLICY_BYTES + 1) in error.reason

    def test_read_is_bounded(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A file that reports a wrong size (grown, a /proc file) is read up to limit + 1 only."""
        path = write(tmp_path, "big.toml", "#" * (3 * MAX_POLICY_BYTES) + "\n")
        real_fstat, real_read = os.fstat, os.read
        read: list[int] = []

        def small_fstat(fd: int) -> os.stat_result:
            info = list(real_fstat(fd))
            info[stat.ST_SIZE] = 10
            return os.stat_result(info)

        def counted_read(fd: int, n: int) -> bytes:
            chunk = real_read(fd, n)
            read.append(len(chunk))
            return chunk

        monkeypatch.setattr(os, "fstat", small_fstat)
        monkeypatch.setattr(os, "read", counted_read)
        error = load_error(path)
        assert "larger than" in error.reason
        assert sum(read) == MAX_POLICY_BYTES + 1

    def test_huge_number(self, tmp_path: Path) -> None:
        """An integer too long to convert is invalid TOML, not a bare ValueError."""
        path = write(tmp_path, "bad.toml", f"[policy]\nname = {'1' * 5000}\n")
        error = load_error(path)
        assert "not valid TOML" in error.reason
        assert "too many digits" in error.reason


# A policy file that uses every key a file may have (with a schedule beside it).
FULL_POLICY: dict[str, Any] = {
    "policy": {"name": "my-shop", "extends": "b2c", "description": "A shop"},
    "parameters": {
        "shipping_fee": {"values": {"2027-01-01": "12.00"}},
        "refund_clock": {"values": {"2027-01-01": "taobao"}, "replace": False},
        "finance_table_due": {"values": {"2027-01-01": "15:00"}},
        "agent_closes_unpaid_orders": {"values": {"2027-01-01": False}},
        "refund_working_days": {"values": {"2027-01-01": 5}},
        "gift_wrap_fee": {
            "clause": "SHOP-1",
            "type": "money",
            "description": "Gift wrapping.",
            "unit": "CNY",
            "values": {"2026-01-01": "5.00"},
        },
        "wrap_colour": {
            "clause": "SHOP-2",
            "type": "str",
            "description": "Paper colour.",
            "choices": ["red", "blue"],
            "values": {"2026-01-01": "red"},
        },
    },
    "calendar": {"schedule": "holidays.toml"},
}
# Money values may be a string or a whole number; every other key has one type.
MONEY_VALUES: frozenset[tuple[object, ...]] = frozenset(
    {
        ("parameters", "shipping_fee", "values", "2027-01-01"),
        ("parameters", "gift_wrap_fee", "values", "2026-01-01"),
    }
)


def toml_type(value: object) -> str:
    """The TOML type of a parsed value."""
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (dt.datetime, "date-time"),
        (dt.date, "date"),
        (dt.time, "time"),
        (list, "array"),
        (dict, "table"),
    ):
        if isinstance(value, kind):
            return name
    raise TypeError(value)


def paths(value: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    """The path of every value inside a parsed document, tables and arrays included."""
    children: Iterable[tuple[object, object]] = ()
    if isinstance(value, dict):
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    for key, child in children:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def replaced(document: Any, path: tuple[object, ...], new: object) -> Any:
    """A deep copy of ``document`` with the value at ``path`` replaced by ``new``."""
    copy = copy_module.deepcopy(document)
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return copy


def at_path(document: Any, path: tuple[object, ...]) -> Any:
    """The value at ``path``."""
    for key in path:
        document = document[key]
    return document


TOML_SCALARS = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


class TestAnyWrongType:
    """Replacing any value of a valid file by one of another TOML type is a PolicyError."""

    def test_the_full_file_is_valid(self, tmp_path: Path) -> None:
        """The file the property starts from loads and uses every key."""
        write(tmp_path, "holidays.toml", '[2027]\nholidays = ["2027-01-01"]\n')
        path = tmp_path / "shop.toml"
        path.write_text(tomli_w.dumps(FULL_POLICY), encoding="utf-8")
        shop = load_policy(path)
        assert shop.name == "my-shop"
        assert shop.value("wrap_colour", dt.date(2027, 1, 1)) == "red"
        assert not shop.calendar.is_estimated(dt.date(2027, 1, 1))

    @given(data=st.data())
    @settings(max_examples=300, deadline=None)
    def test_replace_any_value(self, data: st.DataObject) -> None:
        """The loader raises PolicyError (never another exception) for any wrong type."""
        path = data.draw(st.sampled_from(sorted(paths(FULL_POLICY), key=repr)), label="path")
        old = at_path(FULL_POLICY, path)
        allowed = {"string", "integer"} if path in MONEY_VALUES else {toml_type(old)}
        new = data.draw(TOML_VALUES.filter(lambda v: toml_type(v) not in allowed), label="new")
        with tempfile.TemporaryDirectory() as folder:
            write(Path(folder), "holidays.toml", '[2027]\nholidays = ["2027-01-01"]\n')
            file = Path(folder) / "shop.toml"
            file.write_text(tomli_w.dumps(replaced(FULL_POLICY, path, new)), encoding="utf-8")
            with pytest.raises(PolicyError) as info:
                load_policy(file)
        assert info.value.source == str(file)
        assert str(info.value).startswith(f"{file}: ")


def decide_in_child(line: str, policy: Policy) -> tuple[object, str, Policy]:
    """Run in a worker process: a value of ``policy``, a decision under it (as JSON), and it."""
    decision = csrules.decide(parse_case_line(line), policy=policy)
    encoded = json.dumps(decision_to_json(decision), sort_keys=True)
    return policy.value("shipping_fee", dt.date(2027, 1, 1)), encoded, policy


class TestPickling:
    """Policies and calendars pickle (to be sent to other processes) without their caches."""

    def shop(self, folder: Path) -> Policy:
        """A policy with an override, a new parameter and a schedule file."""
        write(folder, "holidays.toml", '[2027]\nholidays = ["2027-01-01", "2027-01-04"]\n')
        path = folder / "shop.toml"
        path.write_text(tomli_w.dumps(FULL_POLICY), encoding="utf-8")
        return load_policy(path)

    @pytest.mark.parametrize("name", ["b2c", "taobao", "shop"])
    def test_round_trip(self, tmp_path: Path, name: str) -> None:
        """A pickled policy comes back equal, with an equal calendar, and decides the same."""
        policy = self.shop(tmp_path) if name == "shop" else load_policy(name)
        copy = pickle.loads(pickle.dumps(policy))
        assert copy == policy
        assert copy.calendar == policy.calendar
        assert copy.calendar.covered_years() == policy.calendar.covered_years()
        for line in EXAMPLES[:20]:
            case = parse_case_line(line)
            assert csrules.decide(case, policy=copy) == csrules.decide(case, policy=policy)

    def test_caches_are_not_pickled(self) -> None:
        """Using a policy does not make its pickle larger (the per-date cache stays behind)."""
        policy = B2C.with_values("2027-01-01", shipping_fee="12.00")
        before = len(pickle.dumps(policy))
        for day in range(400):
            policy.resolve(dt.date(2020, 1, 1) + dt.timedelta(days=day))
        policy.calendar.add_working_days(dt.date(2000, 1, 1), 5000)
        assert len(pickle.dumps(policy)) == before
        copy = pickle.loads(pickle.dumps(policy))
        assert copy.resolve(dt.date(2027, 1, 1)) == policy.resolve(dt.date(2027, 1, 1))

    def test_in_another_process(self, tmp_path: Path) -> None:
        """A policy sent to a fresh worker process decides there as it does here."""
        policy = self.shop(tmp_path).with_values("2027-01-01", shipping_fee="12.34")
        lines = EXAMPLES[:6]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            results = list(pool.map(decide_in_child, lines, [policy] * len(lines)))
        for line, (value, encoded, returned) in zip(lines, results, strict=True):
            assert value == Decimal("12.34")
            here = csrules.decide(parse_case_line(line), policy=policy)
            assert encoded == json.dumps(decision_to_json(here), sort_keys=True)
            assert returned == policy
            assert returned.calendar == policy.calendar


class TestCommandLine:
    """`csrules decide --policy BAD` is a usage error (exit 2) with a message, no traceback."""

    def run(self, *argv: str) -> tuple[int, str, str]:
        """Run the command and return its status, stdout and stderr."""
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), out=out, err=err)
        return status, out.getvalue(), err.getvalue()

    def cases(self, folder: Path) -> str:
        """A cases file of one line."""
        return str(write(folder, "cases.jsonl", EXAMPLES[0] + "\n"))

    @pytest.mark.parametrize(
        ("name", "content", "expected"),
        [
            ("choices.toml", "[parameters.refund_clock]\nchoices = 5\n", "refund_clock.choices"),
            ("utf8.toml", b'[policy]\nname = "\xff"\n', "not UTF-8"),
            ("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000 + "\n", "levels deep"),
            ("big.toml", "#" * (MAX_POLICY_BYTES + 1), "larger than"),
            (
                "dates.toml",
                '[parameters.shipping_fee]\nvalues = { 2027-01-01 = "1", 20270101 = "2" }\n',
                "YYYY-MM-DD",
            ),
        ],
    )
    def test_bad_policy_file(
        self, tmp_path: Path, name: str, content: str | bytes, expected: str
    ) -> None:
        """Each kind of bad policy file exits 2, naming the file and the problem."""
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        status, out, err = self.run("decide", self.cases(tmp_path), "--policy", str(path))
        assert status == 2
        assert out == ""
        assert err.startswith(f"csrules decide: bad policy: {path}: ")
        assert expected in err
        assert "Traceback" not in err

    def test_fifo_policy(self, tmp_path: Path) -> None:
        """--policy naming a FIFO exits 2 at once."""
        path = fifo(tmp_path, "shop.toml")
        cases = self.cases(tmp_path)
        result: list[tuple[int, str, str]] = []
        assert (
            finishes(lambda: result.append(self.run("decide", cases, "--policy", str(path))), path)
            is None
        )
        status, _, err = result[0]
        assert status == 2
        assert "FIFO" in err

    def test_bad_schedule_file(self, tmp_path: Path) -> None:
        """--schedule with a bad file exits 2 with the schedule's problem."""
        path = write(tmp_path, "h.json", '{"2027": {"holidays": [], "holidays": ["2027-01-01"]}}')
        status, out, err = self.run("decide", self.cases(tmp_path), "--schedule", str(path))
        assert status == 2
        assert out == ""
        assert err.startswith(f"csrules decide: bad holiday schedule: {path}: [2027].holidays: ")
        assert "Traceback" not in err
