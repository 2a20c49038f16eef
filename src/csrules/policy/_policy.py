"""Effective-dated policy parameters, loaded from TOML.

Every number of the handbook is a :class:`Parameter`: a name, the clause it
comes from, a type, and values by the date from which each is in force. A
decision resolves the parameters for its own date and records which values
(and since when) it used. A shop's TOML file can override any value or add
dated values, without editing the bundled policy.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

import attrs

from csrules._calendar import WorkCalendar
from csrules._files import MAX_FILE_BYTES, FileRefusedError, parse_toml, read_text
from csrules.exceptions import CalendarError, PolicyError
from csrules.policy._floor import check_legal_floor

__all__ = [
    "MAX_POLICY_BYTES",
    "PARAMETER_TYPES",
    "Parameter",
    "ParameterSet",
    "Policy",
    "default_policy",
    "load_policy",
]

_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_CLAUSE: Final = re.compile(r"^[A-Z][A-Z0-9]*-[0-9A-Za-z.]+$")
_TIME: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
BUNDLED: Final = ("b2c", "taobao")

MAX_POLICY_BYTES: Final = MAX_FILE_BYTES
"""The largest policy file :func:`load_policy` reads, in bytes (1 MiB)."""

_SHOWN: Final = 60


def _show(value: object) -> str:
    """``repr(value)``, shortened for an error message."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 5]}...{text[-2:]}"


