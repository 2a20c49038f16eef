"""Generate realistic customer-service cases for analysis, at any size.

Run:  python examples/generate.py OUT [--kind KIND] [--rows N] [--seed S]
                                      [--start DATE] [--end DATE] [--chunk-rows N]
                                      [--max-lines N] [--flat-lines] [--progress]

OUT's extension picks the format: ``.jsonl`` (one contract case per line,
exactly what ``csrules decide`` reads), ``.csv`` or ``.parquet`` (one row per
case, one column per contract field named by its JSON path with dots, such as
``order.signed_at`` or ``request.condition.tag_intact``). With ``--kind all``
CSV and Parquet get one file per kind: ``cases.parquet`` becomes
``cases-return.parquet``, ``cases-complaint.parquet``, ... JSON Lines keeps all
kinds in one file, in order of time.

The cases follow the calendar: more orders (and so, a few days later, more
returns) around 3.8, 618, Double 11 and Double 12, fewer on the days off of
statutory holidays (from ``csrules.WorkCalendar``); returns follow signing,
most within 7 days and a tail beyond; repeat complaints about the same
department or staff member and quality reports on popular products make the
escalations of B2C-8.7.1 and B2C-8.7.5 happen. ``--start`` and ``--end`` bound
the case times (``at``); the orders behind them may be older.

The same arguments give the same bytes (with the same versions of Python,
numpy and pyarrow); ``--chunk-rows`` changes how the cases are written, not
which. Cases are made one hour of case time at a time and written as they
come: JSON Lines and CSV every 1,000 rows, Parquet one row group of
``--chunk-rows`` rows (default 50,000) at a time, so memory does not grow with
``--rows``.

Parquet types: times are ``timestamp[ms, tz=Asia/Shanghai]``, money and
``promotion.price_factor`` are ``decimal128(12, 2)`` (exact, like the JSON
decimal strings), flags are booleans, ``order.lines`` is a list of structs
(``--flat-lines``: columns ``order.lines.0.sku``, ``order.lines.0.unit_price``,
..., up to ``--max-lines``, empty where an order has fewer lines). CSV writes
the contract's JSON text of each value: times ISO-8601 with ``+08:00``, money
``"199.90"``, flags ``true``/``false``, nothing for ``null`` and
``order.lines`` as JSON. Parquet needs pyarrow: pip install 'csrules[frames]'.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import csv
import datetime as dt
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from statistics import NormalDist
from typing import IO, Any, NoReturn

import numpy as np

from csrules import WorkCalendar

KINDS = ("return", "complaint", "promotion", "price_adjustment")
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
ZONE = "Asia/Shanghai"
OFFSET = 8 * 3600  # Asia/Shanghai has kept +08:00 since 1991
DAY = 86400
#: Share of each kind with ``--kind all``.
KIND_SHARES = {"return": 0.60, "complaint": 0.30, "promotion": 0.03, "price_adjustment": 0.07}
#: Most rows one unit of generation holds (an hour of case times, split when busier).
PIECE_ROWS = 20_000
#: Most rows JSON Lines and CSV hold before writing them.
TEXT_CHUNK_ROWS = 1000
LOOKBACK_DAYS = 75  # orders behind a case may be this much older than --start

# ------------------------------------------------------------------ the columns
#
# One schema per kind: (JSON path, type). Types: str, int, bool, time (epoch
# seconds), money (integer hundredths), lines (a list of line dicts).

LINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("sku", "str"),
    ("unit_price", "money"),
    ("quantity", "int"),
    ("special_price", "bool"),
    ("category", "str"),
)
_HEAD = (("id", "str"), ("kind", "str"), ("at", "time"))
_PROMOTION = (
    ("promotion.name", "str"),
    ("promotion.starts_at", "time"),
    ("promotion.ends_at", "time"),
    ("promotion.planned_sales", "money"),
    ("promotion.price_factor", "money"),
    ("promotion.coupon_value", "money"),
    ("promotion.exclusive", "bool"),
    ("promotion.free_shipping", "bool"),
)
SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    "return": (
        *_HEAD,
        ("order.id", "str"),
        ("order.customer_id", "str"),
        ("order.status", "str"),
        ("order.in_warehouse_system", "bool"),
        ("order.placed_at", "time"),
        ("order.paid_at", "time"),
        ("order.shipped_at", "time"),
        ("order.signed_at", "time"),
        ("order.payment_method", "str"),
        ("order.lines", "lines"),
        ("order.shipping_fee", "money"),
        ("order.free_shipping_promotion", "bool"),
        ("request.type", "str"),
        ("request.reason", "str"),
        ("request.courier_confirmed", "bool"),
        ("request.condition.tag_intact", "bool"),
        ("request.condition.unwashed", "bool"),
        ("request.condition.undamaged", "bool"),
        ("request.condition.delivery_note_complete", "bool"),
        ("request.condition.order_number_given", "bool"),
        ("request.condition.delivery_note_number_given", "bool"),
        ("request.condition.packaging_intact", "bool"),
        ("request.proof_submitted_at", "time"),
        ("request.goods_received_at", "time"),
    ),
    "complaint": (
        *_HEAD,
        ("complaint.customer_id", "str"),
        ("complaint.channel", "str"),
        ("complaint.topic", "str"),
        ("complaint.sku", "str"),
        ("complaint.about_department", "str"),
        ("complaint.about_staff", "str"),
        ("complaint.order_amount", "money"),
        ("complaint.customer_paid_total", "money"),
        ("complaint.contact_count", "int"),
        ("complaint.delivered_at", "time"),
    ),
    "promotion": (*_HEAD, *_PROMOTION),
    "price_adjustment": (
        *_HEAD,
        *_PROMOTION,
        ("paid", "bool"),
        ("customer_paid_total", "money"),
        ("requested_amount", "money"),
        ("manager_approved", "bool"),
    ),
}
#: Objects written as ``null`` when every field of theirs is unset.
NULLABLE_OBJECTS = ("request.condition",)

Row = dict[str, Any]
#: One step of building a nested JSON object: key, converter, column, sub-plan, nullable.
_Step = tuple[str, "Callable[[Any], Any] | None", str, "list[_Step] | None", bool]

# ------------------------------------------------------------------ the mixes
#
# Weighted tables: (value, weight) pairs; the weights need not sum to 1.

Table = tuple[tuple[Any, ...], list[float]]


def table(*pairs: tuple[Any, float]) -> Table:
    """A weighted table for :func:`pick`: the values and their cumulative weights (to 1)."""
    total = sum(w for _, w in pairs)
    cum, acc = [], 0.0
    for _, w in pairs:
        acc += w / total
        cum.append(acc)
    cum[-1] = 1.0
    return tuple(v for v, _ in pairs), cum


def pick(rng: random.Random, t: Table) -> Any:
    """One value of a weighted table."""
    return t[0][bisect.bisect_right(t[1], rng.random())]


CATEGORIES = table(
    ("apparel", 34), ("shoes", 11), ("electronics", 9), ("home", 10), ("beauty", 8),
    ("books", 5), ("toys", 5), ("sports", 5.5), ("fresh", 4), ("custom_made", 2),
    ("digital_download", 2), ("periodical", 1.5), ("non_returnable_confirmed", 1),
)  # fmt: skip
PRICE_RANGE = {  # yuan
    "apparel": (59, 599), "shoes": (99, 899), "electronics": (99, 5999), "home": (29, 999),
    "beauty": (39, 799), "books": (19, 129), "toys": (29, 499), "sports": (49, 1299),
    "fresh": (29, 299), "custom_made": (199, 2999), "digital_download": (9, 199),
    "periodical": (15, 60), "non_returnable_confirmed": (49, 999),
}  # fmt: skip
CATEGORY_ZH = {
    "apparel": "服饰", "shoes": "鞋靴", "electronics": "数码", "home": "家居", "beauty": "美妆",
    "books": "图书", "toys": "玩具", "sports": "运动", "fresh": "生鲜", "custom_made": "定制",
    "digital_download": "数字内容", "periodical": "期刊", "non_returnable_confirmed": "贴身用品",
}  # fmt: skip
PAYMENT = table(("alipay", 62), ("bank_card", 20), ("gift_card", 5), ("cod", 13))
PREPAID = table(("alipay", 62), ("bank_card", 20), ("gift_card", 5))
SIGNED_REQUEST = table(
    ("return", 58), ("exchange", 25), ("refund", 15), ("redirect", 1), ("cancel", 1)
)
RETURN_REASON = table(
    ("changed_mind", 34), ("size_does_not_fit", 20), ("quality_defect", 16),
    ("damaged_in_transit", 8), ("wrong_item", 7), ("size_not_as_labelled", 6),
)  # fmt: skip
EXCHANGE_REASON = table(
    ("size_does_not_fit", 55), ("quality_defect", 15), ("size_not_as_labelled", 12),
    ("changed_mind", 8), ("wrong_item", 6), ("damaged_in_transit", 4),
)  # fmt: skip
REFUND_REASON = table(
    ("quality_defect", 30), ("damaged_in_transit", 20), ("changed_mind", 20),
    ("wrong_item", 15), ("size_not_as_labelled", 10), ("stock_out", 5),
)  # fmt: skip
UNPAID_REQUEST = table(
    (("cancel", "changed_mind"), 60), (("cancel", "address_change"), 10),
    (("redirect", "address_change"), 15), (("exchange", "size_does_not_fit"), 10),
    (("refund", "changed_mind"), 5),
)  # fmt: skip
UNSHIPPED_REQUEST = table(
    (("cancel", "changed_mind"), 42), (("cancel", "stock_out"), 8),
    (("refund", "stock_out"), 8), (("refund", "changed_mind"), 7),
    (("redirect", "address_change"), 15), (("exchange", "size_does_not_fit"), 12),
    (("exchange", "stock_out"), 5), (("return", "changed_mind"), 3),
)  # fmt: skip
SHIPPED_REQUEST = table(
    (("redirect", "address_change"), 45), (("return", "refused_delivery"), 25),
    (("return", "wrong_address"), 10), (("cancel", "changed_mind"), 20),
)  # fmt: skip
LATE_REQUEST = table(  # closed or cancelled orders
    (("return", "changed_mind"), 35), (("return", "quality_defect"), 20),
    (("refund", "changed_mind"), 25), (("refund", "quality_defect"), 20),
)  # fmt: skip
CHANNELS = table(("im", 45), ("phone", 30), ("message", 12), ("email", 8), ("walk_in", 5))
TOPICS = table(
    ("shipping_status", 14), ("refund_progress", 12), ("product_defect", 10),
    ("service", 8), ("not_received", 6), ("damaged_goods", 6), ("size_not_as_labelled", 5),
    ("colour_difference", 5), ("order_total_query", 5), ("extra_or_wrong_items", 4),
    ("payment_verification", 4), ("wrong_quantity", 3), ("packaging_damaged", 3),
    ("cannot_pay_online", 3), ("website_bug", 3), ("catalogue_suggestion", 3),
    ("tag_missing", 2), ("cannot_order", 2), ("password_reset_failed", 2),
)  # fmt: skip
PRODUCT_TOPICS = frozenset(
    {"product_defect", "size_not_as_labelled", "colour_difference", "damaged_goods",
     "tag_missing", "packaging_damaged", "wrong_quantity", "extra_or_wrong_items"}
)  # fmt: skip
ORDER_TOPICS = PRODUCT_TOPICS | {"not_received", "shipping_status", "refund_progress",
                                 "order_total_query", "payment_verification"}  # fmt: skip
DEPARTMENTS = table(
    ("operations", 40), ("customer_service", 35), ("finance", 10), ("technology", 10),
    ("logistics", 5),
)  # fmt: skip
CONTACTS = table((1, 78), (2, 15), (3, 5), (4, 1.5), (5, 0.5))
PROMO_LENGTH = table(
    ((1, 1), 10), ((2, 3), 20), ((7, 7), 20), ((10, 14), 15), ((15, 20), 10),
    ((30, 31), 15), ((45, 90), 10),
)  # fmt: skip
PROMO_NAMES = {
    1: "限时秒杀",
    3: "周末特惠",
    7: "品类周",
    20: "新品首发",
    31: "月度好价",
    90: "换季清仓",
}
PRICE_FACTORS = table(
    (50, 4), (60, 8), (70, 14), (75, 10), (80, 20), (85, 18), (88, 8), (90, 12), (95, 6),
)  # fmt: skip
COUPONS = table((0, 40), (1000, 12), (2000, 12), (3000, 10), (5000, 12), (10000, 9), (20000, 5))
#: Customer activity by hour of day (online shopping: evenings peak).
CUSTOMER_HOURS = (
    0.9, 0.5, 0.3, 0.2, 0.15, 0.15, 0.25, 0.5, 0.9, 1.3, 1.6, 1.6,
    1.4, 1.4, 1.5, 1.5, 1.4, 1.3, 1.3, 1.5, 1.8, 2.0, 1.9, 1.4,
)  # fmt: skip
OFFICE_HOURS = tuple(1.0 if 9 <= h < 18 and h != 12 else 0.0 for h in range(24))
#: Signed → return request, in whole days 0..45: most inside 7 days, a tail beyond.
RETURN_DELAY = np.array(
    [0.08, 0.19, 0.18, 0.15, 0.12, 0.09, 0.07] + [0.05 * 0.65**k for k in range(39)]
)
RETURN_DELAY /= RETURN_DELAY.sum()
#: Placed → signed, in whole days (index 0 is the day of ordering).
FULFIL = np.array([0.0, 0.12, 0.33, 0.27, 0.15, 0.08, 0.05])
#: Placed → shipped (for requests on parcels under way).
IN_TRANSIT = np.array([0.05, 0.45, 0.35, 0.15])
#: Order → complaint, in days.
COMPLAINT_LAG = np.array([0.5**k for k in range(15)])

# ------------------------------------------------------------------ the calendar


def _day_number(d: dt.date) -> int:
    return d.toordinal() - dt.date(1970, 1, 1).toordinal()


def _promotion_factor(d: dt.date) -> float:
    """How much busier ordering is on a shopping festival's days (1.0: an ordinary day)."""
    m, day = d.month, d.day
    if m == 3 and day in (7, 8):
        return 1.8  # 3.8 Goddess' day
    if m == 6:
        return {18: 4.0, 17: 2.0, 16: 2.0, 19: 1.3, 20: 1.3}.get(day, 1.4 if day < 18 else 1.0)
    if (m == 10 and day >= 20) or (m == 11 and day <= 10):
        return 2.5 if (m == 10 and day == 31) or (m == 11 and day == 1) else 1.3
    if m == 11 and day in (11, 12):
        return 8.0 if day == 11 else 1.5
    if m == 12 and day in (10, 11, 12):
        return 3.0 if day == 12 else 1.3
    return 1.0


