"""Small helpers shared by the rule sets: local dates and times."""

from __future__ import annotations

import datetime as dt
from typing import Final

#: Asia/Shanghai has kept UTC+8 without daylight saving since 1991; a fixed
#: offset converts far faster than a zone lookup on the hot path.
CST: Final = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_ZONES: Final = frozenset({"Asia/Shanghai", "PRC", "Asia/Chongqing", "Asia/Harbin"})
_date_of = dt.datetime.date
_astimezone = dt.datetime.astimezone


def local_date(t: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware time (dates before 1991
    are placed at UTC+8 too)."""
    tz = t.tzinfo
    # always UTC+8: this zone, a pendulum FixedTimezone of 28800 seconds east
    # of UTC, or a zone named like Asia/Shanghai
    if tz is CST or getattr(tz, "offset", None) == 28800 or getattr(tz, "name", None) in _ZONES:
        return _date_of(t)
    return _date_of(_astimezone(t, CST))


def local_date_or_none(t: dt.datetime | None) -> dt.date | None:
    """:func:`local_date`, passing ``None`` through."""
    if t is None:
        return None
    tz = t.tzinfo
    if tz is CST or getattr(tz, "offset", None) == 28800 or getattr(tz, "name", None) in _ZONES:
        return _date_of(t)
    return _date_of(_astimezone(t, CST))


def to_cst(t: dt.datetime) -> dt.datetime:
    """The same instant as a plain ``datetime`` at UTC+8."""
    return _astimezone(t, CST)


def local_time(t: dt.datetime) -> dt.time:
    """The Asia/Shanghai time of day of an aware time."""
    tz = t.tzinfo
    if tz is CST or getattr(tz, "offset", None) == 28800 or getattr(tz, "name", None) in _ZONES:
        return t.time()
    return _astimezone(t, CST).time()
