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
import tomllib
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

import attrs

from csrules._calendar import WorkCalendar
from csrules.exceptions import CalendarError, PolicyError

__all__ = [
    "PARAMETER_TYPES",
    "Parameter",
    "ParameterSet",
    "Policy",
    "default_policy",
    "load_policy",
]

_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_CLAUSE: Final = re.compile(r"^[A-Z][A-Z0-9]*-[0-9A-Za-z.]+$")
_TIME: Final = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
BUNDLED: Final = ("b2c", "taobao")


def _money(value: object) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
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
    match = _TIME.match(value) if isinstance(value, str) else None
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

    .. versionadded:: 0.1.0
    """

    name: str
    clause: str
    type: str
    description: str
    values: tuple[tuple[dt.date, Any], ...]
    unit: str = ""
    choices: tuple[str, ...] = ()

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


def _build_parameter(
    source: str, name: str, spec: Mapping[str, Any], base: Parameter | None
) -> Parameter:
    key = f"parameters.{name}"
    if not _NAME.match(name):
        raise PolicyError(source, key, "a parameter name must be lower_snake_case")
    allowed = {"clause", "type", "description", "values", "unit", "choices", "replace"}
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
    if not isinstance(clause, str) or not _CLAUSE.match(clause):
        raise PolicyError(source, f"{key}.clause", f"expected a clause ID, got {clause!r}")
    kind = spec.get("type", base.type if base else "")
    if kind not in PARAMETER_TYPES:
        reason = f"expected one of {sorted(PARAMETER_TYPES)}, got {kind!r}"
        raise PolicyError(source, f"{key}.type", reason)
    if base is not None and kind != base.type:
        reason = f"cannot change the type of {name!r} from {base.type!r} to {kind!r}"
        raise PolicyError(source, f"{key}.type", reason)
    raw_choices = spec.get("choices", base.choices if base else ())
    if isinstance(raw_choices, str) or not all(isinstance(c, str) for c in raw_choices):
        reason = f'expected a list of strings, e.g. ["wall", "service"], got {raw_choices!r}'
        raise PolicyError(source, f"{key}.choices", reason)
    choices = tuple(raw_choices)
    raw_values = spec.get("values", {})
    if not isinstance(raw_values, Mapping) or (base is None and not raw_values):
        reason = 'expected a table of dated values, e.g. values = { 2010-04-01 = "10.00" }'
        raise PolicyError(source, f"{key}.values", reason)
    parsed: dict[dt.date, Any] = {}
    replace = spec.get("replace", False)
    if not isinstance(replace, bool):
        raise PolicyError(source, f"{key}.replace", f"expected true or false, got {replace!r}")
    if base is not None and not replace:
        parsed.update(dict(base.values))
    for since_text, raw in raw_values.items():
        since = _parse_since(source, f"{key}.values", since_text)
        try:
            value = PARAMETER_TYPES[kind](raw)
        except ValueError as err:
            reason = f"expected {err}, got {raw!r}"
            raise PolicyError(source, f"{key}.values.{since_text}", reason) from err
        if choices and value not in choices:
            reason = f"expected one of {list(choices)}, got {value!r}"
            raise PolicyError(source, f"{key}.values.{since_text}", reason)
        parsed[since] = value
    if not parsed:
        raise PolicyError(source, f"{key}.values", "no dated value is left")
    return Parameter(
        name=name,
        clause=clause,
        type=kind,
        description=str(spec.get("description", base.description if base else "")),
        values=tuple(sorted(parsed.items())),
        unit=str(spec.get("unit", base.unit if base else "")),
        choices=choices,
    )


def _parse_since(source: str, key: str, text: object) -> dt.date:
    if isinstance(text, dt.date) and not isinstance(text, dt.datetime):
        return text
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError as err:
        reason = f"a value's key must be the date it takes effect, YYYY-MM-DD; got {text!r}"
        raise PolicyError(source, key, reason) from err


@attrs.frozen
class Policy:
    """A shop's policy: its dated parameters and its working-day calendar.

    Build one with :func:`default_policy` or :func:`load_policy`. A policy is
    immutable and safe to share between threads.

    Attributes:
        name: the policy's name (``"b2c"``).
        source: where it was loaded from (files, most specific last).
        parameters: every parameter by name.
        calendar: the working-day calendar its date rules use.

    .. versionadded:: 0.1.0
    """

    name: str
    source: str
    parameters: Mapping[str, Parameter]
    calendar: WorkCalendar = attrs.field(factory=WorkCalendar.official)
    _by_date: dict[dt.date, ParameterSet] = attrs.field(
        factory=dict, init=False, eq=False, repr=False, hash=False
    )

    def resolve(self, on: dt.date) -> ParameterSet:
        """The values in force on ``on`` (cached per date).

        Parameters with no value yet on that date are left out; a rule that
        needs one fails with :class:`PolicyError`.
        """
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
        self._by_date[on] = resolved
        return resolved

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
        return Policy(self.name, self.source, self.parameters, calendar)


def _read_toml(path: Path, source: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as err:
        raise PolicyError(source, "-", f"cannot read the file: {err.strerror or err}") from err
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(source, "-", f"not valid TOML: {err}") from err


def _merge(
    base: Policy | None, data: Mapping[str, Any], source: str, base_dir: Path | None
) -> Policy:
    allowed = {"policy", "parameters", "calendar"}
    extra = set(data) - allowed
    if extra:
        raise PolicyError(source, sorted(extra)[0], f"unknown table; expected {sorted(allowed)}")
    meta = data.get("policy", {})
    if not isinstance(meta, Mapping):
        raise PolicyError(source, "policy", "expected a table with name and description")
    raw = data.get("parameters", {})
    if not isinstance(raw, Mapping):
        raise PolicyError(source, "parameters", "expected a table of parameters")
    parameters: dict[str, Parameter] = dict(base.parameters) if base else {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise PolicyError(source, f"parameters.{name}", "expected a table")
        parameters[name] = _build_parameter(source, name, spec, parameters.get(name))
    calendar = base.calendar if base else WorkCalendar.official()
    cal_spec = data.get("calendar", {})
    if not isinstance(cal_spec, Mapping):
        raise PolicyError(source, "calendar", "expected a table with 'schedule'")
    if "schedule" in cal_spec:
        schedule = Path(str(cal_spec["schedule"]))
        if base_dir is not None and not schedule.is_absolute():
            schedule = base_dir / schedule
        try:
            calendar = WorkCalendar.from_file(schedule, base=calendar)
        except CalendarError as err:
            raise PolicyError(source, "calendar.schedule", str(err)) from err
    name = meta.get("name", base.name if base else "custom")
    if not isinstance(name, str) or not name:
        raise PolicyError(source, "policy.name", f"expected a non-empty string, got {name!r}")
    full_source = source if base is None else f"{base.source} + {source}"
    return Policy(name=name, source=full_source, parameters=parameters, calendar=calendar)


def _bundled(name: str) -> Policy:
    text = resources.files("csrules.policy").joinpath(f"{name}.toml").read_text("utf-8")
    source = f"<bundled {name}>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:  # pragma: no cover - bundled file is tested
        raise PolicyError(source, "-", f"not valid TOML: {err}") from err
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

    Raises:
        PolicyError: the file cannot be read or is invalid; the message names
            the file, the key and what was expected.
    """
    text = os.fspath(path)
    if text in BUNDLED:
        return _bundled(text) if text != "b2c" else default_policy()
    file = Path(text)
    data = _read_toml(file, text)
    meta = data.get("policy", {})
    if not isinstance(meta, dict):
        raise PolicyError(text, "policy", "expected a table with name, extends and description")
    if base is None:
        extends = meta.get("extends", "b2c")
        if extends not in BUNDLED:
            reason = f"expected one of {list(BUNDLED)}, got {extends!r}"
            raise PolicyError(text, "policy.extends", reason)
        base = load_policy(str(extends))
    return _merge(base, data, text, base_dir=file.parent)
