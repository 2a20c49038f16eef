"""The escalation monitor: correlation over a stream of complaints (B2C-8.7).

The monitor turns each complaint into a record, asks its backend which
earlier records it correlates with, and turns those matches into
:class:`StreamEscalation` values. Windows and the threshold are policy
parameters read for each complaint's Asia/Shanghai date. The monitor, not
the backend, keeps the watermark (the latest time observed), decides which
records are still retained and forgets the others, keeps the open
escalations and writes snapshots, so both backends behave the same in all
of these.
"""

from __future__ import annotations

import datetime as dt
import importlib
import operator
import threading
import weakref
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Final, Literal, NamedTuple, TypeAlias

import pendulum

from csrules._decision import Escalation
from csrules._domain import Complaint
from csrules.exceptions import StreamError
from csrules.io._json import parse_aware_time
from csrules.policy import Policy, default_policy
from csrules.stream._escalation import (
    QUALITY_REPORTS_CLAUSE,
    REPEAT_COMPLAINT_CLAUSE,
    StreamEscalation,
    StreamReason,
)
from csrules.stream._facts import (
    DAY_US,
    QUALITY_TOPICS,
    SHANGHAI_FIXED_FROM_US,
    SHANGHAI_OFFSET_US,
    Backend,
    Matches,
    Record,
    epoch_us,
    local_day,
    shanghai_day,
)
from csrules.stream._reference import ReferenceBackend

__all__ = ["BackendName", "EscalationMonitor", "available_backends"]

#: The backends a monitor can use; ``"auto"`` picks durable-rules when it imports.
BackendName: TypeAlias = Literal["auto", "durable", "reference"]

SNAPSHOT_FORMAT: Final = "csrules.stream.snapshot/2"
# Written before late complaints were accepted: its "last" time is the watermark.
_SNAPSHOT_FORMAT_1: Final = "csrules.stream.snapshot/1"
# Imported on demand: it imports durable-rules, which Python 3.13+ cannot.
_DURABLE_MODULE: Final = "csrules.stream._durable"

# Records and escalations are forgotten at most this late (batching the work).
_EXPIRY_SLACK_US: Final = 3600 * 1_000_000
_PARAMS_CACHE_MAX: Final = 8192
_NO_MATCHES: Final = Matches((), (), False, ())
# Before any time (the watermark before any complaint) and after every time (for expiry).
_NEVER: Final = -(1 << 62)
_ALWAYS: Final = 1 << 62
_CID: Final = operator.attrgetter("cid")
_CUST: Final = operator.attrgetter("cust")
# Builds a Record without NamedTuple's Python-level __new__ (hot path).
_new_record = tuple.__new__
_EPOCH: Final = dt.date(1970, 1, 1)
# Matches no time (no complaint's zone is this object): the day cache before the first.
_NO_ZONE: Final = dt.timezone(dt.timedelta(0), "none")

REPEAT_WINDOW: Final = "repeat_complaint_window_days"
QUALITY_WINDOW: Final = "quality_window_days"
QUALITY_THRESHOLD: Final = "quality_reporters_threshold"


def available_backends() -> tuple[str, ...]:
    """The backends that work here: ``("durable", "reference")`` or ``("reference",)``."""
    try:
        importlib.import_module(_DURABLE_MODULE)
    except ImportError:
        return ("reference",)
    return ("durable", "reference")


def _make_backend(kind: str) -> Backend:
    if kind == "reference":
        return ReferenceBackend()
    if kind not in ("auto", "durable"):
        msg = f"backend must be one of 'auto', 'durable', 'reference' (got {kind!r})"
        raise StreamError(msg)
    try:
        durable = importlib.import_module(_DURABLE_MODULE)
    except ImportError as exc:
        if kind == "auto":
            return ReferenceBackend()
        msg = f"the durable backend needs durable-rules, which cannot be imported here: {exc}"
        raise StreamError(msg) from exc
    backend: Backend = durable.DurableBackend()
    return backend


