"""Small helpers shared by the rule sets: local dates and times."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Final

from pendulum.tz import fixed_timezone

#: Asia/Shanghai has kept UTC+8 without daylight saving since 1991; a fixed
#: offset converts far faster than a zone lookup on the hot path.
CST: Final = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
#: pendulum's own UTC+8 zone (``pendulum.parse`` and the JSON codec give
#: times in it): recognised by identity, the quickest test.
_PENDULUM_CST: Final = fixed_timezone(28800)
_ZONES: Final = frozenset({"Asia/Shanghai", "PRC", "Asia/Chongqing", "Asia/Harbin"})
_date_of = dt.datetime.date
_astimezone = dt.datetime.astimezone


def _at_utc8(tz: object) -> bool:
    """Whether a time zone is always UTC+8: pendulum's UTC+8 zone or
    :data:`CST` (by identity, the quickest test), a pendulum FixedTimezone
    of 28800 seconds east of UTC, or a zone named like Asia/Shanghai."""
    return (
        tz is _PENDULUM_CST
        or tz is CST
        or getattr(tz, "offset", None) == 28800
        or getattr(tz, "name", None) in _ZONES
    )


def local_date(t: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware time (dates before 1991
    are placed at UTC+8 too)."""
    return _date_of(t) if _at_utc8(t.tzinfo) else _date_of(_astimezone(t, CST))


def local_date_or_none(t: dt.datetime | None) -> dt.date | None:
    """:func:`local_date`, passing ``None`` through."""
    return None if t is None else local_date(t)


def to_cst(t: dt.datetime) -> dt.datetime:
    """The same instant as a plain ``datetime`` at UTC+8."""
    return _astimezone(t, CST)


def local_time(t: dt.datetime) -> dt.time:
    """The Asia/Shanghai time of day of an aware time."""
    return t.time() if _at_utc8(t.tzinfo) else _astimezone(t, CST).time()


def value_kind(t: type) -> str:
    """The kind of a value of type ``t``: ``"enum"``, ``"bool"``, ``"int"``,
    ``"float"``, ``"money"`` (Decimal), ``"datetime"``, ``"date"``,
    ``"time"``, ``"str"`` or ``"object"`` (the batch encodings, and what
    compares with what at construction)."""
    if issubclass(t, enum.Enum):
        return "enum"
    if issubclass(t, bool):
        return "bool"
    if issubclass(t, int):
        return "int"
    if issubclass(t, float):
        return "float"
    if issubclass(t, decimal.Decimal):
        return "money"
    if issubclass(t, dt.datetime):
        return "datetime"
    if issubclass(t, dt.date):
        return "date"
    if issubclass(t, dt.time):
        return "time"
    if issubclass(t, str):
        return "str"
    return "object"
