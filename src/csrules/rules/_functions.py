"""The functions rule expressions may call, each registered once.

A :class:`Function` carries the name a :func:`~csrules.rules.call` uses, the
kinds of its arguments and result, its scalar implementation (what a single
decision runs) and the name of its vectorised implementation in
:mod:`csrules.batch._kernels` (numpy over whole columns). A function without
a vectorised implementation is run by batches through its scalar one, row by
row (``np.frompyfunc``); :attr:`Function.vectorised` tells which.

Both compilers look functions up in :data:`FUNCTIONS`; adding a function is
one :func:`register` call (plus a kernel, if it is worth one).

Argument kinds: ``"ordered"`` (any values that compare: numbers, dates,
times), ``"date"`` (a date; ``"date|datetime"`` accepts an aware time too),
``"datetime"`` (an aware time), ``"int"`` (a whole number), ``"time"`` (a naive
time of day in Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import attrs

from csrules._calendar import ESTIMATES, WorkCalendar
from csrules.rules._common import _PENDULUM_CST, CST, _date_of, local_date_or_none, local_time

__all__ = ["FUNCTIONS", "Function", "register"]

#: How a function is written into generated source (see ``Function.inline``).
_Inline = Callable[[Sequence[str], Callable[[object], str]], str | None]


@attrs.frozen
class Function:
    """A function rule expressions may call.

    Attributes:
        name: the name :func:`~csrules.rules.call` uses.
        args: the kind of each argument (see the module docs).
        returns: the kind of the result.
        scalar: the implementation for one case; calendar functions take the
            policy's :class:`~csrules.WorkCalendar` first.
        kernel: the name of the numpy implementation in
            :mod:`csrules.batch._kernels`, or ``None`` to run ``scalar`` per row.
        calendar: whether the function needs the policy's calendar.
        doc: one line for docs.
        holidays: whether it reads the calendar's holiday data (working
            days): a date it touches in a year without official data makes
            the decision estimated (both paths report it).
        inline: optional: given the Python source of each argument and a
            function naming a value for the generated code, source computing
            the same result as ``scalar`` without calling it, or ``None`` to
            call ``scalar``.
    """

    name: str
    args: tuple[str, ...]
    returns: str
    scalar: Callable[..., Any]
    kernel: str | None
    calendar: bool = False
    doc: str = ""
    holidays: bool = False
    inline: _Inline | None = attrs.field(default=None, kw_only=True)

    @property
    def vectorised(self) -> bool:
        """Whether batches compute the function with numpy (not row by row)."""
        return self.kernel is not None


_REGISTRY: dict[str, Function] = {}
#: Every registered function, by name (read-only).
FUNCTIONS: Final[Mapping[str, Function]] = MappingProxyType(_REGISTRY)


def register(function: Function) -> Function:
    """Add a function to :data:`FUNCTIONS` (its name must be new)."""
    if function.name in _REGISTRY:
        msg = f"a function named {function.name!r} is registered already"
        raise ValueError(msg)
    _REGISTRY[function.name] = function
    return function


# ---------------------------------------------------------------- scalar implementations


def _earlier(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b


def _later(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


# pendulum overrides + and - in Python (about 15 µs a call); the C methods of
# the standard library are ~30 times faster and still return pendulum objects.
_date_add = dt.date.__add__
_datetime_add = dt.datetime.__add__
# timedeltas of whole days and hours, built once: building one (from keyword
# arguments, or by multiplying one day) takes several times longer than
# adding it to a date
_SPAN: Final = 1000
_DAYS: Final = tuple(dt.timedelta(days=i) for i in range(-_SPAN, _SPAN + 1))
_HOURS: Final = tuple(dt.timedelta(hours=i) for i in range(-_SPAN, _SPAN + 1))


# A missing date, time or count gives a missing result (None), as a null
# does on the batch path: the comparison it meets is then false.


def _add_days(d: Any, n: int) -> Any:
    if d is None or n is None:
        return None
    near = type(n) is int and -_SPAN <= n <= _SPAN
    delta = _DAYS[n + _SPAN] if near else dt.timedelta(days=n)
    if type(d) is dt.date:
        return d + delta
    if isinstance(d, dt.datetime):
        return _datetime_add(d, delta)
    return _date_add(d, delta)


def _sub_days(d: Any, n: int) -> Any:
    return None if n is None else _add_days(d, -n)


def _hours(n: Any) -> dt.timedelta:
    hours = int(n)
    if -_SPAN <= hours <= _SPAN:
        return _HOURS[hours + _SPAN]
    return dt.timedelta(hours=hours)


def _add_hours(t: Any, n: Any) -> Any:
    if t is None or n is None:
        return None
    return _datetime_add(t, _hours(n))


def _add_minutes(t: Any, n: Any) -> Any:
    if t is None or n is None:
        return None
    return _datetime_add(t, dt.timedelta(minutes=int(n)))


# The working-day functions read the calendar's holiday data: each notes
# (per thread, see csrules._calendar.EstimateProbe) when the dates it read or
# gave lie in a year the data does not cover, so the decision says estimated.


def _note_estimated(cal: Any, first: Any, last: Any) -> None:
    # a calendar of another type (a test's stand-in) knows no estimated years
    between = getattr(cal, "is_estimated_between", None)
    if between is not None and between(first, last):
        ESTIMATES.estimated = True


def _add_working_days(cal: Any, d: Any, n: int) -> Any:
    if d is None or n is None:
        return None
    if type(cal) is WorkCalendar:
        result, estimated = cal.add_working_days_noted(d, n)
        if estimated:
            ESTIMATES.estimated = True
        return result
    result = cal.add_working_days(d, n)
    _note_estimated(cal, d, result)
    return result


def _roll_to_working_day(cal: Any, d: Any) -> Any:
    if d is None:
        return None
    if type(cal) is WorkCalendar:
        result, estimated = cal.roll_to_working_day_noted(d)
        if estimated:
            ESTIMATES.estimated = True
        return result
    result = d if cal.is_workday(d) else cal.next_working_day(d)
    _note_estimated(cal, d, result)
    return result


def _roll_to_weekday_working_day(cal: Any, d: Any) -> Any:
    if d is None:
        return None
    result = d
    while not (cal.is_workday(result) and result.weekday() < 5):
        result = cal.next_working_day(result)
    _note_estimated(cal, d, result)
    return result


def _next_time_of_day(cal: Any, t: Any, at: dt.time) -> Any:
    if t is None or at is None:
        return None
    return cal.next_time_of_day(t, at)


def _add_service_hours(cal: Any, t: Any, hours: Any, opens: dt.time, closes: dt.time) -> Any:
    if t is None or hours is None or opens is None or closes is None:
        return None
    return cal.add_service_hours(t, _hours(hours), opens, closes)


def _service_period_end(cal: Any, t: Any, opens: dt.time, closes: dt.time) -> Any:
    if t is None or opens is None or closes is None:
        return None
    return cal.service_period_end(t, opens, closes)


def _in_shanghai(t: Any) -> Any:
    from csrules._calendar import SHANGHAI

    return None if t is None else t.astimezone(SHANGHAI)


def _time_of_day(t: Any) -> Any:
    if t is None:
        return None
    return local_time(t)


def _days_between(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return (b - a).days


def _zhe(price_factor: Any) -> Any:
    """A price factor as 折 (N折 = N/10 of the price): 0.7 -> "7", 0.65 -> "6.5"."""
    if price_factor is None:
        return None
    return f"{(price_factor * 10).normalize():f}"


#: A plain name in generated source (a local or a bound value): read twice,
#: it is computed once.
PLAIN_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
def _none_or(form: str) -> _Inline:
    """The inline source of a function of a value (``{0}``, a plain name) and
    further arguments (``{1}``...): ``form``, or None for a missing value."""

    def inline(args: Sequence[str], bind: Callable[[object], str]) -> str | None:
        if not PLAIN_NAME.match(args[0]):
            return None
        return f"(None if {args[0]} is None else {form.format(*args)})"

    return inline


def _inline_local_date(args: Sequence[str], bind: Callable[[object], str]) -> str | None:
    # a time at pendulum's UTC+8 zone or the fixed UTC+8 one is read
    # directly; anything else goes through local_date_or_none
    t = args[0]
    if not PLAIN_NAME.match(t):
        return None
    date_of, slow = bind(_date_of), bind(local_date_or_none)
    fast = f"({t}.tzinfo is {bind(_PENDULUM_CST)} or {t}.tzinfo is {bind(CST)})"
    return f"(None if {t} is None else {date_of}({t}) if {fast} else {slow}({t}))"


def _all_in(values: Any, allowed: frozenset[Any]) -> bool | None:
    return None if values is None else allowed.issuperset(values)


def _any_in(values: Any, allowed: frozenset[Any]) -> bool | None:
    return None if values is None else not allowed.isdisjoint(values)


# ---------------------------------------------------------------- the registry

for _function in (
    Function(
        "earlier", ("ordered", "ordered"), "ordered", _earlier, "earlier",
        doc="the smaller of two values, ignoring None",
    ),
    Function(
        "later", ("ordered", "ordered"), "ordered", _later, "later",
        doc="the larger of two values, ignoring None",
    ),
    Function(
        "add_days", ("date|datetime", "int"), "date|datetime", _add_days, "shift",
        doc="a date (or time) n calendar days later",
    ),
    Function(
        "subtract_days", ("date|datetime", "int"), "date|datetime", _sub_days, "shift",
        doc="a date (or time) n calendar days earlier",
    ),
    Function(
        "add_hours", ("datetime", "int"), "datetime", _add_hours, "shift",
        doc="an aware time n hours later",
    ),
    Function(
        "add_minutes", ("datetime", "int"), "datetime", _add_minutes, "shift",
        doc="an aware time n minutes later",
    ),
    Function(
        "add_working_days", ("date", "int"), "date", _add_working_days, "working_days",
        calendar=True, holidays=True,
        doc="the n-th working day after a date (the date itself for 0)",
    ),
    Function(
        "roll_to_working_day", ("date",), "date", _roll_to_working_day, "working_days",
        calendar=True, holidays=True,
        doc="the date if it is a working day, else the next working day",
    ),
    Function(
        "roll_to_weekday_working_day", ("date",), "date", _roll_to_weekday_working_day,
        "working_days", calendar=True, holidays=True,
        doc="the date if it is a working day from Monday to Friday, else the next such day "
        "(an adjusted working Saturday or Sunday is passed over)",
    ),
    Function(
        "next_time_of_day", ("datetime", "time"), "datetime", _next_time_of_day, "time_of_day",
        calendar=True, doc="the first moment strictly after a time whose local time is at",
    ),
    Function(
        "add_service_hours", ("datetime", "int", "time", "time"), "datetime",
        _add_service_hours, "time_of_day",
        calendar=True, doc="a time advanced by n hours counted inside daily service hours",
    ),
    Function(
        "service_period_end", ("datetime", "time", "time"), "datetime",
        _service_period_end, "time_of_day",
        calendar=True, doc="closing time of the service period a moment falls in",
    ),
    Function(
        "local_date", ("datetime",), "date", local_date_or_none, "local_date",
        doc="the Asia/Shanghai calendar date of an aware time (None stays None)",
        inline=_inline_local_date,
    ),
    Function(
        "in_shanghai", ("datetime",), "datetime", _in_shanghai, None,
        doc="the same instant in Asia/Shanghai time",
    ),
    Function(
        "time_of_day", ("datetime",), "time", _time_of_day, None,
        doc="the Asia/Shanghai time of day of an aware time",
    ),
    Function(
        "days_between", ("date", "date"), "int", _days_between, None,
        doc="whole days from the first date to the second",
    ),
    Function(
        "zhe", ("money",), "str", _zhe, None,
        doc="a price factor as 折 (0.7 -> '7', 0.65 -> '6.5')",
    ),
    Function(
        "all_in", ("tuple", "set"), "bool", _all_in, None,
        doc="whether every value of a tuple is one of a set of values (true for none)",
        inline=_none_or("{1}.issuperset({0})"),
    ),
    Function(
        "any_in", ("tuple", "set"), "bool", _any_in, None,
        doc="whether some value of a tuple is one of a set of values",
        inline=_none_or("not {1}.isdisjoint({0})"),
    ),
):  # fmt: skip
    register(_function)