def _toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, for error messages."""
    names = (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (dt.datetime, "a date-time"),
        (dt.date, "a date"),
        (dt.time, "a time"),
        (list, "an array"),
        (Mapping, "a table"),
    )
    for kind, name in names:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _money(value: object) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | decimal.Decimal):
        msg = 'a decimal string such as "10.00" or a whole number'
        raise ValueError(msg)
    try:
        amount = decimal.Decimal(value)
    except decimal.InvalidOperation as err:
        msg = 'a decimal string such as "10.00"'
        raise ValueError(msg) from err
    if not amount.is_finite() or amount < 0:
        msg = "a finite amount of at least 0"
        raise ValueError(msg)
    return amount


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = "a whole number of at least 0"
        raise ValueError(msg)
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        msg = "true or false"
        raise ValueError(msg)
    return value


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        msg = "a non-empty string"
        raise ValueError(msg)
    return value


def _time(value: object) -> dt.time:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        msg = 'a time of day "HH:MM" (24-hour)'
        raise ValueError(msg)
    return dt.time(int(match[1]), int(match[2]))


#: The value types a parameter may declare, with their parsers.
PARAMETER_TYPES: Final[Mapping[str, Callable[[object], Any]]] = {
    "money": _money,
    "decimal": _money,
    "int": _int,
    "bool": _bool,
    "str": _str,
    "time": _time,
}


@attrs.frozen
class Parameter:
    """One named, effective-dated policy parameter.

    Attributes:
        name: lower_snake_case name used by rule tables.
        clause: the POLICY.md clause the number comes from.
        type: one of :data:`PARAMETER_TYPES`.
        description: what the parameter means, in words.
        values: ``(since, value)`` pairs, oldest first.
        unit: unit of the value (``"CNY"``, ``"working days"``, ...), or ``""``.
        choices: for ``str`` parameters, the accepted values (empty: any).
        staff_only: a handbook value staff follow that no rule of the rule
            set reads (the case contract has nothing it could apply to, e.g.
            the B2C-7.8.3 waiting replies). ``csrules check`` does not report
            it as unused, and the parameters page marks it.

    .. versionadded:: 0.1.0
    """

    name: str
    clause: str
    type: str
    description: str
    values: tuple[tuple[dt.date, Any], ...]
    unit: str = ""
    choices: tuple[str, ...] = ()
    staff_only: bool = False

    def at(self, on: dt.date) -> tuple[Any, dt.date] | None:
        """The value in force on ``on`` and the date it took effect, or ``None``."""
        found: tuple[Any, dt.date] | None = None
        for since, value in self.values:
            if since > on:
                break
            found = (value, since)
        return found


@attrs.frozen
class ParameterSet:
    """The parameter values in force on one date.

    Attributes:
        on: the date.
        values: value by parameter name (what compiled rules read).
        since: the effective date of each value.
    """

    on: dt.date
    values: Mapping[str, Any]
    since: Mapping[str, dt.date]
    # The ``parameters`` block of decisions on this date, by the rules they
    # fired (kept by csrules.io's decision_to_json); never pickled.
    _encoded: dict[Any, Any] = attrs.field(
        init=False, factory=dict, eq=False, repr=False, hash=False
    )

    def __reduce__(self) -> tuple[Any, ...]:
        return (ParameterSet, (self.on, dict(self.values), dict(self.since)))


def _meta_str(
    source: str, key: str, spec: Mapping[str, Any], name: str, default: str, *, empty: bool
) -> str:
    """A string-valued key of a parameter definition (``clause``, ``description``, ...)."""
    value = spec.get(name, default)
    if not isinstance(value, str) or (not empty and not value):
        expected = "a string" if empty else "a non-empty string"
        reason = f"expected {expected}, got {_toml_type(value)} {_show(value)}"
        raise PolicyError(source, f"{key}.{name}", reason)
    return value


def _choices(
    source: str, key: str, spec: Mapping[str, Any], kind: str, base: Parameter | None
) -> tuple[str, ...]:
    if "choices" not in spec:
        return base.choices if base else ()
    raw = spec["choices"]
    example = 'e.g. ["wall", "service"]'
    if not isinstance(raw, list):
        reason = f"expected an array of strings, {example}, got {_toml_type(raw)} {_show(raw)}"
        raise PolicyError(source, f"{key}.choices", reason)
    for index, choice in enumerate(raw):
        if not isinstance(choice, str) or not choice:
            reason = f"expected a non-empty string, got {_toml_type(choice)} {_show(choice)}"
            raise PolicyError(source, f"{key}.choices[{index}]", reason)
    if raw and kind != "str":
        reason = f"only str parameters have choices; this one is {kind!r}"
        raise PolicyError(source, f"{key}.choices", reason)
    return tuple(raw)


def _build_parameter(
    source: str, name: str, spec: Mapping[str, Any], base: Parameter | None
) -> Parameter:
    key = f"parameters.{name}"
    if not _NAME.fullmatch(name):
        raise PolicyError(source, key, "a parameter name must be lower_snake_case")
    allowed = {
        *("clause", "type", "description", "values", "unit", "choices", "replace", "staff_only"),
    }
    extra = set(spec) - allowed
    if extra:
        raise PolicyError(source, key, f"unknown keys {sorted(extra)}; expected {sorted(allowed)}")
    if base is None:
        missing = [k for k in ("clause", "type", "description", "values") if k not in spec]
        if missing:
            reason = (
                f"a new parameter needs {missing} (or the name is misspelt: "
                "an override must name an existing parameter)"
            )
            raise PolicyError(source, key, reason)
    clause = spec.get("clause", base.clause if base else "")
    if not isinstance(clause, str) or not _CLAUSE.fullmatch(clause):
        raise PolicyError(source, f"{key}.clause", f"expected a clause ID, got {_show(clause)}")
    kind = spec.get("type", base.type if base else "")
    if not isinstance(kind, str) or kind not in PARAMETER_TYPES:
        reason = f"expected one of {sorted(PARAMETER_TYPES)}, got {_show(kind)}"
        raise PolicyError(source, f"{key}.type", reason)
    if base is not None and kind != base.type:
        reason = f"cannot change the type of {name!r} from {base.type!r} to {kind!r}"
        raise PolicyError(source, f"{key}.type", reason)
    description = _meta_str(
        source, key, spec, "description", base.description if base else "", empty=False
    )
    unit = _meta_str(source, key, spec, "unit", base.unit if base else "", empty=True)
    choices = _choices(source, key, spec, kind, base)
    raw_values = spec.get("values", {})
    if not isinstance(raw_values, Mapping) or (base is None and not raw_values):
        reason = (
            'expected a table of dated values, e.g. values = { 2010-04-01 = "10.00" }, '
            f"got {_toml_type(raw_values)} {_show(raw_values)}"
        )
        raise PolicyError(source, f"{key}.values", reason)
    replace = spec.get("replace", False)
    if not isinstance(replace, bool):
        reason = f"expected true or false, got {_toml_type(replace)} {_show(replace)}"
        raise PolicyError(source, f"{key}.replace", reason)
    staff_only = spec.get("staff_only", base.staff_only if base else False)
    if not isinstance(staff_only, bool):
        reason = f"expected true or false, got {_toml_type(staff_only)} {_show(staff_only)}"
        raise PolicyError(source, f"{key}.staff_only", reason)
    parsed: dict[dt.date, Any] = {}
    if base is not None and not replace:
        parsed.update(dict(base.values))
    written: dict[dt.date, object] = {}
    for since_text, raw in raw_values.items():
        since = _parse_since(source, f"{key}.values", since_text)
        if since in written:
            reason = (
                f"{_show(written[since])} and {_show(since_text)} are the same date; "
                "give each date once"
            )
            raise PolicyError(source, f"{key}.values", reason)
        written[since] = since_text
        try:
            value = PARAMETER_TYPES[kind](raw)
        except ValueError as err:
            reason = f"expected {err}, got {_toml_type(raw)} {_show(raw)}"
            raise PolicyError(source, f"{key}.values.{since_text}", reason) from err
        if choices and value not in choices:
            reason = f"expected one of {list(choices)}, got {_show(value)}"
            raise PolicyError(source, f"{key}.values.{since_text}", reason)
        parsed[since] = value
    if not parsed:
        raise PolicyError(source, f"{key}.values", "no dated value is left")
    for since, value in sorted(parsed.items()):
        if choices and value not in choices:
            reason = (
                f"the value {_show(value)} in force from {since.isoformat()} is not among "
                f"{list(choices)}; add it, or set replace = true and give new values"
            )
            raise PolicyError(source, f"{key}.choices", reason)
    return Parameter(
        name=name,
        clause=clause,
        type=kind,
        description=description,
        values=tuple(sorted(parsed.items())),
        unit=unit,
        choices=choices,
        staff_only=staff_only,
    )


def _parse_since(source: str, key: str, text: object) -> dt.date:
    if isinstance(text, dt.date) and not isinstance(text, dt.datetime):
        return text
    expected = "a value's key must be the date it takes effect, written YYYY-MM-DD"
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise PolicyError(source, key, f"{expected}; got {_show(text)}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise PolicyError(source, key, f"{expected}; got {_show(text)} ({err})") from err


@attrs.frozen
class Policy:
    """A shop's policy: its dated parameters and its working-day calendar.

    Build one with :func:`default_policy` or :func:`load_policy`. A policy is
    immutable and safe to share between threads, and it pickles (to send it
    to another process) without its per-date cache.

    Attributes:
        name: the policy's name (``"b2c"``).
        source: where it was loaded from (files, most specific last).
        parameters: every parameter by name.
        calendar: the working-day calendar its date rules use.
        legal_floor: whether the LAW-25 floor is enforced (the default).
            Building a policy with it on runs :func:`check_legal_floor` and
            refuses a policy stricter than the law; a shop switches it off
            only explicitly (``legal_floor = false`` in the ``[policy]``
            table), and every decision made under such a policy says so.

    Raises:
        PolicyError: ``legal_floor`` is on and a dated value of a parameter
            falls below the law; the message cites the LAW-25 clause, the
            parameter, the dates the value is in force and the law's bound
            for every such value.

    .. versionadded:: 0.1.0
    """

    name: str
    source: str
    parameters: Mapping[str, Parameter]
    calendar: WorkCalendar = attrs.field(factory=WorkCalendar.official)
    legal_floor: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    # date -> (the parameter set, the values rules read): see in_force
    _by_date: dict[dt.date, tuple[ParameterSet, Mapping[str, Any]]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        if not self.legal_floor:
            return
        findings = check_legal_floor(self)
        if findings:
            first, *others = findings
            reason = "; also ".join([first.message(key=False), *(f.message() for f in others)])
            reason += (
                "; change the value, or switch the floor off with legal_floor = false "
                "in the [policy] table"
            )
            raise PolicyError(self.source, findings[0].key, reason)

    def __reduce__(self) -> tuple[type[Policy], tuple[object, ...]]:
        """Pickle the fields only: the copy starts with an empty cache."""
        return (
            type(self),
            (self.name, self.source, dict(self.parameters), self.calendar, self.legal_floor),
        )

    def resolve(self, on: dt.date) -> ParameterSet:
        """The values in force on ``on`` (cached per date).

        Parameters with no value yet on that date are left out; a rule that
        needs one fails with :class:`PolicyError`.
        """
        return self.in_force(on)[0]

    def in_force(self, on: dt.date) -> tuple[ParameterSet, Mapping[str, Any]]:
        """:meth:`resolve`, and the values rules read on ``on``
        (:func:`params_in_force`); both kept per date."""
        cached = self._by_date.get(on)
        if cached is not None:
            return cached
        values: dict[str, Any] = {}
        since: dict[str, dt.date] = {}
        for name, parameter in self.parameters.items():
            found = parameter.at(on)
            if found is not None:
                values[name], since[name] = found
        resolved = ParameterSet(on=on, values=values, since=since)
        pair = (resolved, params_in_force(self, resolved))
        self._by_date[on] = pair
        return pair

    def value(self, name: str, on: dt.date) -> Any:
        """The value of parameter ``name`` in force on ``on``.

        Raises:
            PolicyError: no such parameter, or none in force on that date.
        """
        parameter = self.parameter(name)
        found = parameter.at(on)
        if found is None:
            first = parameter.values[0][0].isoformat()
            reason = f"no value in force on {on.isoformat()} (the first takes effect {first})"
            raise PolicyError(self.source, name, reason)
        return found[0]

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name``.

        Raises:
            PolicyError: the policy has no such parameter.
        """
        try:
            return self.parameters[name]
        except KeyError:
            raise PolicyError(self.source, name, "no such parameter in this policy") from None

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters.values())

    def with_values(self, on: dt.date | str, **values: object) -> Policy:
        """A copy in which each named parameter takes a new value from ``on``.

        Values are given as they would be written in TOML (``"12.00"`` for
        money, ``"10:00"`` for a time)::

            shop = default_policy().with_values("2026-01-01", shipping_fee="12.00")
        """
        since = on if isinstance(on, dt.date) else _parse_since("<with_values>", "on", on)
        spec = {name: {"values": {since.isoformat(): v}} for name, v in values.items()}
        return _merge(self, {"parameters": spec}, "<with_values>", base_dir=None)

    def with_calendar(self, calendar: WorkCalendar) -> Policy:
        """A copy that counts working days with ``calendar``."""
        return Policy(self.name, self.source, self.parameters, calendar, self.legal_floor)