def _max_from(policy: Policy, name: str, on: dt.date) -> int:
    """The largest value of ``name`` in force on ``on`` or taking effect later.

    It never grows as ``on`` moves later, so the retention cut (the
    watermark minus the largest window) never moves back.
    """
    now: int = policy.value(name, on)
    later: list[int] = [value for since, value in policy.parameter(name).values if since > on]
    return max([now, *later])


class _Params(NamedTuple):
    """The parameters in force on one date, in the units the monitor uses."""

    repeat_days: int
    quality_days: int
    threshold: int
    repeat_us: int  # the B2C-8.7.1 window
    quality_us: int  # the B2C-8.7.5 window
    # With the watermark on this date, records more than this older than it
    # are no longer retained: the largest window in force then or later.
    keep_us: int

    @classmethod
    def of(cls, policy: Policy, on: dt.date) -> _Params:
        repeat_days: int = policy.value(REPEAT_WINDOW, on)
        quality_days: int = policy.value(QUALITY_WINDOW, on)
        keep_days = max(_max_from(policy, REPEAT_WINDOW, on), _max_from(policy, QUALITY_WINDOW, on))
        return cls(
            repeat_days,
            quality_days,
            policy.value(QUALITY_THRESHOLD, on),
            repeat_days * DAY_US,
            quality_days * DAY_US,
            keep_days * DAY_US,
        )


_NO_PARAMS: Final = _Params(0, 0, 0, 0, 0, 0)


class _Day(NamedTuple):
    """The local day the last complaint's time fell on (see ``_facts.LocalDay``).

    ``params`` are the parameters for it when the whole day is one
    Asia/Shanghai date (always, for times in Asia/Shanghai or +08:00), else
    ``None``.
    """

    tz: dt.tzinfo
    start: dt.datetime
    end: dt.datetime
    midnight_us: int
    params: _Params | None


_NO_DAY: Final = _Day(
    _NO_ZONE,
    dt.datetime.max.replace(tzinfo=_NO_ZONE),
    dt.datetime.min.replace(tzinfo=_NO_ZONE),
    0,
    None,
)