def holiday_days_off(days: Sequence[dt.date], calendar: WorkCalendar) -> np.ndarray:
    """Which days are days off of a statutory holiday: runs of 3 or more days off
    holding a weekday (an ordinary weekend is 2 days off)."""
    off = [not calendar.is_workday(d) for d in days]
    result = np.zeros(len(days), dtype=bool)
    i = 0
    while i < len(days):
        if not off[i]:
            i += 1
            continue
        j = i
        while j < len(days) and off[j]:
            j += 1
        if j - i >= 3 and any(days[k].weekday() < 5 for k in range(i, j)):
            result[i:j] = True
        i = j
    return result


class Calendar:
    """Day weights over the order grid (LOOKBACK_DAYS before --start to --end)."""

    def __init__(self, start: dt.date, end: dt.date) -> None:
        self.start, self.end = start, end
        self.offset = LOOKBACK_DAYS
        first = start - dt.timedelta(days=LOOKBACK_DAYS)
        n = (end - first).days + 1
        pad = 10  # to see whole holiday runs at the edges
        days = [first + dt.timedelta(days=i) for i in range(-pad, n + pad)]
        cal = WorkCalendar.official()
        holiday = holiday_days_off(days, cal)[pad:-pad]
        self.days = days[pad:-pad]
        self.workday = np.array([cal.is_workday(d) for d in self.days])
        weekday = np.array([d.weekday() for d in self.days])
        self.holiday = holiday
        self.order = (
            np.array([_promotion_factor(d) for d in self.days])
            * np.where(weekday >= 5, 1.15, 1.0)
            * np.where(holiday, 0.6, 1.0)
        )
        self.signed = _lagged(self.order, FULFIL)
        self.n_days = (end - start).days + 1

    def window(self, weights: np.ndarray) -> np.ndarray:
        """Weights of the case days (--start to --end) only."""
        return np.asarray(weights[self.offset : self.offset + self.n_days], dtype=float)


