"""The fact record of one decision: a read-only mapping filled as the tables run.

A kind's generated ``decide`` computes the facts into local variables and
gives the tables' results a :class:`FactRecord` of them: the facts known
before the first table as one tuple (a name's position comes from an index
shared by every decision of the kind), and the tables' outputs and the facts
derived from them in a dictionary that ``decide`` fills as each table runs.
Building a tuple costs far less than building a dictionary of twenty facts,
and the record is read only when a decision is explained.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["FactRecord"]


class FactRecord(Mapping[str, Any]):
    """A read-only mapping of fact names to values (see the module docs).

    Equal to a dict of the same items; pickles as that dict.
    """

    __slots__ = ("_data",)

    # (index: name -> position in values, values, later: name -> value)
    _data: tuple[Mapping[str, int], tuple[Any, ...], Mapping[str, Any]]

    def __getitem__(self, name: str) -> Any:
        index, values, later = self._data
        i = index.get(name)
        if i is None:
            return later[name]
        return values[i]

    def get(self, name: str, default: Any = None) -> Any:
        index, values, later = self._data
        i = index.get(name)
        if i is None:
            return later.get(name, default)
        return values[i]

    def __contains__(self, name: object) -> bool:
        index, _, later = self._data
        return name in index or name in later

    def __iter__(self) -> Iterator[str]:
        index, _, later = self._data
        yield from index
        yield from later

    def __len__(self) -> int:
        _, values, later = self._data
        return len(values) + len(later)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self) == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


_new = object.__new__
_set_data = FactRecord._data.__set__  # type: ignore[attr-defined]


def fact_record(
    index: Mapping[str, int], values: tuple[Any, ...], later: Mapping[str, Any]
) -> FactRecord:
    """A record of ``values`` (positioned by ``index``) and ``later`` (read
    through: the caller may add to it until the decision is made)."""
    record = _new(FactRecord)
    _set_data(record, (index, values, later))
    return record
