"""The reference backend: the stream rules' correlation in plain Python.

It interprets the monitor's stream rules (their :class:`~csrules.stream._facts.Plan`
values). Each rule indexes the earlier records it considers by its key: a
rule counting complaints keeps, per key, the records sorted by time (ties in
arrival order); a rule counting customers keeps, per key, all the reports,
each customer's reports and the latest time each customer reported it. The
records in a window are found by bisection and counted without being
visited: the cost of a complaint grows with the logarithm of the records
sharing its key and with the ``limit`` of records named, not with how many
share the key. Complaints may arrive out of order; a record is inserted at
its place in time.

The one case that visits more is the number of different customers who
made a key's reports within the window of a complaint more than the window
before the latest report on it (a very late one): it looks at each customer
who reported it once.

It needs nothing beyond the standard library; the tests hold the
durable-rules backend to it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import ClassVar, Final

from csrules.stream._facts import (
    RELATED_LIMIT,
    Matches,
    Plan,
    Record,
    RuleMatch,
    restored_members,
)

__all__ = ["ReferenceBackend"]

_NOTHING: Final[tuple[Record, ...]] = ()


class _Series:
    """Records of one key sorted by ``(ts, seq)``, with their times alongside for bisection."""

    __slots__ = ("recs", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.recs: list[Record] = []

    def insert(self, record: Record) -> None:
        times, ts = self.times, record.ts
        if not times or times[-1] <= ts:  # in order of time: the usual case
            times.append(ts)
            self.recs.append(record)
        else:
            at = bisect_right(times, ts)
            times.insert(at, ts)
            self.recs.insert(at, record)

    def remove(self, record: Record) -> bool:
        """Remove ``record``; ``False`` if the series does not hold it."""
        times, recs = self.times, self.recs
        ts, seq = record.ts, record.seq
        at = bisect_left(times, ts)
        end = len(times)
        while at < end and times[at] == ts:
            if recs[at].seq == seq:
                del times[at]
                del recs[at]
                return True
            at += 1
        return False

    def span(self, since: int, until: int) -> tuple[int, int]:
        times = self.times
        return bisect_left(times, since), bisect_right(times, until)

    def any_in(self, since: int, until: int) -> bool:
        times = self.times
        at = bisect_left(times, since)
        return at < len(times) and times[at] <= until


def _latest(recs: list[Record], lo: int, hi: int, limit: int) -> Sequence[Record]:
    """The last ``limit`` records of ``recs[lo:hi]`` (latest by time), in arrival order."""
    if hi <= lo:
        return _NOTHING
    chosen = recs[max(lo, hi - limit) : hi]
    if len(chosen) > 1:
        chosen.sort()  # by seq: arrival order
    return chosen


class _Customers:
    """One key's records for a rule counting customers: all, each customer's, each one's latest."""

    __slots__ = ("by_customer", "latest", "reports")

    def __init__(self) -> None:
        self.reports = _Series()
        self.by_customer: dict[str, _Series] = {}
        # The latest time of each customer's reports, sorted.
        self.latest: list[int] = []

    def insert(self, record: Record) -> None:
        self.reports.insert(record)
        series = self.by_customer.get(record.cust)
        if series is None:
            series = self.by_customer[record.cust] = _Series()
            before = None
        else:
            before = series.times[-1]
        series.insert(record)
        self._moved(before, series.times[-1])

    def remove(self, record: Record) -> None:
        if not self.reports.remove(record):
            return
        series = self.by_customer[record.cust]
        before = series.times[-1]
        series.remove(record)
        if series.times:
            self._moved(before, series.times[-1])
        else:
            del self.by_customer[record.cust]
            self._moved(before, None)

    def _moved(self, before: int | None, after: int | None) -> None:
        if before == after:
            return
        latest = self.latest
        if before is not None:
            del latest[bisect_left(latest, before)]
        if after is not None:
            latest.insert(bisect_right(latest, after), after)

    def customers_in(self, since: int, until: int) -> int:
        """How many different customers made reports between ``since`` and ``until``."""
        if until >= self.reports.times[-1]:  # no report after the window: latest ones decide
            return len(self.latest) - bisect_left(self.latest, since)
        return sum(1 for series in self.by_customer.values() if series.any_in(since, until))