class EscalationMonitor:
    """Watches a stream of complaints for escalations that need more than one.

    - **B2C-8.7.1**: a complaint escalates when the same customer has an
      earlier complaint, within ``repeat_complaint_window_days`` (30 days by
      default), about the same department (both name one) or the same staff
      member (both name one). Every further complaint about it in the window
      escalates again, naming all the earlier ones.
    - **B2C-8.7.5**: a quality report (topic ``product_defect``,
      ``size_not_as_labelled``, ``colour_difference`` or ``damaged_goods``,
      with a ``sku``) escalates when it brings the number of different
      customers who reported that product within ``quality_window_days``
      above ``quality_reporters_threshold`` (more than 3: the 4th customer).
      Each further new customer escalates again; a customer who already
      reported the product in the window neither escalates nor counts twice.

    "Earlier" is arrival order: a complaint is correlated with the
    complaints observed before it whose ``received_at`` is at most ``N x 24``
    hours from its own, before or after it (complaints may arrive out of
    order). Parameters are those in force on the new complaint's
    Asia/Shanghai date. The *watermark* is the latest ``received_at``
    observed; records more than the largest window older than it are no
    longer retained, so a complaint arriving that late misses what was
    forgotten, and memory stays bounded. The monitor is thread-safe; calls
    are serialised.

    Args:
        policy: the shop's policy; the bundled B2C policy by default.
        backend: ``"durable"`` (durable-rules), ``"reference"`` (plain
            Python) or ``"auto"``: durable-rules where it can be imported,
            else the reference backend. Both give the same escalations.

    Raises:
        StreamError: an unknown backend, or ``"durable"`` where
            durable-rules cannot be imported.

    .. versionadded:: 0.1.0
    """

    def __init__(self, policy: Policy | None = None, *, backend: BackendName = "auto") -> None:
        self._policy = policy if policy is not None else default_policy()
        self._backend: Backend | None = _make_backend(backend)
        self._finalizer = weakref.finalize(self, self._backend.close)
        self._finalizer.atexit = False
        self._lock = threading.Lock()
        self._acquire = self._lock.acquire
        self._release = self._lock.release
        self._params: dict[int, _Params] = {}
        # The last local day a complaint's time fell on (epoch microseconds are
        # its midnight plus the time of day, and its parameters when it is one
        # Shanghai date), and the last Asia/Shanghai day's parameters with the
        # instants it spans.
        self._day = _NO_DAY
        self._day_params = _NO_PARAMS
        self._day_from = _ALWAYS
        self._day_until = _NEVER
        self._seq = 0
        # The latest received_at observed (epoch microseconds).
        self._watermark = _NEVER
        # Nothing can expire before this time (epoch microseconds).
        self._next_expiry = _ALWAYS
        self._customer: deque[Record] = deque()
        self._product: deque[Record] = deque()
        self._open: deque[tuple[int, StreamEscalation]] = deque()
        self._broken: str | None = None

    # ----------------------------------------------------------------- public

    @property
    def backend_name(self) -> str:
        """The backend in use: ``"durable"`` or ``"reference"``."""
        return self._live().name

    @property
    def policy(self) -> Policy:
        """The policy whose windows and threshold the monitor applies."""
        return self._policy

    def observe(self, complaint: Complaint) -> tuple[StreamEscalation, ...]:
        """Take in one complaint and return the escalations it triggers.

        The complaint may have been received before complaints already
        observed (it is late): it is correlated all the same, with what is
        still retained, and does not move the watermark.

        Returns:
            The escalations, in the order B2C-8.7.1 same department,
            B2C-8.7.1 same staff member, B2C-8.7.5; ``()`` when none.

        Raises:
            StreamError: the monitor is closed, or the durable-rules engine
                failed (after which the monitor refuses further complaints:
                restore a snapshot).
            PolicyError: a parameter has no value on the complaint's date
                (the complaint is then not observed).
        """
        self._acquire()
        try:
            return self._observe(complaint)
        finally:
            self._release()

    def observe_all(self, complaints: Iterable[Complaint]) -> tuple[StreamEscalation, ...]:
        """Observe complaints one after another (say, a day's log) and return every escalation.

        Stops at the first error; the complaints before it stay observed.
        """
        found: list[StreamEscalation] = []
        with self._lock:
            observe = self._observe
            for complaint in complaints:
                escalations = observe(complaint)
                if escalations:
                    found.extend(escalations)
        return tuple(found)

    def open_escalations(self) -> tuple[StreamEscalation, ...]:
        """The escalations still open, in the order they were raised.

        An escalation stays open while its complaint is within the clause's
        window (in force on the complaint's date) of the watermark, the
        latest ``received_at`` observed.
        """
        with self._lock:
            latest = self._watermark
            return tuple(e for until, e in self._open if until >= latest)

    def snapshot(self) -> dict[str, object]:
        """The monitor's state as plain JSON data, for :meth:`restore`.

        It holds the complaints still retained (as records of ids and integer
        times), the open escalations and the watermark; it does not depend on
        the backend. A monitor stopped by an engine error can still be
        snapshot, to restore a working one.

        Raises:
            StreamError: the monitor is closed.
        """
        with self._lock:
            if self._backend is None:
                msg = "the escalation monitor is closed"
                raise StreamError(msg)
            watermark = self._watermark
            return {
                "format": SNAPSHOT_FORMAT,
                "policy": self._policy.name,
                "seq": self._seq,
                "watermark": None if watermark == _NEVER else watermark,
                "customer_scope": [_record_json(r) for r in self._customer],
                "product_scope": [_record_json(r) for r in self._product],
                "open": [{"until": until, **e.to_json()} for until, e in self._open],
            }

    @classmethod
    def restore(
        cls,
        data: Mapping[str, object],
        policy: Policy | None = None,
        *,
        backend: BackendName = "auto",
    ) -> EscalationMonitor:
        """A monitor that goes on from a :meth:`snapshot` as if it had never stopped.

        The snapshot may come from either backend and may have gone through
        ``json.dumps`` / ``json.loads``. Snapshots of the earlier format
        (``csrules.stream.snapshot/1``) are read too.

        Raises:
            StreamError: ``data`` is not a snapshot of this format.
        """
        monitor = cls(policy, backend=backend)
        try:
            monitor._load(data)
        except (KeyError, TypeError, ValueError) as exc:
            monitor.close()
            msg = f"not a csrules.stream snapshot ({SNAPSHOT_FORMAT}): {exc!r}"
            raise StreamError(msg) from exc
        except BaseException:
            monitor.close()
            raise
        return monitor

    def close(self) -> None:
        """Release the backend (durable-rules' states and ruleset). Idempotent."""
        with self._lock:
            self._backend = None
            self._finalizer()

    def __enter__(self) -> EscalationMonitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        backend = self._backend.name if self._backend is not None else "closed"
        return f"<EscalationMonitor backend={backend} policy={self._policy.name}>"

    # ---------------------------------------------------------------- private

    def _live(self) -> Backend:
        backend = self._backend
        if backend is None:
            msg = "the escalation monitor is closed"
            raise StreamError(msg)
        if self._broken is not None:
            msg = f"the escalation monitor stopped after an engine error ({self._broken}); "
            msg += "restore it from a snapshot"
            raise StreamError(msg)
        return backend

    def _time_and_params(self, at: dt.datetime) -> tuple[int, _Params]:
        """``at`` in epoch microseconds and its parameters; remembers its local day."""
        ts = epoch_us(at)
        params = self._params_at(ts)
        day = local_day(at)
        if day is not None:
            first = day.midnight_us
            one_date = (
                first >= SHANGHAI_FIXED_FROM_US
                and self._day_from <= first
                and first + DAY_US <= self._day_until
            )
            self._day = _Day(day.tz, day.start, day.end, first, params if one_date else None)
        return ts, params

    def _params_at(self, ts: int) -> _Params:
        """The parameters for ``ts``, remembering its Shanghai day for the next ones."""
        params = self._params_for(ts)
        if ts >= SHANGHAI_FIXED_FROM_US:
            self._day_from = (ts + SHANGHAI_OFFSET_US) // DAY_US * DAY_US - SHANGHAI_OFFSET_US
            self._day_until = self._day_from + DAY_US
            self._day_params = params
        return params

    def _params_for(self, ts: int) -> _Params:
        day = shanghai_day(ts)
        params = self._params.get(day)
        if params is None:
            if len(self._params) >= _PARAMS_CACHE_MAX:
                self._params.clear()
            on = _EPOCH + dt.timedelta(days=day)
            params = self._params[day] = _Params.of(self._policy, on)
        return params

    def _observe(self, complaint: Complaint) -> tuple[StreamEscalation, ...]:
        # The hot path: kept flat, as it runs once per complaint.
        backend = self._backend
        if backend is None or self._broken is not None:
            backend = self._live()
        at = complaint.received_at
        tz, start, end, midnight, params = self._day
        if at.tzinfo is tz and start <= at < end:  # the same zone object: fields compared in C
            ts = midnight + ((at.hour * 60 + at.minute) * 60 + at.second) * 1_000_000
            ts += at.microsecond
            if params is None:  # the local day spans two Shanghai dates
                if self._day_from <= ts < self._day_until:
                    params = self._day_params
                else:
                    params = self._params_at(ts)
        else:
            ts, params = self._time_and_params(at)
        watermark = self._watermark
        in_order = ts >= watermark
        if in_order:
            self._watermark = ts
            if ts > self._next_expiry:
                self._expire(ts, params)
        dept = complaint.about_department
        staff = complaint.about_staff
        sku = complaint.sku if complaint.topic in QUALITY_TOPICS else None
        if dept is None and staff is None and sku is None:
            return ()
        record = _new_record(
            Record, (self._seq, ts, complaint.id, complaint.customer_id, dept, staff, sku)
        )
        self._seq += 1
        repeat_us, quality_us = params.repeat_us, params.quality_us
        if in_order:  # everything retained is at most ts: no need for the cut
            keep = True
            customer_since, product_since = ts - repeat_us, ts - quality_us
        else:  # late: only what is retained counts, whichever window is larger
            cut = watermark - self._params_for(watermark).keep_us
            keep = ts >= cut
            customer_since = max(ts - repeat_us, cut)
            product_since = max(ts - quality_us, cut)
        try:
            matches = backend.add(
                record, customer_since, ts + repeat_us, product_since, ts + quality_us, keep
            )
        except StreamError as exc:
            self._broken = str(exc)
            raise
        if keep:
            if dept is not None or staff is not None:
                if not self._customer:
                    self._next_expiry = min(
                        self._next_expiry, ts + params.keep_us + _EXPIRY_SLACK_US
                    )
                self._customer.append(record)
            if sku is not None:
                if not self._product:
                    self._next_expiry = min(
                        self._next_expiry, ts + params.keep_us + _EXPIRY_SLACK_US
                    )
                self._product.append(record)
        if matches is None:
            if sku is None or params.threshold > 0:
                return ()
            matches = _NO_MATCHES
        elif (
            not matches.department
            and not matches.staff
            and (matches.product_repeat or len(matches.product_peers) < params.threshold)
        ):
            return ()  # no repeat, and too few other reports to pass the threshold
        return self._escalate(record, at, matches, params)

    def _escalate(
        self, record: Record, at: pendulum.DateTime, matches: Matches, params: _Params
    ) -> tuple[StreamEscalation, ...]:
        found: list[StreamEscalation] = []
        repeat_until = record.ts + params.repeat_us
        for reason, subject, earlier in (
            (StreamReason.SAME_DEPARTMENT, record.dept, matches.department),
            (StreamReason.SAME_STAFF, record.staff, matches.staff),
        ):
            if earlier and subject is not None:
                escalation = StreamEscalation(
                    clause=REPEAT_COMPLAINT_CLAUSE,
                    complaint_id=record.cid,
                    customer_id=record.cust,
                    reason=reason,
                    subject=str(subject),
                    related=tuple(map(_CID, earlier)),
                    at=at,
                    count=len(earlier) + 1,
                    window_days=params.repeat_days,
                )
                found.append(escalation)
                self._opened(repeat_until, escalation)
        if record.sku is not None and not matches.product_repeat:
            customers = len(set(map(_CUST, matches.product_peers))) + 1
            if customers > params.threshold:
                escalation = StreamEscalation(
                    clause=QUALITY_REPORTS_CLAUSE,
                    complaint_id=record.cid,
                    customer_id=record.cust,
                    reason=StreamReason.QUALITY_REPORTS,
                    subject=record.sku,
                    related=tuple(map(_CID, matches.product_peers)),
                    at=at,
                    count=customers,
                    window_days=params.quality_days,
                )
                found.append(escalation)
                self._opened(record.ts + params.quality_us, escalation)
        return tuple(found)

    def _opened(self, until: int, escalation: StreamEscalation) -> None:
        if until < self._watermark:  # a late complaint's escalation, closed already
            return
        if not self._open:
            self._next_expiry = min(self._next_expiry, until + _EXPIRY_SLACK_US)
        self._open.append((until, escalation))

    def _expire(self, watermark: int, params: _Params) -> None:
        """Forget records no later complaint can reach, and close old escalations.

        ``params`` are those in force on the watermark's date. Records leave
        in arrival order, so one retained longer (received earlier but
        observed later than others) may keep those behind it a little
        longer; they are past the cut and never count again.
        """
        customer, product, opened = self._customer, self._product, self._open
        cut = watermark - params.keep_us
        gone_customer: list[Record] = []
        while customer and customer[0].ts < cut:
            gone_customer.append(customer.popleft())
        gone_product: list[Record] = []
        while product and product[0].ts < cut:
            gone_product.append(product.popleft())
        if gone_customer or gone_product:
            try:
                self._live().forget(gone_customer, gone_product)
            except StreamError as exc:
                self._broken = str(exc)
                raise
        while opened and opened[0][0] < watermark:
            opened.popleft()
        self._next_expiry = _EXPIRY_SLACK_US + min(
            customer[0].ts + params.keep_us if customer else _ALWAYS,
            product[0].ts + params.keep_us if product else _ALWAYS,
            opened[0][0] if opened else _ALWAYS,
        )

    def _load(self, data: Mapping[str, object]) -> None:
        kind = data.get("format")
        if kind not in (SNAPSHOT_FORMAT, _SNAPSHOT_FORMAT_1):
            msg = f"format is {kind!r}, expected {SNAPSHOT_FORMAT!r}"
            raise ValueError(msg)
        seq = _int(data["seq"])
        customer = [_record(item) for item in _list(data["customer_scope"])]
        product = [_record(item) for item in _list(data["product_scope"])]
        opened = [_open_item(item) for item in _list(data["open"])]
        if kind == SNAPSHOT_FORMAT:
            watermark = data["watermark"]
            if watermark is not None:
                self._watermark = _int(watermark)
        else:  # complaints were in order then: the last one's time is the watermark
            last = data["last"]
            if last is not None:
                if not isinstance(last, Mapping):
                    msg = f"last must be an object or null, got {last!r}"
                    raise TypeError(msg)
                self._watermark = _int(last["ts"])
        self._seq = seq
        self._customer.extend(customer)
        self._product.extend(product)
        self._open.extend(opened)
        self._next_expiry = _NEVER  # check at the next complaint
        self._live().load(customer, product)


