"""The reference backend: the correlation in plain Python.

Earlier complaints are indexed by their correlation keys: (customer,
department) and (customer, staff member) for B2C-8.7.1, the product for
B2C-8.7.5 (with, per product, each customer's reports and the latest time
each customer reported it). Each key holds its records sorted by time
(ties in arrival order), so the records in a window are found by bisection
and counted without being visited: the cost of a complaint grows with the
logarithm of the records sharing its key and with the ``limit`` of records
named, not with how many share the key. Complaints may arrive out of order;
a record is inserted at its place in time.

The one case that visits more is the number of different customers who
reported a product within the window of a complaint more than the window
before the latest report on it (a very late one): it looks at each
customer who reported the product once.

It needs nothing beyond the standard library; the tests hold the
durable-rules backend to it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import ClassVar, Final

from csrules.stream._facts import RELATED_LIMIT, Matches, Record

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

    def remove(self, record: Record) -> None:
        times, recs = self.times, self.recs
        at = bisect_left(times, record.ts)
        seq = record.seq
        while recs[at].seq != seq:
            at += 1
        del times[at]
        del recs[at]

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


class _Product:
    """One product's quality reports: all of them, each customer's, and each customer's latest."""

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
        self.reports.remove(record)
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
        """How many different customers reported the product between ``since`` and ``until``."""
        if until >= self.reports.times[-1]:  # no report after the window: latest ones decide
            return len(self.latest) - bisect_left(self.latest, since)
        return sum(1 for series in self.by_customer.values() if series.any_in(since, until))


class ReferenceBackend:
    """Correlates complaints with per-key sorted indexes (see the module docs).

    Args:
        limit: the most records each list of the matches holds (the latest).
    """

    name: ClassVar[str] = "reference"

    def __init__(self, limit: int = RELATED_LIMIT) -> None:
        self._limit = limit
        self._by_department: dict[tuple[str, str], _Series] = {}
        self._by_staff: dict[tuple[str, str], _Series] = {}
        self._by_product: dict[str, _Product] = {}

    def add(
        self,
        record: Record,
        customer_since: int,
        customer_until: int,
        product_since: int,
        product_until: int,
        keep: bool = True,
    ) -> Matches | None:
        """Return the earlier records ``record`` correlates with; store it if ``keep``."""
        department: Sequence[Record] = _NOTHING
        staff: Sequence[Record] = _NOTHING
        peers: Sequence[Record] = _NOTHING
        n_department = n_staff = n_peers = n_customers = 0
        repeat = False
        limit = self._limit
        dept, person, sku = record.dept, record.staff, record.sku
        if dept is not None:
            series = self._by_department.get((record.cust, dept))
            if series is not None:
                lo, hi = series.span(customer_since, customer_until)
                n_department = hi - lo
                department = _latest(series.recs, lo, hi, limit)
        if person is not None:
            series = self._by_staff.get((record.cust, person))
            if series is not None:
                lo, hi = series.span(customer_since, customer_until)
                n_staff = hi - lo
                staff = _latest(series.recs, lo, hi, limit)
        if sku is not None:
            product = self._by_product.get(sku)
            if product is not None:
                own = product.by_customer.get(record.cust)
                if own is not None and own.any_in(product_since, product_until):
                    repeat = True
                else:
                    lo, hi = product.reports.span(product_since, product_until)
                    n_peers = hi - lo
                    if n_peers:
                        peers = _latest(product.reports.recs, lo, hi, limit)
                        n_customers = product.customers_in(product_since, product_until)
        if keep:
            self._store(record)
        if not (n_department or n_staff or n_peers or repeat):
            return None
        return Matches(
            department, n_department, staff, n_staff, repeat, peers, n_peers, n_customers
        )

    def _store(self, record: Record) -> None:
        if record.dept is not None:
            key = (record.cust, record.dept)
            series = self._by_department.get(key)
            if series is None:
                series = self._by_department[key] = _Series()
            series.insert(record)
        if record.staff is not None:
            key = (record.cust, record.staff)
            series = self._by_staff.get(key)
            if series is None:
                series = self._by_staff[key] = _Series()
            series.insert(record)
        if record.sku is not None:
            product = self._by_product.get(record.sku)
            if product is None:
                product = self._by_product[record.sku] = _Product()
            product.insert(record)

    def _drop(self, record: Record, customer: bool, product: bool) -> None:
        if customer and record.dept is not None:
            key = (record.cust, record.dept)
            series = self._by_department[key]
            series.remove(record)
            if not series.times:
                del self._by_department[key]
        if customer and record.staff is not None:
            key = (record.cust, record.staff)
            series = self._by_staff[key]
            series.remove(record)
            if not series.times:
                del self._by_staff[key]
        if product and record.sku is not None:
            held = self._by_product[record.sku]
            held.remove(record)
            if not held.reports.times:
                del self._by_product[record.sku]

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
        for record in customer:
            self._store(record._replace(sku=None))
        for record in product:
            self._store(record._replace(dept=None, staff=None))

    def close(self) -> None:
        """Drop every record."""
        self._by_department.clear()
        self._by_staff.clear()
        self._by_product.clear()
