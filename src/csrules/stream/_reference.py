"""The reference backend: the correlation in plain Python.

It keeps each customer's complaints about a department or staff member, and
each product's quality reports, in arrival order, and compares a new
complaint with every one of them whose time falls in its window (complaints
may arrive out of order, so the queues are not sorted by time). It needs
nothing beyond the standard library, so the monitor falls back to it where
durable-rules cannot be imported, and the tests hold the durable-rules
backend to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from csrules.stream._facts import Matches, Record

__all__ = ["ReferenceBackend"]


class ReferenceBackend:
    """Correlates complaints with dictionaries of per-customer and per-product queues."""

    name: ClassVar[str] = "reference"

    def __init__(self) -> None:
        self._by_customer: dict[str, deque[Record]] = {}
        self._by_product: dict[str, deque[Record]] = {}

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
        department: list[Record] = []
        staff: list[Record] = []
        peers: list[Record] = []
        repeat = False
        dept, person, sku = record.dept, record.staff, record.sku
        if dept is not None or person is not None:
            earlier = self._by_customer.get(record.cust)
            if earlier is None:
                if keep:
                    self._by_customer[record.cust] = deque((record,))
            else:
                for old in earlier:  # in arrival order
                    if customer_since <= old.ts <= customer_until:
                        if dept is not None and old.dept == dept:
                            department.append(old)
                        if person is not None and old.staff == person:
                            staff.append(old)
                if keep:
                    earlier.append(record)
        if sku is not None:
            reports = self._by_product.get(sku)
            if reports is None:
                if keep:
                    self._by_product[sku] = deque((record,))
            else:
                customer = record.cust
                for old in reports:
                    if product_since <= old.ts <= product_until:
                        if old.cust == customer:
                            repeat = True
                        else:
                            peers.append(old)
                if keep:
                    reports.append(record)
        if department or staff or peers or repeat:
            return Matches(department, staff, repeat, peers)
        return None

    def forget(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Drop the oldest records of each scope (they left every window)."""
        _drop(self._by_customer, customer, "cust")
        _drop(self._by_product, product, "sku")

    def load(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Store restored records, oldest first, without correlating them."""
        for record in customer:
            self._by_customer.setdefault(record.cust, deque()).append(record)
        for record in product:
            if record.sku is not None:
                self._by_product.setdefault(record.sku, deque()).append(record)

    def close(self) -> None:
        """Drop every record."""
        self._by_customer.clear()
        self._by_product.clear()


def _drop(index: dict[str, deque[Record]], records: Sequence[Record], key: str) -> None:
    for record in records:
        name: str = getattr(record, key)
        queue = index[name]
        queue.popleft()
        if not queue:
            del index[name]
