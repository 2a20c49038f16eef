"""Errors keep their attributes across pickling (process pools, multiprocessing)."""

from __future__ import annotations

import pickle

import pytest

from csrules.exceptions import (
    ArgumentTypeError,
    CalendarError,
    ContractError,
    CsrulesError,
    DomainValueError,
    PolicyError,
    Problem,
    StreamError,
)

ERRORS: list[CsrulesError] = [
    DomainValueError("order.lines[0].unit_price", "-1", "an amount >= 0"),
    ArgumentTypeError("at", 5, "an aware datetime"),
    PolicyError("shop.toml", "refund_days", "expected an integer"),
    CalendarError("2027: holidays: expected a list of dates"),
    ContractError.of(
        (
            Problem("unknown_field", "request.courier_confirmd", "did you mean courier_confirmed?"),
            Problem("missing_field", "order.id", "order.id: missing (required)"),
        ),
        case_id="r1",
    ),
    StreamError("engine failed"),
]


class TestPickling:
    @pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
    def test_round_trip_keeps_type_message_and_attributes(self, error: CsrulesError) -> None:
        """A pickled error comes back as the same class, message and attributes."""
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error)
        assert str(back) == str(error)
        assert vars(back) == vars(error)