# ------------------------------------------------------------ snapshot parts


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"expected an integer, got {value!r}"
        raise TypeError(msg)
    return value


def _list(value: object) -> Sequence[object]:
    if not isinstance(value, list | tuple):
        msg = f"expected a list, got {value!r}"
        raise TypeError(msg)
    return value


def _opt_str(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        msg = f"expected a string or null, got {value!r}"
        raise TypeError(msg)
    return value


def _record_json(record: Record) -> list[object]:
    dept = None if record.dept is None else str(record.dept)
    return [record.seq, record.ts, record.cid, record.cust, dept, record.staff, record.sku]


def _record(item: object) -> Record:
    seq, ts, cid, cust, dept, staff, sku = _list(item)
    return Record(
        _int(seq), _int(ts), str(cid), str(cust), _opt_str(dept), _opt_str(staff), _opt_str(sku)
    )


def _time(value: object) -> pendulum.DateTime:
    parsed = parse_aware_time(value)
    if parsed is None:
        msg = f"expected an ISO-8601 time with an offset, got {value!r}"
        raise ValueError(msg)
    return parsed


def _open_item(item: object) -> tuple[int, StreamEscalation]:
    if not isinstance(item, Mapping):
        msg = f"expected an object, got {item!r}"
        raise TypeError(msg)
    escalation = StreamEscalation(
        clause=str(item["clause"]),
        complaint_id=str(item["complaint_id"]),
        customer_id=str(item["customer_id"]),
        reason=StreamReason(item["reason"]),
        subject=str(item["subject"]),
        related=tuple(str(i) for i in _list(item["related"])),
        at=_time(item["at"]),
        escalate_to=Escalation(item["escalate_to"]),
        count=_int(item["count"]),
        window_days=_int(item["window_days"]),
    )
    return _int(item["until"]), escalation