def _read_toml(path: Path, source: str) -> dict[str, Any]:
    try:
        return parse_toml(read_text(path, MAX_POLICY_BYTES))
    except FileRefusedError as err:
        raise PolicyError(source, err.where, err.reason) from err


def _merge(
    base: Policy | None, data: Mapping[str, Any], source: str, base_dir: Path | None
) -> Policy:
    allowed = {"policy", "parameters", "calendar"}
    extra = set(data) - allowed
    if extra:
        raise PolicyError(source, sorted(extra)[0], f"unknown table; expected {sorted(allowed)}")
    meta = data.get("policy", {})
    if not isinstance(meta, Mapping):
        raise PolicyError(source, "policy", "expected a table with name, extends and description")
    _check_meta(source, meta)
    raw = data.get("parameters", {})
    if not isinstance(raw, Mapping):
        raise PolicyError(source, "parameters", "expected a table of parameters")
    parameters: dict[str, Parameter] = dict(base.parameters) if base else {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            reason = f"expected a table, got {_toml_type(spec)} {_show(spec)}"
            raise PolicyError(source, f"parameters.{name}", reason)
        parameters[name] = _build_parameter(source, name, spec, parameters.get(name))
    calendar = base.calendar if base else WorkCalendar.official()
    cal_spec = data.get("calendar", {})
    if not isinstance(cal_spec, Mapping):
        raise PolicyError(source, "calendar", "expected a table with 'schedule'")
    extra = set(cal_spec) - {"schedule"}
    if extra:
        key = f"calendar.{sorted(extra)[0]}"
        raise PolicyError(source, key, "unknown key; expected 'schedule'")
    if "schedule" in cal_spec:
        raw_schedule = cal_spec["schedule"]
        if not isinstance(raw_schedule, str) or not raw_schedule:
            reason = (
                "expected the schedule file's path as a string, "
                f"got {_toml_type(raw_schedule)} {_show(raw_schedule)}"
            )
            raise PolicyError(source, "calendar.schedule", reason)
        schedule = Path(raw_schedule)
        if base_dir is not None and not schedule.is_absolute():
            schedule = base_dir / schedule
        try:
            calendar = WorkCalendar.from_file(schedule, base=calendar)
        except CalendarError as err:
            raise PolicyError(source, "calendar.schedule", str(err)) from err
    name = meta.get("name", base.name if base else "custom")
    legal_floor = meta.get("legal_floor", base.legal_floor if base else True)
    full_source = source if base is None else f"{base.source} + {source}"
    return Policy(
        name=name,
        source=full_source,
        parameters=parameters,
        calendar=calendar,
        legal_floor=legal_floor,
    )


def _check_meta(source: str, meta: Mapping[str, Any]) -> None:
    """Check the ``[policy]`` table: known keys, ``legal_floor`` true or false, the others
    strings, ``extends`` a bundled name."""
    allowed = ("name", "extends", "description")
    extra = sorted(set(meta) - {*allowed, "legal_floor"})
    if extra:
        expected = [*allowed, "legal_floor"]
        raise PolicyError(source, f"policy.{extra[0]}", f"unknown key; expected {expected}")
    floor = meta.get("legal_floor", True)
    if not isinstance(floor, bool):
        reason = (
            "expected true or false (false switches the LAW-25 legal floor off), "
            f"got {_toml_type(floor)} {_show(floor)}"
        )
        raise PolicyError(source, "policy.legal_floor", reason)
    for key in allowed:
        value = meta.get(key, "-")
        if not isinstance(value, str) or not value:
            reason = f"expected a non-empty string, got {_toml_type(value)} {_show(value)}"
            raise PolicyError(source, f"policy.{key}", reason)
    extends = meta.get("extends", BUNDLED[0])
    if extends not in BUNDLED:
        reason = f"expected one of {list(BUNDLED)}, got {_show(extends)}"
        raise PolicyError(source, "policy.extends", reason)


def _bundled(name: str) -> Policy:
    text = resources.files("csrules.policy").joinpath(f"{name}.toml").read_text("utf-8")
    source = f"<bundled {name}>"
    try:
        data = parse_toml(text)
    except FileRefusedError as err:  # pragma: no cover - bundled file is tested
        raise PolicyError(source, err.where, err.reason) from err
    extends = data.get("policy", {}).get("extends")
    base = _bundled(str(extends)) if extends else None
    return _merge(base, data, source, base_dir=None)


_DEFAULT: dict[str, Policy] = {}


def default_policy() -> Policy:
    """The bundled B2C handbook policy (loaded once, then shared)."""
    policy = _DEFAULT.get("b2c")
    if policy is None:
        policy = _DEFAULT.setdefault("b2c", _bundled("b2c"))
    return policy


def load_policy(path: str | os.PathLike[str], *, base: Policy | None = None) -> Policy:
    """Load a policy: a bundled name (``"b2c"``, ``"taobao"``) or a TOML file.

    A file overrides or extends ``base`` (default: the policy its
    ``[policy] extends`` names, else the bundled B2C policy). Each of its
    ``[parameters.NAME]`` tables may give only ``values`` to change an
    existing parameter, or a full definition (clause, type, description,
    values) to add one.

    The file must be a regular file of at most :data:`MAX_POLICY_BYTES`
    bytes in UTF-8, and the key of each dated value a date written
    ``YYYY-MM-DD``.

    Raises:
        PolicyError: the file cannot be read (missing, not a regular file,
            too large, not UTF-8, nested too deeply) or is invalid; the
            message names the file, the key and what was expected.
    """
    text = os.fspath(path)
    if text in BUNDLED:
        return _bundled(text) if text != "b2c" else default_policy()
    file = Path(text)
    data = _read_toml(file, text)
    meta = data.get("policy", {})
    if not isinstance(meta, Mapping):
        raise PolicyError(text, "policy", "expected a table with name, extends and description")
    _check_meta(text, meta)
    if base is None:
        base = load_policy(str(meta.get("extends", BUNDLED[0])))
    return _merge(base, data, text, base_dir=file.parent)


class _InForce(dict[str, Any]):
    """Parameter values on a date before some parameters take effect: reading
    one of those raises :class:`PolicyError` naming it and the date."""

    __slots__ = ("_on", "_policy")

    def __init__(self, values: Mapping[str, Any], policy: Policy, on: dt.date) -> None:
        super().__init__(values)
        self._policy = policy
        self._on = on

    def __missing__(self, name: str) -> Any:
        if name in self._policy.parameters:
            return self._policy.value(name, self._on)  # raises PolicyError
        raise KeyError(name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


def params_in_force(policy: Policy, resolved: ParameterSet) -> Mapping[str, Any]:
    """The values the rules read on ``resolved.on``.

    When every parameter of the policy is in force this is ``resolved.values``
    itself. Otherwise a rule that reads a parameter of the policy with no
    value yet on that date raises :class:`~csrules.exceptions.PolicyError`
    (naming the parameter, the date and when its first value takes effect),
    the same for every kind of case; a name the policy does not define at all
    stays a :class:`~csrules.exceptions.RuleDefinitionError` of the table.
    """
    values = resolved.values
    if len(values) == len(policy.parameters):
        return values
    return _InForce(values, policy, resolved.on)
