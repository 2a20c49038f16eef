"""What the escalation monitor's backends see: complaint records and matches.

A complaint becomes a :class:`Record` of plain values (strings and integer
microseconds since the epoch), so both backends, the snapshot and the
durable-rules engine work on the same typed facts. A backend answers each
new record with the earlier records it correlates with (:class:`Matches`);
the monitor turns matches into escalations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import ClassVar, Final, NamedTuple, Protocol

import pendulum

from csrules._domain import Topic

__all__ = [
    "DAY_US",
    "QUALITY_TOPICS",
    "RELATED_LIMIT",
    "SHANGHAI_FIXED_FROM_US",
    "SHANGHAI_OFFSET_US",
    "Backend",
    "LocalDay",
    "Matches",
    "Record",
    "epoch_us",
    "local_day",
    "shanghai_date",
    "shanghai_day",
]

#: Topics that report a quality problem with a product (B2C-8.7.5).
QUALITY_TOPICS: Final[frozenset[Topic]] = frozenset(
    {
        Topic.PRODUCT_DEFECT,
        Topic.SIZE_NOT_AS_LABELLED,
        Topic.COLOUR_DIFFERENCE,
        Topic.DAMAGED_GOODS,
    }
)

_US: Final = 1_000_000
#: A day in microseconds.
DAY_US: Final = 86_400 * _US
_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()
_ONE_US: Final = dt.timedelta(microseconds=1)
_LAST_ORDINAL: Final = dt.date.max.toordinal()
_SHANGHAI: Final = pendulum.timezone("Asia/Shanghai")
# Asia/Shanghai has kept +08:00 without daylight saving since 1991-09-15.
#: From this instant (1992-01-01T00:00:00Z) Asia/Shanghai is always +08:00.
SHANGHAI_FIXED_FROM_US: Final = 694_224_000 * _US
#: Asia/Shanghai's offset, +08:00, in microseconds.
SHANGHAI_OFFSET_US: Final = 8 * 3600 * _US
_OFFSET_CACHE_MAX: Final = 4096
_UNKNOWN: Final = -1 << 80  # not an offset any zone has


class Record(NamedTuple):
    """One observed complaint, as the backends and snapshots hold it.

    Attributes:
        seq: the monitor's running number of the complaint (unique, increasing).
        ts: when it was received, in integer microseconds since the epoch.
        cid: the complaint id.
        cust: the customer id.
        dept: the department complained about (its value), or ``None``.
        staff: the staff member complained about, or ``None``.
        sku: the product of a quality report, or ``None`` (also for
            complaints that are not quality reports).
    """

    seq: int
    ts: int
    cid: str
    cust: str
    dept: str | None
    staff: str | None
    sku: str | None

    @property
    def in_customer_scope(self) -> bool:
        """Whether the record can correlate under B2C-8.7.1 (names a department or staff)."""
        return self.dept is not None or self.staff is not None

    @property
    def in_product_scope(self) -> bool:
        """Whether the record is a quality report on a product (B2C-8.7.5)."""
        return self.sku is not None


class Matches(NamedTuple):
    """The earlier records a new record correlates with.

    "Earlier" means observed before the new record (a lower ``seq``); their
    times may be before or after its own, within the window either way.
    Each list holds at most the backend's ``limit`` records: the latest by
    ``(ts, seq)``, listed in arrival order; the counts are of all of them.

    Attributes:
        department: same customer, same department, within the repeat window.
        department_count: how many such records there are.
        staff: same customer, same staff member, within the repeat window.
        staff_count: how many such records there are.
        product_repeat: the same customer already reported the product within
            the quality window (then the product fields are empty: such a
            report never escalates).
        product_peers: quality reports on the same product by other
            customers, within the quality window.
        peer_count: how many such reports there are.
        peer_customers: how many different customers made them.
    """

    department: Sequence[Record]
    department_count: int
    staff: Sequence[Record]
    staff_count: int
    product_repeat: bool
    product_peers: Sequence[Record]
    peer_count: int
    peer_customers: int


#: The most earlier complaints an escalation names in ``related`` by default.
RELATED_LIMIT: Final = 100


class Backend(Protocol):
    """What the monitor needs from a correlation backend.

    An earlier record counts for the new one in a scope when its ``ts`` lies
    between that scope's ``since`` and ``until``, both included: the new
    record's time minus and plus the window in force on its date, the lower
    bound raised to what the monitor still retains (see
    :class:`~csrules.stream.EscalationMonitor`). Records reach :meth:`add`
    in ``seq`` order (arrival order, whatever their times). A backend is
    built with ``limit``, the most records each list of :class:`Matches`
    holds.
    """

    name: ClassVar[str]

    def add(
        self,
        record: Record,
        customer_since: int,
        customer_until: int,
        product_since: int,
        product_until: int,
        keep: bool = True,
    ) -> Matches | None:
        """Store ``record`` and return what it correlates with (``None``: nothing).

        With ``keep`` false the record is correlated but not stored: it is
        already past what the monitor retains, and no later record may
        count it.
        """

    def forget(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Drop records of each scope: they are no longer retained."""

    def remove(self, record: Record, kept: bool) -> None:
        """Undo the last :meth:`add` (of ``record``, stored if ``kept``)."""

    def load(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Store records of a restored snapshot without correlating them."""

    def close(self) -> None:
        """Release the backend's resources."""


# By zone and local date: the epoch microseconds of local midnight, or
# ``None`` when the zone's offset changes that day. Keyed by ``id(zone)``
# (zones may hash slowly); each entry keeps its zone alive, so the id
# cannot be reused while the entry exists.
_midnights: dict[int, tuple[dt.tzinfo, dict[int, int | None]]] = {}


def _midnight_us(tz: dt.tzinfo, ordinal: int) -> int | None:
    """Epoch microseconds of local midnight, or ``None`` if the offset changes that day."""
    start = dt.datetime.fromordinal(ordinal).replace(tzinfo=tz)
    end = start.replace(hour=23, minute=59, second=59, microsecond=999_999)
    # Both ends, both folds: a gap or repeat at either end of the day shows
    # up as a fold-dependent offset, a change within the day as a difference.
    offsets = {moment.replace(fold=fold).utcoffset() for moment in (start, end) for fold in (0, 1)}
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    if offset is None:
        return None
    return (ordinal - _EPOCH_ORDINAL) * DAY_US - offset // _ONE_US


def _zone_days(tz: dt.tzinfo) -> dict[int, int | None]:
    if len(_midnights) >= _OFFSET_CACHE_MAX:
        _midnights.clear()
    days: dict[int, int | None] = {}
    _midnights[id(tz)] = (tz, days)
    return days


def epoch_us(when: dt.datetime) -> int:
    """``when`` (aware) in integer microseconds since 1970-01-01T00:00:00Z.

    Exact, and cheaper than :meth:`datetime.timestamp` (which asks the zone
    on every call and rounds through a float): local midnight is computed
    once per zone and date, and the zone is asked only on days its offset
    changes.

    Raises:
        ValueError: ``when`` is naive.
    """
    tz = when.tzinfo
    ordinal = when.toordinal()
    entry = _midnights.get(id(tz))
    if entry is None or entry[0] is not tz:
        if tz is None:
            return _exact_us(when, ordinal)
        days = _zone_days(tz)
    else:
        days = entry[1]
    midnight = days.get(ordinal, _UNKNOWN)
    if midnight is _UNKNOWN:
        if len(days) >= _OFFSET_CACHE_MAX:
            days.clear()
        midnight = days[ordinal] = _midnight_us(tz, ordinal)
    if midnight is None:
        return _exact_us(when, ordinal)
    return midnight + (when.hour * 3600 + when.minute * 60 + when.second) * _US + when.microsecond


class LocalDay(NamedTuple):
    """A calendar day in one zone through which the zone's offset does not change.

    Within it, a time's epoch microseconds are ``midnight_us`` plus its time
    of day. ``start`` and ``end`` (the next midnight) carry the zone object
    itself, so comparing a time of that zone with them compares the local
    fields, in C, without asking the zone.
    """

    tz: dt.tzinfo
    start: dt.datetime
    end: dt.datetime
    midnight_us: int


def local_day(when: dt.datetime) -> LocalDay | None:
    """The day of ``when`` in its own zone, or ``None`` if the offset changes that day."""
    tz = when.tzinfo
    if tz is None:
        return None
    ordinal = when.toordinal()
    if ordinal >= _LAST_ORDINAL:
        return None
    midnight = _midnight_us(tz, ordinal)
    if midnight is None:
        return None
    start = dt.datetime.fromordinal(ordinal).replace(tzinfo=tz)
    end = dt.datetime.fromordinal(ordinal + 1).replace(tzinfo=tz)
    return LocalDay(tz, start, end, midnight)


def _exact_us(when: dt.datetime, ordinal: int) -> int:
    seconds = (ordinal - _EPOCH_ORDINAL) * 86_400 + when.hour * 3600 + when.minute * 60
    return (seconds + when.second) * _US + when.microsecond - _exact_offset_us(when)


def _exact_offset_us(when: dt.datetime) -> int:
    offset = when.utcoffset()
    if offset is None:
        msg = f"a time-zone aware datetime is needed, got {when!r}"
        raise ValueError(msg)
    return offset // _ONE_US


def shanghai_day(ts: int) -> int:
    """The Asia/Shanghai date of an instant (epoch microseconds), as days since 1970-01-01."""
    if ts >= SHANGHAI_FIXED_FROM_US:
        return (ts + SHANGHAI_OFFSET_US) // DAY_US
    instant = pendulum.from_timestamp(ts // _US, tz=pendulum.UTC)
    return instant.in_tz(_SHANGHAI).date().toordinal() - _EPOCH_ORDINAL


def shanghai_date(ts: int) -> dt.date:
    """The Asia/Shanghai calendar date of an instant given in epoch microseconds."""
    return dt.date.fromordinal(_EPOCH_ORDINAL + shanghai_day(ts))
