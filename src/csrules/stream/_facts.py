"""What the escalation monitor's backends see: complaint records and matches.

A complaint becomes a :class:`Record` of plain values (strings and integer
microseconds since the epoch), so both backends, the snapshot and the
durable-rules engine work on the same typed facts. A backend answers each
new record with the earlier records it correlates with (:class:`Matches`);
the monitor turns matches into escalations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final, NamedTuple, Protocol, TypeAlias

import pendulum

from csrules._domain import Topic
from csrules.rules._stream_rules import StreamCount, StreamRule
from csrules.rules.complaints import QUALITY_TOPICS as _DECLARED_QUALITY_TOPICS

__all__ = [
    "DAY_US",
    "QUALITY_TOPICS",
    "RELATED_LIMIT",
    "SHANGHAI_FIXED_FROM_US",
    "SHANGHAI_OFFSET_US",
    "Backend",
    "LocalDay",
    "Matches",
    "Plan",
    "Record",
    "RuleMatch",
    "epoch_us",
    "local_day",
    "plans",
    "restored_members",
    "shanghai_date",
    "shanghai_day",
]

#: Topics that report a quality problem with a product (B2C-8.7.5), as the
#: complaint rules declare them.
QUALITY_TOPICS: Final[frozenset[Topic]] = frozenset(_DECLARED_QUALITY_TOPICS)

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


class Record(NamedTuple):
    """One observed complaint, as the backends and snapshots hold it.

    Attributes:
        seq: the monitor's running number of the complaint (unique, increasing).
        ts: when it was received, in integer microseconds since the epoch.
        cid: the complaint id.
        cust: the customer id.
        dept: the department complained about (its value), or ``None``
            (also when no stream rule about a department considers it).
        staff: the staff member complained about, or ``None`` (likewise).
        sku: the product, when a stream rule about a product considers the
            complaint (with the bundled rules: a quality report), else ``None``.
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


class RuleMatch(NamedTuple):
    """The earlier records a new record correlates with under one stream rule.

    "Earlier" means observed before the new record (a lower ``seq``); their
    times may be before or after its own, within the rule's window either
    way. ``earlier`` holds at most the backend's ``limit`` records: the
    latest by ``(ts, seq)``, listed in arrival order; ``total`` counts all.

    Attributes:
        earlier: the earlier records sharing the rule's key in the window
            (for a rule counting customers: the other customers' records).
        total: how many such records there are.
        repeat: for a rule counting customers, the same customer already
            has such a record in the window (then the other fields are
            empty: such a complaint never escalates).
        customers: for a rule counting customers, how many different
            customers made the earlier records.
    """

    earlier: Sequence[Record]
    total: int
    repeat: bool
    customers: int


#: A backend's answer: per stream rule (in the monitor's order), its match or ``None``.
Matches: TypeAlias = tuple[RuleMatch | None, ...]

#: Record positions of the complaint fields a stream rule's key may name.
_POSITION: Final[Mapping[str, int]] = {
    "customer_id": 3,
    "about_department": 4,
    "about_staff": 5,
    "sku": 6,
}


class Plan(NamedTuple):
    """A stream rule as the backends run it.

    Attributes:
        slot: its place among the monitor's rules (its bit in a membership mask).
        id: the rule's id.
        product: whether it is in the product scope (its subject is the SKU)
            rather than the customer scope (a department or staff member).
        key: the record positions of its key fields.
        subject: the record position of its subject.
        customers: whether it counts different customers (else complaints).
    """

    slot: int
    id: str
    product: bool
    key: tuple[int, ...]
    subject: int
    customers: bool


def plans(rules: Sequence[StreamRule]) -> tuple[Plan, ...]:
    """The plans of checked stream rules, in their order."""
    return tuple(
        Plan(
            i,
            rule.id,
            rule.subject == "sku",
            tuple(_POSITION[name] for name in rule.key),
            _POSITION[rule.subject],
            rule.count is StreamCount.CUSTOMERS,
        )
        for i, rule in enumerate(rules)
    )


def restored_members(plans: Sequence[Plan], record: Record, product: bool) -> int:
    """The membership mask of a restored record of one scope: its rules whose subject it has."""
    mask = 0
    for plan in plans:
        if plan.product is product and record[plan.subject] is not None:
            mask |= 1 << plan.slot
    return mask


#: The most earlier complaints an escalation names in ``related`` by default.
RELATED_LIMIT: Final = 100


class Backend(Protocol):
    """What the monitor needs from a correlation backend.

    A backend is built with the stream rules' :class:`Plan` values and
    ``limit``, the most records each :class:`RuleMatch` lists. An earlier
    record counts for the new one under a rule when both are members of it
    (bit ``plan.slot`` of their membership masks), they share the rule's key,
    and the earlier record's ``ts`` lies between the rule's ``since`` and
    ``until`` for the new record, both included: its time minus and plus the
    rule's window in force on its date, the lower bound raised to what the
    monitor still retains (see :class:`~csrules.stream.EscalationMonitor`).
    Records reach :meth:`add` in ``seq`` order (arrival order, whatever their
    times).
    """

    name: ClassVar[str]

    def add(
        self,
        record: Record,
        members: int,
        windows: Sequence[tuple[int, int]],
        keep: bool = True,
    ) -> Matches | None:
        """Store ``record`` and return what it correlates with (``None``: nothing).

        ``windows`` holds each rule's ``(since, until)``. With ``keep`` false
        the record is correlated but not stored: it is already past what the
        monitor retains, and no later record may count it.
        """

    def forget(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Drop records of each scope: they are no longer retained."""

    def remove(self, record: Record, kept: bool) -> None:
        """Undo the last :meth:`add` (of ``record``, stored if ``kept``)."""

    def load(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Store records of a restored snapshot without correlating them.

        A restored record is a member of the rules of its scope whose subject it has.
        """

    def close(self) -> None:
        """Release the backend's resources."""


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


def epoch_us(when: dt.datetime) -> int:
    """``when`` (aware) in integer microseconds since 1970-01-01T00:00:00Z.

    Exact (no float on the way, unlike :meth:`datetime.timestamp`); the
    zone is asked once.

    Raises:
        ValueError: ``when`` is naive.
    """
    return _exact_us(when, when.toordinal())


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