def _lagged(weights: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Weights of an event that follows another by a lag in days: a convolution."""
    out = np.zeros_like(weights)
    for k, p in enumerate(lag):
        out[k:] += p * weights[: len(weights) - k]
    return out


# ------------------------------------------------------------------ streams of cases


class Stream:
    """One sort of case: its kind, its share, its weight per day and per hour."""

    def __init__(
        self, kind: str, name: str, share: float, days: np.ndarray, hours: Sequence[float]
    ) -> None:
        self.kind, self.name, self.share = kind, name, share
        self.days = days / days.sum()
        self.hours = np.array(hours) / sum(hours)


def streams(cal: Calendar, kinds: Sequence[str]) -> list[Stream]:
    """The streams of the chosen kinds, shares summing to 1."""
    service = np.where(cal.holiday, 0.75, 1.0)  # fewer contacts on holidays' days off
    away = np.where(cal.holiday, 0.85, 1.0)  # and fewer returns asked for
    candidates = [
        Stream(
            "return",
            "signed",
            0.78,
            cal.window(_lagged(cal.signed, RETURN_DELAY) * away),
            CUSTOMER_HOURS,
        ),
        Stream("return", "unpaid", 0.05, cal.window(cal.order), CUSTOMER_HOURS),
        Stream("return", "unshipped", 0.08, cal.window(cal.order), CUSTOMER_HOURS),
        Stream(
            "return", "shipped", 0.06, cal.window(_lagged(cal.order, IN_TRANSIT)), CUSTOMER_HOURS
        ),
        Stream("return", "closed", 0.02, cal.window(service), CUSTOMER_HOURS),
        Stream("return", "cancelled", 0.01, cal.window(cal.order), CUSTOMER_HOURS),
        Stream(
            "complaint",
            "complaint",
            1.0,
            cal.window((_lagged(cal.order, COMPLAINT_LAG) + 2.0) * service),
            CUSTOMER_HOURS,
        ),
        Stream(
            "promotion",
            "promotion",
            1.0,
            cal.window(np.where(cal.workday, 1.0, 0.05)),
            OFFICE_HOURS,
        ),
        Stream("price_adjustment", "price_adjustment", 1.0, cal.window(cal.order), CUSTOMER_HOURS),
    ]
    chosen = [s for s in candidates if s.kind in kinds]
    for s in chosen:
        s.share *= KIND_SHARES[s.kind] if len(kinds) > 1 else 1.0
    return chosen


# ------------------------------------------------------------------ formatting


class Clock:
    """Fast formatting of epoch seconds as ISO-8601 at +08:00."""

    def __init__(self) -> None:
        self._dates: dict[int, str] = {}

    def iso(self, t: int) -> str:
        local = t + OFFSET
        day, sec = divmod(local, DAY)
        date = self._dates.get(day)
        if date is None:
            date = self._dates.setdefault(day, dt.date.fromordinal(day + 719163).isoformat())
        h, rest = divmod(sec, 3600)
        return f"{date}T{h:02d}:{rest // 60:02d}:{rest % 60:02d}+08:00"


def money(cents: int) -> str:
    """Integer hundredths as a decimal string: 19990 → "199.90"."""
    return f"{cents // 100}.{cents % 100:02d}"


# ------------------------------------------------------------------ the generator


def _hash01(*parts: int) -> float:
    """A fixed pseudo-random number in [0, 1) for a tuple of integers."""
    h = 0x811C9DC5
    for p in parts:
        h = ((h ^ (p & 0xFFFFFFFF)) * 0x01000193) & 0xFFFFFFFF
        h ^= h >> 15
        h = (h * 0x2C1B3C6D) & 0xFFFFFFFF
        h ^= h >> 12
    return h / 2**32


_NORMAL = NormalDist()


class Generator:
    """Cases of the chosen kinds, in order of time, from a seed."""

    def __init__(self, kinds: Sequence[str], rows: int, seed: int, start: dt.date,
                 end: dt.date, max_lines: int = 3) -> None:  # fmt: skip
        self.kinds, self.rows, self.seed = tuple(kinds), rows, seed
        self.max_lines = max_lines
        self.cal = Calendar(start, end)
        self.streams = streams(self.cal, kinds)
        self.customers = max(50, rows // 4)
        self.skus = max(40, rows // 60)
        self.staff = max(12, min(400, rows // 200))
        self.t0 = _day_number(start) * DAY - OFFSET  # --start at 00:00 in Shanghai
        self.counters = dict.fromkeys(KINDS, 0)
        self.orders = 0
        self.recent: collections.deque[tuple[int, str | None, str | None, str, str | None, int]]
        self.recent = collections.deque(maxlen=400)
        self.signed_delay = self._delay_tables()

    # -- time: how many cases fall in each hour

    def hour_counts(self) -> np.ndarray:
        """Cases per hour of the range, drawn at once (a multinomial)."""
        n_days = self.cal.n_days
        weights = np.zeros(n_days * 24)
        for s in self.streams:
            weights += s.share * np.outer(s.days, s.hours).ravel()
        weights /= weights.sum()
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, 0x70DE])))
        counts: np.ndarray = rng.multinomial(self.rows, weights)
        return counts

    def cases(self) -> Iterator[Row]:
        """Every case, in order of its time."""
        counts = self.hour_counts()
        for hour in np.flatnonzero(counts):
            yield from self._hour(int(hour), int(counts[hour]))

    def _hour(self, hour: int, count: int) -> Iterator[Row]:
        day = hour // 24
        weights = [s.share * s.days[day] * s.hours[hour % 24] for s in self.streams]
        choose = table(*zip(self.streams, weights, strict=True))
        pieces = -(-count // PIECE_ROWS)
        base = self.t0 + hour * 3600
        for piece in range(pieces):
            n = count // pieces + (piece < count % pieces)
            rng = random.Random(f"{self.seed}:{hour}:{piece}")
            lo = base + 3600 * piece // pieces
            hi = base + 3600 * (piece + 1) // pieces
            times = sorted(lo + int(rng.random() * (hi - lo)) for _ in range(n))
            for t in times:
                stream: Stream = pick(rng, choose)
                self.counters[stream.kind] += 1
                yield self._make(stream, rng, t, day)

    def _make(self, stream: Stream, rng: random.Random, at: int, day: int) -> Row:
        kind = stream.kind
        prefix = {"return": "R", "complaint": "C", "promotion": "P", "price_adjustment": "PA"}
        row: Row = {"id": f"{prefix[kind]}{self.counters[kind]:08d}", "kind": kind, "at": at}
        if kind == "return":
            self._return(row, stream.name, rng, at, day)
        elif kind == "complaint":
            self._complaint(row, rng, at)
        elif kind == "promotion":
            self._promotion(row, rng, at, planning=True)
        else:
            self._price_adjustment(row, rng, at)
        return row

    # -- customers and products

    def customer(self, rng: random.Random) -> int:
        """A customer, the regulars more often."""
        return int(self.customers * rng.random() ** 2)

    def paid_total(self, customer: int, at: int) -> int:
        """What a customer has paid so far (cents): fixed per customer, growing over the range."""
        u = min(max(_hash01(self.seed, customer, 1), 1e-6), 1 - 1e-6)
        base = math.exp(math.log(1500) + 1.3 * _NORMAL.inv_cdf(u))
        growth = 0.6 + 0.4 * (at - self.t0) / max(1, self.cal.n_days * DAY)
        return int(base * growth) * 100

    def product(self, rng: random.Random) -> tuple[str, str, int]:
        """A product: its id, category and list price (cents); within a category the
        popular products come up more often. A product's price is fixed for a seed."""
        category = pick(rng, CATEGORIES)
        c = CATEGORIES[0].index(category)
        share = CATEGORIES[1][c] - (CATEGORIES[1][c - 1] if c else 0.0)
        n = int(max(3, self.skus * share) * rng.random() ** 2)
        lo, hi = PRICE_RANGE[category]
        price = lo * (hi / lo) ** _hash01(self.seed, c, n, 3)
        cents = int(price) * 100 + (90 if _hash01(self.seed, c, n, 4) < 0.3 else 0)
        return f"SKU{c + 1:02d}{n:05d}", category, cents

    # -- returns

    def _delay_tables(self) -> list[list[float]]:
        """Per case day, the signed → request delay given the case day (weights of
        signings on each earlier day times the delay's own weights), cumulative."""
        cal = self.cal
        out = []
        for i in range(cal.n_days):
            g = cal.offset + i
            w = np.array([cal.signed[g - d] * p for d, p in enumerate(RETURN_DELAY)])
            cum = np.cumsum(w / w.sum())
            cum[-1] = 1.0
            out.append(cum.tolist())
        return out

    def _order(self, rng: random.Random, status: str, placed: int) -> Row:
        self.orders += 1
        lines: list[Row] = []
        n_lines = min(self.max_lines, 1 if rng.random() < 0.78 else 2 if rng.random() < 0.8 else 3)
        peak = _promotion_factor(dt.date.fromordinal((placed + OFFSET) // DAY + 719163)) > 1.2
        for _ in range(n_lines):
            sku, category, price = self.product(rng)
            special = rng.random() < (0.35 if peak else 0.12)
            if special:
                price = price * 8 // 1000 * 100
            quantity = 1 if rng.random() < 0.86 else 2 if rng.random() < 0.75 else 3
            lines.append({"sku": sku, "unit_price": price, "quantity": quantity,
                          "special_price": special, "category": category})  # fmt: skip
        amount = sum(line["unit_price"] * line["quantity"] for line in lines)
        free = rng.random() < (0.7 if peak else 0.15)
        fee = (
            0
            if free or amount >= 9900
            else pick(rng, table((600, 3), (800, 3), (1000, 3), (1200, 1)))
        )
        return {
            "order.id": f"O{self.orders:09d}",
            "order.customer_id": f"U{self.customer(rng):07d}",
            "order.status": status,
            "order.in_warehouse_system": False,
            "order.placed_at": placed,
            "order.paid_at": None,
            "order.shipped_at": None,
            "order.signed_at": None,
            "order.payment_method": pick(rng, PAYMENT),
            "order.lines": lines,
            "order.shipping_fee": fee,
            "order.free_shipping_promotion": free,
        }

    def _return(self, row: Row, scenario: str, rng: random.Random, at: int, day: int) -> None:
        r = rng.random
        condition = None
        goods_received = None
        courier = False
        if scenario == "signed":
            d = bisect.bisect_right(self.signed_delay[day], r())
            signed = ((at + OFFSET) // DAY - d) * DAY - OFFSET + int((9 + 11 * r()) * 3600)
            if signed >= at:
                signed = at - 600 - int(r() * 3 * 3600)
            shipped = signed - int((18 + 70 * r() ** 1.5) * 3600)
            paid = shipped - int((2 + 40 * r() ** 2) * 3600)
            placed = paid - int((1 + 20 * r()) * 60)
            order = self._order(rng, "signed", placed)
            order["order.in_warehouse_system"] = True
            order["order.shipped_at"], order["order.signed_at"] = shipped, signed
            if order["order.payment_method"] == "cod":
                order["order.paid_at"] = signed if r() < 0.6 else None
            else:
                order["order.paid_at"] = paid
            kind = pick(rng, SIGNED_REQUEST)
            if kind == "return":
                reason = pick(rng, RETURN_REASON)
            elif kind == "exchange":
                reason = pick(rng, EXCHANGE_REASON)
            elif kind == "refund":
                reason = pick(rng, REFUND_REASON)
            elif kind == "redirect":
                reason = "address_change"
            else:
                reason = "changed_mind"
            if kind in ("return", "exchange"):
                condition = self._condition(rng, reason)
                if r() < 0.25:
                    goods_received = at + int((2 + 4 * r()) * DAY)
            courier = reason == "damaged_in_transit" and r() < 0.6
        elif scenario in ("unpaid", "unshipped", "cancelled"):
            placed = at - int((0.2 + 30 * r() ** 2) * 3600)
            status = {"unpaid": "confirmed_unpaid", "unshipped": "paid_unshipped"}.get(
                scenario, "cancelled"
            )
            order = self._order(rng, status, placed)
            if scenario == "unshipped" or (scenario == "cancelled" and r() < 0.5):
                if order["order.payment_method"] == "cod":
                    order["order.payment_method"] = pick(rng, PREPAID)
                order["order.paid_at"] = placed + int((at - placed) * 0.2 * r())
                order["order.in_warehouse_system"] = scenario == "unshipped" and r() < 0.45
            if scenario == "cancelled":
                kind, reason = pick(rng, LATE_REQUEST)
            else:
                kind, reason = pick(
                    rng, UNPAID_REQUEST if scenario == "unpaid" else UNSHIPPED_REQUEST
                )
        elif scenario == "shipped":
            shipped = at - int((2 + 70 * r()) * 3600)
            paid = shipped - int((2 + 30 * r() ** 2) * 3600)
            placed = paid - int((1 + 20 * r()) * 60)
            order = self._order(rng, "shipped", placed)
            order["order.in_warehouse_system"] = True
            order["order.shipped_at"] = shipped
            if order["order.payment_method"] != "cod":
                order["order.paid_at"] = paid
            kind, reason = pick(rng, SHIPPED_REQUEST)
        else:  # closed: signed long ago, the trade completed
            signed = at - int((20 + 90 * r()) * DAY)
            shipped = signed - int((18 + 70 * r()) * 3600)
            placed = shipped - int((3 + 40 * r()) * 3600)
            order = self._order(rng, "closed", placed)
            order["order.in_warehouse_system"] = True
            order["order.shipped_at"], order["order.signed_at"] = shipped, signed
            order["order.paid_at"] = (
                signed if order["order.payment_method"] == "cod" else placed + 300
            )
            kind, reason = pick(rng, LATE_REQUEST)
        row.update(order)
        row["request.type"] = kind
        row["request.reason"] = reason
        row["request.courier_confirmed"] = courier
        names = (
            "tag_intact",
            "unwashed",
            "undamaged",
            "delivery_note_complete",
            "order_number_given",
            "delivery_note_number_given",
            "packaging_intact",
        )
        for i, name in enumerate(names):
            row[f"request.condition.{name}"] = None if condition is None else condition[i]
        row["request.proof_submitted_at"] = at if r() < 0.85 else None
        row["request.goods_received_at"] = goods_received

    @staticmethod
    def _condition(rng: random.Random, reason: str) -> tuple[bool, ...]:
        r = rng.random
        faulty = reason in ("quality_defect", "damaged_in_transit")
        return (
            r() < 0.97,
            r() < 0.99,
            r() < (0.6 if faulty else 0.97),
            r() < 0.98,
            r() < 0.99,
            r() < 0.96,
            r() < (0.8 if faulty else 0.95),
        )

    # -- complaints

    def _complaint(self, row: Row, rng: random.Random, at: int) -> None:
        r = rng.random
        follow_up = self.recent[int(r() * len(self.recent))] if self.recent and r() < 0.1 else None
        if follow_up is not None and at - follow_up[5] < 25 * DAY:
            customer, department, staff, topic, sku_id, _ = follow_up
            contacts = 2 if r() < 0.7 else 3
        else:
            customer = self.customer(rng)
            topic = pick(rng, TOPICS)
            sku_id = None
            if r() < (0.85 if topic in PRODUCT_TOPICS else 0.3 if topic in ORDER_TOPICS else 0):
                sku_id = self.product(rng)[0]
            department = None
            if r() < (0.6 if topic == "service" else 0.15):
                department = (
                    "customer_service"
                    if topic == "service" and r() < 0.7
                    else pick(rng, DEPARTMENTS)
                )
            staff = (
                f"A{1 + int(self.staff * r() ** 1.5):03d}"
                if r() < (0.5 if topic == "service" else 0.05)
                else None
            )
            contacts = pick(rng, CONTACTS)
        if department is not None or staff is not None:
            self.recent.append((customer, department, staff, topic, sku_id, at))
        amount = None
        if topic in ORDER_TOPICS and r() < 0.8:
            amount = int(math.exp(math.log(40) + r() * math.log(60))) * 100 + (
                90 if r() < 0.4 else 0
            )
        delivered = None
        if topic in PRODUCT_TOPICS | {"not_received"} and r() < 0.7:
            delivered = at - int((0.3 + 10 * r() ** 2) * DAY)
        row.update({
            "complaint.customer_id": f"U{customer:07d}",
            "complaint.channel": pick(rng, CHANNELS),
            "complaint.topic": topic,
            "complaint.sku": sku_id,
            "complaint.about_department": department,
            "complaint.about_staff": staff,
            "complaint.order_amount": amount,
            "complaint.customer_paid_total": max(self.paid_total(customer, at), amount or 0),
            "complaint.contact_count": contacts,
            "complaint.delivered_at": delivered,
        })  # fmt: skip

    # -- promotions

    def _promotion(self, row: Row, rng: random.Random, at: int, *, planning: bool,
                   phase: str = "") -> None:  # fmt: skip
        r = rng.random
        local_day = (at + OFFSET) // DAY
        at_date = dt.date.fromordinal(local_day + 719163)
        category = pick(rng, CATEGORIES)
        festival = None
        for month, mday, name, first, last in (
            (6, 18, "618年中大促", (6, 1), (6, 20)),
            (11, 11, "双11全球狂欢节", (10, 20), (11, 11)),
            (12, 12, "双12年终盛典", (12, 10), (12, 12)),
        ):
            year = at_date.year + (at_date.month > month)
            opens = dt.date(year, *first)
            if planning:
                near = 3 <= (opens - at_date).days <= 60
            else:
                near = -20 <= (dt.date(year, month, mday) - at_date).days <= 15
            if near and r() < (0.5 if planning else 0.7):
                festival = (name, opens, dt.date(year, *last))
                break
        if festival is not None:
            name = f"{festival[0]}·{CATEGORY_ZH[category]}"
            starts = _day_number(festival[1]) * DAY - OFFSET
            ends = (_day_number(festival[2]) + 1) * DAY - OFFSET - 1
            planned = int(math.exp(math.log(300_000) + r() * math.log(20))) * 100
        else:
            lo, hi = pick(rng, PROMO_LENGTH)
            length = lo + int((hi - lo + 1) * r())
            label = next(v for k, v in PROMO_NAMES.items() if length <= k)
            name = f"{label}·{CATEGORY_ZH[category]}"
            if planning:
                start_day = local_day + 3 + int(40 * r())
            else:
                start_day = {"before": local_day + 1 + int(10 * r()),
                             "running": local_day - int(length * r()),
                             "after": local_day - length - int(5 * r())}[phase]  # fmt: skip
            starts = start_day * DAY - OFFSET
            ends = (start_day + length) * DAY - OFFSET - 1
            if phase == "after" and ends >= at:
                ends = at - 3600
                starts = min(starts, ends - DAY)
            planned = int(math.exp(math.log(10_000) + r() * math.log(80))) * 100
        row.update({
            "promotion.name": name,
            "promotion.starts_at": starts,
            "promotion.ends_at": ends,
            "promotion.planned_sales": planned,
            "promotion.price_factor": pick(rng, PRICE_FACTORS),
            "promotion.coupon_value": pick(rng, COUPONS),
            "promotion.exclusive": r() < 0.3,
            "promotion.free_shipping": r() < 0.45,
        })  # fmt: skip

    def _price_adjustment(self, row: Row, rng: random.Random, at: int) -> None:
        phase = pick(rng, table(("before", 35), ("running", 50), ("after", 15)))
        self._promotion(row, rng, at, planning=False, phase=phase)
        customer = self.customer(rng)
        before = row["promotion.starts_at"] > at
        requested = int(math.exp(math.log(5) + rng.random() * math.log(80))) * 100
        row.update({
            "paid": rng.random() < 0.75,
            "customer_paid_total": self.paid_total(customer, at),
            "requested_amount": requested,
            "manager_approved": before and rng.random() < 0.08,
        })  # fmt: skip


# ------------------------------------------------------------------ writers


def _columns(kind: str, flat_lines: bool, max_lines: int) -> list[tuple[str, str]]:
    """The columns of a kind in CSV and Parquet: ``order.lines`` one column, or flat."""
    out: list[tuple[str, str]] = []
    for path, typ in SCHEMAS[kind]:
        if typ == "lines" and flat_lines:
            out.extend(
                (f"{path}.{i}.{name}", t) for i in range(max_lines) for name, t in LINE_FIELDS
            )
        else:
            out.append((path, typ))
    return out


def _flat_lines(row: Row, max_lines: int) -> Row:
    flat = dict(row)
    lines = flat.pop("order.lines")
    for i in range(max_lines):
        line = lines[i] if i < len(lines) else {}
        for name, _ in LINE_FIELDS:
            flat[f"order.lines.{i}.{name}"] = line.get(name)
    return flat


class Writer:
    """Turns each row into its output form at once and writes a chunk at a time."""

    def __init__(self, path: Path, kind: str | None, chunk: int) -> None:
        self.path, self.kind, self.chunk = path, kind, chunk
        self.rows = 0
        self.pending = 0
        self.clock = Clock()
        self.converters: dict[str, Callable[[Any], Any]] = {
            "time": self.clock.iso,
            "money": money,
            "lines": self._lines,
        }

    def add(self, row: Row) -> None:
        """Take one row; write the chunk when it is full."""
        self.keep(row)
        self.rows += 1
        self.pending += 1
        if self.pending >= self.chunk:
            self.flush()

    def flush(self) -> None:
        """Write the rows taken since the last chunk."""
        if self.pending:
            self.write()
            self.pending = 0

    def keep(self, row: Row) -> None:
        raise NotImplementedError

    def write(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.flush()

    def text(self, typ: str, value: Any) -> Any:
        """A value as the contract writes it in JSON."""
        convert = self.converters.get(typ)
        return value if convert is None or value is None else convert(value)

    def _lines(self, lines: list[Row]) -> list[dict[str, Any]]:
        return [
            {
                "sku": line["sku"],
                "unit_price": money(line["unit_price"]),
                "quantity": line["quantity"],
                "special_price": line["special_price"],
                "category": line["category"],
            }
            for line in lines
        ]


class JsonLinesWriter(Writer):
    """One contract case per line, keys in the order ``case_to_json`` writes them."""

    def __init__(self, path: Path, kind: str | None, chunk: int) -> None:
        super().__init__(path, kind, chunk)
        self.file = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        self.plans = {k: self._plan(schema, "") for k, schema in SCHEMAS.items()}
        self.lines: list[str] = []

    def _plan(self, columns: Sequence[tuple[str, str]], prefix: str) -> list[_Step]:
        """How to build a nested object: per key, a converter and a column, or a sub-plan."""
        plan: list[_Step] = []
        seen: set[str] = set()
        for column, typ in columns:
            key = column[len(prefix) :].split(".")[0]
            if key in seen:
                continue
            seen.add(key)
            here = prefix + key
            if column == here:
                plan.append((key, self.converters.get(typ), column, None, False))
            else:
                inner = [(c, t) for c, t in columns if c.startswith(here + ".")]
                sub = self._plan(inner, here + ".")
                plan.append((key, None, here, sub, here in NULLABLE_OBJECTS))
        return plan

    def _build(self, plan: list[_Step], row: Row) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, convert, column, sub, nullable in plan:
            if sub is not None:
                obj = self._build(sub, row)
                if nullable and all(v is None for v in obj.values()):
                    out[key] = None
                else:
                    out[key] = obj
            else:
                value = row[column]
                out[key] = value if convert is None or value is None else convert(value)
        return out

    def case(self, row: Row) -> dict[str, Any]:
        """The nested JSON case of a row."""
        return self._build(self.plans[row["kind"]], row)

    def keep(self, row: Row) -> None:
        self.lines.append(json.dumps(self.case(row), ensure_ascii=False) + "\n")

    def write(self) -> None:
        self.file.write("".join(self.lines))
        self.lines = []

    def close(self) -> None:
        super().close()
        self.file.close()


class CsvWriter(Writer):
    """One row per case; the contract's JSON text of each value, ``order.lines`` as JSON."""

    def __init__(self, path: Path, kind: str, chunk: int, flat: bool, max_lines: int) -> None:
        super().__init__(path, kind, chunk)
        self.flat, self.max_lines = flat, max_lines
        self.columns = _columns(kind, flat, max_lines)
        self.file = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.csv = csv.writer(self.file, lineterminator="\n")
        self.csv.writerow([path for path, _ in self.columns])
        self.cells: list[list[str]] = []

    def cell(self, typ: str, value: Any) -> str:
        if value is None:
            return ""
        if typ == "bool":
            return "true" if value else "false"
        if typ == "lines":
            return json.dumps(self.text(typ, value), ensure_ascii=False)
        return str(self.text(typ, value))

    def keep(self, row: Row) -> None:
        if self.flat:
            row = _flat_lines(row, self.max_lines)
        self.cells.append([self.cell(typ, row[path]) for path, typ in self.columns])

    def write(self) -> None:
        self.csv.writerows(self.cells)
        self.cells = []

    def close(self) -> None:
        super().close()
        self.file.close()


class ParquetWriter(Writer):
    """One row group per chunk; typed columns (see the module's docstring)."""

    def __init__(self, path: Path, kind: str, chunk: int, flat: bool, max_lines: int) -> None:
        super().__init__(path, kind, chunk)
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.flat, self.max_lines = flat, max_lines
        self.columns = _columns(kind, flat, max_lines)
        self.types = {
            "str": pa.string(),
            "int": pa.int32(),
            "bool": pa.bool_(),
            "time": pa.timestamp("ms", tz=ZONE),  # what Parquet stores: no seconds unit
            "money": pa.decimal128(12, 2),
        }
        self.types["lines"] = pa.list_(
            pa.struct([(name, self.types[t]) for name, t in LINE_FIELDS])
        )
        self.schema = pa.schema([(path, self.types[typ]) for path, typ in self.columns])
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.values: list[list[Any]] = [[] for _ in self.columns]

    @staticmethod
    def _decimal(cents: int | None) -> Decimal | None:
        return None if cents is None else Decimal(cents).scaleb(-2)

    def keep(self, row: Row) -> None:
        if self.flat:
            row = _flat_lines(row, self.max_lines)
        for (path, typ), values in zip(self.columns, self.values, strict=True):
            value = row[path]
            if typ == "money":
                value = self._decimal(value)
            elif typ == "time" and value is not None:
                value *= 1000
            elif typ == "lines":
                value = [dict(line, unit_price=self._decimal(line["unit_price"])) for line in value]
            values.append(value)

    def write(self) -> None:
        arrays = [
            self.pa.array(values, type=self.types[typ])
            for (_, typ), values in zip(self.columns, self.values, strict=True)
        ]
        self.writer.write_table(self.pa.Table.from_arrays(arrays, schema=self.schema))
        self.values = [[] for _ in self.columns]

    def close(self) -> None:
        super().close()
        self.writer.close()


# ------------------------------------------------------------------ the command


class _Parser(argparse.ArgumentParser):
    """Reports a bad argument in one line, on the stream it is given."""

    err: IO[str] | None = None

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=self.err or sys.stderr)
        raise SystemExit(2)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line of the generator."""
    p = _Parser(
        prog="generate.py",
        description="Generate realistic csrules cases (JSON Lines, CSV or Parquet by OUT's "
        "extension), the same bytes for the same arguments.",
    )
    p.add_argument(
        "out",
        metavar="OUT",
        type=Path,
        help="output file: .jsonl (or .ndjson), .csv or .parquet; with --kind all, "
        "CSV and Parquet write OUT's stem + '-return', '-complaint', ... instead",
    )
    p.add_argument("--kind", choices=(*KINDS, "all"), default="all",
                   help="which cases (default: all, mixed 60%% returns, 30%% complaints, "
                   "7%% price adjustments, 3%% promotions)")  # fmt: skip
    p.add_argument(
        "--rows", type=_positive, default=10_000, help="number of cases in all (default: 10000)"
    )
    p.add_argument("--seed", type=_seed, default=1, help="random seed (default: 1)")
    p.add_argument(
        "--start",
        type=_date,
        default=dt.date(2026, 1, 1),
        help="first day of the case times, YYYY-MM-DD (default: 2026-01-01)",
    )
    p.add_argument(
        "--end",
        type=_date,
        default=dt.date(2026, 12, 31),
        help="last day of the case times, YYYY-MM-DD (default: 2026-12-31)",
    )
    p.add_argument(
        "--chunk-rows",
        type=_positive,
        default=50_000,
        help="rows per Parquet row group (default: 50000); JSON Lines and CSV are "
        "written every 1000 rows or fewer",
    )
    p.add_argument(
        "--max-lines",
        type=int,
        choices=(1, 2, 3),
        default=3,
        help="most lines per order (default: 3; most orders have one)",
    )
    p.add_argument(
        "--flat-lines",
        action="store_true",
        help="CSV and Parquet: order lines as columns order.lines.0.sku, "
        "order.lines.0.unit_price, ... (up to --max-lines) instead of one column",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress line on stderr (default: when stderr is a terminal)",
    )
    return p


def output_paths(out: Path, kinds: Sequence[str], fmt: str) -> dict[str | None, Path]:
    """Where each kind goes: one file, or with several kinds in CSV or Parquet one per kind."""
    if fmt == "jsonl" or len(kinds) == 1:
        return {None: out}
    return {k: out.with_name(f"{out.stem}-{k}{out.suffix}") for k in kinds}


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None,
         err: IO[str] | None = None) -> int:  # fmt: skip
    """Run the generator; returns the exit status (2 for a bad argument)."""
    out = out or sys.stdout
    err = err or sys.stderr
    p = parser()
    if isinstance(p, _Parser):
        p.err = err
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    def fail(message: str) -> int:
        print(f"{p.prog}: error: {message}", file=err)
        return 2

    fmt = FORMATS.get(args.out.suffix.lower())
    if fmt is None:
        shown = str(args.out)
        return fail(f"OUT: expected a name ending in .jsonl, .ndjson, .csv or .parquet: {shown!r}")
    if args.end < args.start:
        return fail(f"--end {args.end} is before --start {args.start}")
    if args.flat_lines and fmt == "jsonl":
        return fail("--flat-lines applies to CSV and Parquet; JSON Lines keeps order.lines nested")
    if fmt == "parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            return fail("writing Parquet needs pyarrow: pip install 'csrules[frames]'")
    if not args.out.parent.is_dir():
        return fail(f"OUT: no such directory: {str(args.out.parent)!r}")

    kinds = KINDS if args.kind == "all" else (args.kind,)
    paths = output_paths(args.out, kinds, fmt)
    generator = Generator(kinds, args.rows, args.seed, args.start, args.end, args.max_lines)

    def make(path: Path, kind: str | None) -> Writer:
        text_chunk = min(args.chunk_rows, TEXT_CHUNK_ROWS)
        if fmt == "jsonl":
            return JsonLinesWriter(path, kind, text_chunk)
        if fmt == "csv":
            return CsvWriter(path, kind or kinds[0], text_chunk, args.flat_lines, args.max_lines)
        return ParquetWriter(
            path, kind or kinds[0], args.chunk_rows, args.flat_lines, args.max_lines
        )

    writers = {kind: make(path, kind) for kind, path in paths.items()}
    show = args.progress if args.progress is not None else err.isatty()
    last = began = time.monotonic()
    done = 0
    try:
        for row in generator.cases():
            writers[row["kind"] if None not in writers else None].add(row)
            done += 1
            if show and done % 4096 == 0 and time.monotonic() - last >= 1:
                last = time.monotonic()
                rate = done / (last - began)
                print(f"\rgenerate.py: {done:,}/{args.rows:,} rows ({done / args.rows:.0%}), "
                      f"{rate:,.0f} rows/s", end="", file=err, flush=True)  # fmt: skip
    finally:
        for writer in writers.values():
            writer.close()
    if show:
        print(f"\rgenerate.py: {done:,}/{args.rows:,} rows (100%)" + " " * 20, file=err)

    print(f"{done:,} cases, seed {args.seed}, case times {args.start} to {args.end} "
          f"(Asia/Shanghai)", file=out)  # fmt: skip
    for kind in kinds:
        print(f"  {kind:<17}{generator.counters[kind]:>12,}", file=out)
    for kind, path in paths.items():
        size = _size(os.path.getsize(path))
        print(f"wrote {path}: {writers[kind].rows:,} rows, {size}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
