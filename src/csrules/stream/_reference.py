"""The reference backend: the correlation in plain Python.

It keeps each customer's complaints about a department or staff member, and
each product's quality reports, in arrival order, and compares a new
complaint with every one of them whose time falls in its window (complaints
may arrive out of order, so they are not sorted by time). It needs nothing
beyond the standard library, so the monitor falls back to it where
durable-rules cannot be imported, and the tests hold the durable-rules
backend to it.

Most customers and products have one complaint in a window, so a key holds
its only record as it is, and a queue once there are more.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar, TypeAlias

from csrules.stream._facts import Matches, Record

__all__ = ["ReferenceBackend"]

#: What one customer or product holds: its only record, or its records in arrival order.
_Held: TypeAlias = Record | deque[Record]


class ReferenceBackend:
    """Correlates complaints with dictionaries of per-customer and per-product records."""

    name: ClassVar[str] = "reference"

    def __init__(self) -> None:
        self._by_customer: dict[str, _Held] = {}
        self._by_product: dict[str, _Held] = {}

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
        department: list[Record] | None = None
        staff: list[Record] | None = None
        peers: list[Record] | None = None
        repeat = False
        dept, person, sku = record.dept, record.staff, record.sku
        if dept is not None or person is not None:
            customer = record.cust
            held = self._by_customer.get(customer)
            if held is None:
                if keep:
                    self._by_customer[customer] = record
            else:
                earlier = held if isinstance(held, deque) else (held,)
                for old in earlier:  # in arrival order
                    if customer_since <= old.ts <= customer_until:
                        if dept is not None and old.dept == dept:
                            if department is None:
                                department = [old]
                            else:
                                department.append(old)
                        if person is not None and old.staff == person:
                            if staff is None:
                                staff = [old]
                            else:
                                staff.append(old)
                if keep:
                    if isinstance(held, deque):
                        held.append(record)
                    else:
                        self._by_customer[customer] = deque((held, record))
        if sku is not None:
            held = self._by_product.get(sku)
            if held is None:
                if keep:
                    self._by_product[sku] = record
            else:
                customer = record.cust
                reports = held if isinstance(held, deque) else (held,)
                for old in reports:
                    if product_since <= old.ts <= product_until:
                        if old.cust == customer:
                            repeat = True
                        elif peers is None:
                            peers = [old]
                        else:
                            peers.append(old)
                if keep:
                    if isinstance(held, deque):
                        held.append(record)
                    else:
                        self._by_product[sku] = deque((held, record))
        if department is None and staff is None and peers is None and not repeat:
            return None
        return Matches(department or (), staff or (), repeat, peers or ())

    def forget(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Drop the first records of each scope, in arrival order (no longer retained)."""
        by_customer = self._by_customer
        for record in customer:
            name = record.cust
            held = by_customer[name]
            if not isinstance(held, deque):  # its only record: this one
                del by_customer[name]
            else:
                held.popleft()
                if not held:
                    del by_customer[name]
        by_product = self._by_product
        for record in product:
            sku = record.sku
            if sku is None:  # not a quality report: never held here
                continue
            held = by_product[sku]
            if not isinstance(held, deque):
                del by_product[sku]
            else:
                held.popleft()
                if not held:
                    del by_product[sku]

    def load(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Store restored records, in arrival order, without correlating them."""
        for record in customer:
            _hold(self._by_customer, record.cust, record)
        for record in product:
            if record.sku is not None:
                _hold(self._by_product, record.sku, record)

    def close(self) -> None:
        """Drop every record."""
        self._by_customer.clear()
        self._by_product.clear()


def _hold(index: dict[str, _Held], name: str, record: Record) -> None:
    held = index.get(name)
    if held is None:
        index[name] = record
    elif isinstance(held, deque):
        held.append(record)
    else:
        index[name] = deque((held, record))