def _key_of(plan: Plan) -> Callable[[Record], object]:
    """The function giving a record's key under a rule (a value, or a tuple of values)."""
    if len(plan.key) == 1:
        return itemgetter(plan.key[0])
    return itemgetter(*plan.key)


class ReferenceBackend:
    """Correlates complaints with per-rule, per-key sorted indexes (see the module docs).

    Args:
        plans: the stream rules, as the monitor runs them.
        limit: the most records each list of the matches holds (the latest).
    """

    name: ClassVar[str] = "reference"

    def __init__(self, plans: Sequence[Plan], limit: int = RELATED_LIMIT) -> None:
        self._limit = limit
        self._plans = tuple(plans)
        self._keys = tuple(_key_of(plan) for plan in self._plans)
        self._series: tuple[dict[object, _Series], ...] = tuple({} for _ in self._plans)
        self._customers: tuple[dict[object, _Customers], ...] = tuple({} for _ in self._plans)

    def add(
        self,
        record: Record,
        members: int,
        windows: Sequence[tuple[int, int]],
        keep: bool = True,
    ) -> Matches | None:
        """Return the earlier records ``record`` correlates with; store it if ``keep``."""
        found: list[RuleMatch | None] | None = None
        limit = self._limit
        for plan in self._plans:
            i = plan.slot
            if not members >> i & 1:
                continue
            key = self._keys[i](record)
            since, until = windows[i]
            match: RuleMatch | None = None
            if plan.customers:
                held = self._customers[i].get(key)
                if held is not None:
                    own = held.by_customer.get(record.cust)
                    if own is not None and own.any_in(since, until):
                        match = RuleMatch(_NOTHING, 0, True, 0)
                    else:
                        lo, hi = held.reports.span(since, until)
                        if hi > lo:
                            match = RuleMatch(
                                _latest(held.reports.recs, lo, hi, limit),
                                hi - lo,
                                False,
                                held.customers_in(since, until),
                            )
            else:
                series = self._series[i].get(key)
                if series is not None:
                    lo, hi = series.span(since, until)
                    if hi > lo:
                        match = RuleMatch(_latest(series.recs, lo, hi, limit), hi - lo, False, 0)
            if match is not None:
                if found is None:
                    found = [None] * len(self._plans)
                found[i] = match
        if keep:
            self._store(record, members)
        return None if found is None else tuple(found)

    def _store(self, record: Record, members: int) -> None:
        for plan in self._plans:
            i = plan.slot
            if not members >> i & 1:
                continue
            key = self._keys[i](record)
            if plan.customers:
                held = self._customers[i].get(key)
                if held is None:
                    held = self._customers[i][key] = _Customers()
                held.insert(record)
            else:
                series = self._series[i].get(key)
                if series is None:
                    series = self._series[i][key] = _Series()
                series.insert(record)

    def _drop(self, record: Record, customer: bool, product: bool) -> None:
        """Take a record out of the rules of the scopes given (those that hold it)."""
        for plan in self._plans:
            if not (product if plan.product else customer):
                continue
            if record[plan.subject] is None:
                continue
            i = plan.slot
            key = self._keys[i](record)
            if plan.customers:
                held = self._customers[i].get(key)
                if held is not None:
                    held.remove(record)
                    if not held.reports.times:
                        del self._customers[i][key]
            else:
                series = self._series[i].get(key)
                if series is not None and series.remove(record) and not series.times:
                    del self._series[i][key]

    def held(self) -> int:
        """How many keys the indexes hold (all rules together)."""
        return sum(map(len, self._series)) + sum(map(len, self._customers))

    def forget(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Drop records no longer retained, from the customer scope and the product scope."""
        for record in customer:
            self._drop(record, True, False)
        for record in product:
            self._drop(record, False, True)

    def remove(self, record: Record, kept: bool) -> None:
        """Undo the last :meth:`add`."""
        if kept:
            self._drop(record, True, True)

    def load(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Store restored records, without correlating them."""
        plans = self._plans
        for record in customer:
            self._store(record, restored_members(plans, record, False))
        for record in product:
            self._store(record, restored_members(plans, record, True))

    def close(self) -> None:
        """Drop every record."""
        for series in self._series:
            series.clear()
        for customers in self._customers:
            customers.clear()
