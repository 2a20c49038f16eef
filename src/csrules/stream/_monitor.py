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

import contextlib
import datetime as dt
import hashlib
import importlib
import json
import operator
import sys
import threading
import weakref
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, NamedTuple, TypeAlias

import pendulum

from csrules._decision import Escalation
from csrules._domain import Complaint
from csrules.exceptions import ArgumentTypeError, RuleDefinitionError, StreamError
from csrules.io._json import parse_aware_time
from csrules.policy import Policy, default_policy
from csrules.rules._stream_rules import StreamRule, check_stream_rules, members_function
from csrules.stream._escalation import StreamEscalation, escalation_id
from csrules.stream._facts import (
    DAY_US,
    RELATED_LIMIT,
    SHANGHAI_FIXED_FROM_US,
    SHANGHAI_OFFSET_US,
    Backend,
    Matches,
    Plan,
    Record,
    epoch_us,
    local_day,
    plans,
    shanghai_day,
)
from csrules.stream._reference import ReferenceBackend

if TYPE_CHECKING:
    from csrules._ruleset import RuleSet

__all__ = ["MAX_TEXT_LENGTH", "BackendName", "EscalationMonitor", "available_backends"]

#: The backends a monitor can use; ``"auto"`` is the reference backend (the faster).
BackendName: TypeAlias = Literal["auto", "durable", "reference"]

SNAPSHOT_FORMAT: Final = "csrules.stream.snapshot/3"
# Written before snapshots had a checksum and a position.
_SNAPSHOT_FORMAT_2: Final = "csrules.stream.snapshot/2"
# Written before late complaints were accepted: its "last" time is the watermark.
_SNAPSHOT_FORMAT_1: Final = "csrules.stream.snapshot/1"
_SNAPSHOT_KEYS: Final = frozenset(
    {
        "format",
        "checksum",
        "policy",
        "seq",
        "watermark",
        "position",
        "customer_scope",
        "product_scope",
        "open",
    }
)
#: The longest complaint id, customer id, staff id or SKU the monitor takes.
MAX_TEXT_LENGTH: Final = 1000
# Times a monitor can hold: those of datetime, years 1 to 9999 (epoch microseconds).
_FIRST_US: Final = (dt.date.min.toordinal() - dt.date(1970, 1, 1).toordinal()) * DAY_US - DAY_US
_LAST_US: Final = (dt.date.max.toordinal() - dt.date(1970, 1, 1).toordinal() + 2) * DAY_US
# Imported on demand: it imports durable-rules, which Python 3.13+ cannot.
_DURABLE_MODULE: Final = "csrules.stream._durable"

# Records and escalations are forgotten at most this late (batching the work).
_EXPIRY_SLACK_US: Final = 3600 * 1_000_000
_PARAMS_CACHE_MAX: Final = 8192
# Before any time (the watermark before any complaint) and after every time (for expiry).
_NEVER: Final = -(1 << 62)
_ALWAYS: Final = 1 << 62
_CID: Final = operator.attrgetter("cid")
_CUST: Final = operator.attrgetter("cust")
# Builds a Record without NamedTuple's Python-level __new__ (hot path).
_new_record = tuple.__new__
_intern = sys.intern
_EPOCH: Final = dt.date(1970, 1, 1)
# Matches no time (no complaint's zone is this object): the day cache before the first.
_NO_ZONE: Final = dt.timezone(dt.timedelta(0), "none")


def _bundled_rules() -> tuple[StreamRule, ...]:
    from csrules.rules.complaints import STREAM_RULES

    return STREAM_RULES


def _policy_and_rules(
    policy: Policy | None,
    ruleset: RuleSet | str | None,
    rules: Iterable[StreamRule] | None,
) -> tuple[Policy, tuple[StreamRule, ...], RuleSet | None]:
    """The policy and stream rules a monitor runs, from its arguments (checked)."""
    if ruleset is None:
        chosen = None
        policy = policy if policy is not None else default_policy()
        found = _bundled_rules() if rules is None else rules
    else:
        from csrules._ruleset import ruleset as find

        if rules is not None:
            msg = "give the stream rules as ruleset= or as rules=, not both"
            raise RuleDefinitionError(msg)
        chosen = find(ruleset)
        policy = policy if policy is not None else chosen.policy
        found = chosen.stream_rules
        if not found:
            msg = f"rule set {chosen.name!r} has no stream rules: there is nothing to correlate"
            raise RuleDefinitionError(msg)
    if not isinstance(policy, Policy):
        raise ArgumentTypeError("policy", policy, "a Policy or None")
    return policy, check_stream_rules(found, policy), chosen


def available_backends() -> tuple[str, ...]:
    """The backends that work here: ``("durable", "reference")`` or ``("reference",)``."""
    try:
        importlib.import_module(_DURABLE_MODULE)
    except ImportError:
        return ("reference",)
    return ("durable", "reference")


def _make_backend(kind: str, rules: Sequence[Plan], limit: int) -> Backend:
    if kind in ("reference", "auto"):
        return ReferenceBackend(rules, limit)
    if kind != "durable":
        msg = f"backend must be one of 'auto', 'durable', 'reference' (got {kind!r})"
        raise StreamError(msg)
    try:
        durable = importlib.import_module(_DURABLE_MODULE)
    except ImportError as exc:
        msg = f"the durable backend needs durable-rules, which cannot be imported here: {exc}"
        raise StreamError(msg) from exc
    backend: Backend = durable.DurableBackend(rules, limit)
    return backend


def _text(field: str, value: object) -> None:
    """Refuse a text the monitor cannot hold (every backend alike)."""
    if not isinstance(value, str):
        msg = f"complaint {field} must be a string, got {type(value).__name__}"
        raise StreamError(msg)
    if len(value) > MAX_TEXT_LENGTH:
        msg = f"complaint {field} is {len(value):,} characters long; "
        msg += f"the escalation monitor takes at most {MAX_TEXT_LENGTH:,}"
        raise StreamError(msg)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            msg = f"complaint {field} {value[:40]!r} is not valid Unicode text "
            msg += f"(a lone surrogate at position {exc.start})"
            raise StreamError(msg) from None


#: What an open escalation is about: reason, customer ("" if not in its rule's key), subject.
_OpenKey: TypeAlias = tuple[str, str, str]


#: An open escalation: the time its window ends, itself, and its place in the order raised.
_Opened: TypeAlias = tuple[int, StreamEscalation, int]


def _open_key(escalation: StreamEscalation, rules: Mapping[str, StreamRule]) -> _OpenKey:
    reason = str(escalation.reason)
    rule = rules.get(reason)
    customer = escalation.customer_id if rule is None or rule.per_customer else ""
    return reason, customer, escalation.subject


def _raised_order(item: tuple[_OpenKey, _Opened]) -> int:
    return item[1][2]


class _Transaction:
    """The context manager of :meth:`EscalationMonitor.transaction` (one per monitor)."""

    __slots__ = ("_depth", "_monitor")

    def __init__(self, monitor: EscalationMonitor) -> None:
        self._monitor = monitor
        self._depth = 0

    def __enter__(self) -> EscalationMonitor:
        monitor = self._monitor
        monitor._lock.acquire()
        if self._depth == 0:
            monitor._undo = []
        self._depth += 1
        return monitor

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        monitor = self._monitor
        try:
            self._depth -= 1
            if self._depth == 0:
                try:
                    if exc_type is not None:
                        monitor._rollback()
                finally:
                    monitor._undo = None
                if exc_type is None:
                    # committed: forget what no complaint can reach any more
                    # (a decision per transaction, as csrules decide runs it,
                    # would otherwise keep every record)
                    monitor._expire_if_due()
        finally:
            monitor._lock.release()


class _Undo(NamedTuple):
    """What one observation changed, to undo it (see ``EscalationMonitor.transaction``)."""

    record: Record | None
    kept: bool
    watermark: int
    seq: int
    observed: int
    last_id: str | None
    next_expiry: int
    # The open escalations it replaced: (key, the one before or None).
    replaced: tuple[tuple[_OpenKey, _Opened | None], ...]


def _max_from(policy: Policy, name: str, on: dt.date) -> int:
    """The largest value of ``name`` in force on ``on`` or taking effect later.

    It never grows as ``on`` moves later, so the retention cut (the
    watermark minus the largest window) never moves back.
    """
    now: int = policy.value(name, on)
    later: list[int] = [value for since, value in policy.parameter(name).values if since > on]
    return max([now, *later])


class _Params(NamedTuple):
    """The parameters in force on one date, in the units the monitor uses (per stream rule)."""

    days: tuple[int, ...]  # each rule's window
    window_us: tuple[int, ...]
    threshold: tuple[int, ...]
    # The rules whose threshold one complaint reaches alone (a mask).
    at_one: int
    # With the watermark on this date, records more than this older than it
    # are no longer retained: the largest window in force then or later.
    keep_us: int

    @classmethod
    def of(cls, policy: Policy, rules: Sequence[StreamRule], on: dt.date) -> _Params:
        days: list[int] = []
        thresholds: list[int] = []
        at_one = 0
        for i, rule in enumerate(rules):
            window = policy.value(rule.window, on)
            if isinstance(window, bool) or not isinstance(window, int) or window < 0:
                msg = f"stream rule {rule.id!r}: parameter {rule.window!r} must be a number "
                msg += f"of days (0 or more), got {window!r} on {on}"
                raise StreamError(msg)
            days.append(window)
            threshold = rule.threshold_on(lambda name: policy.value(name, on))
            thresholds.append(threshold)
            if rule.reached(1, threshold):
                at_one |= 1 << i
        keep_days = max(_max_from(policy, name, on) for name in {r.window for r in rules})
        return cls(
            tuple(days),
            tuple(d * DAY_US for d in days),
            tuple(thresholds),
            at_one,
            keep_days * DAY_US,
        )


_NO_PARAMS: Final = _Params((), (), (), 0, 0)


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

    A complaint the monitor refuses (an error) changes nothing: not the
    watermark, not what is retained. :meth:`transaction` extends this to a
    block of work around :meth:`observe` (deciding the complaint, say).

    Args:
        policy: the shop's policy; the rule set's (``ruleset=``), else the
            bundled B2C policy, by default.
        backend: ``"reference"`` (plain Python), ``"durable"``
            (durable-rules) or ``"auto"``, the reference backend (the faster
            one, by measurement). Both give the same escalations.
        related_limit: the most earlier complaints an escalation names in
            ``related`` (the latest received); ``related_total`` and
            ``count`` count all of them.
        rules: the stream rules (:class:`~csrules.rules.StreamRule`) to
            run, in the order their escalations are listed; the bundled
            :data:`~csrules.rules.complaints.STREAM_RULES` by default (the
            two clauses above).
        ruleset: a :class:`~csrules.RuleSet` (or a name
            :func:`csrules.ruleset` knows) whose stream rules and policy the
            monitor runs (``policy=`` still overrides the policy); instead
            of ``rules=``.

    Raises:
        StreamError: an unknown backend, ``"durable"`` where durable-rules
            cannot be imported, or a ``related_limit`` below 1.
        RuleDefinitionError: ``rules`` are not valid stream rules, or name a
            parameter the policy does not define; both ``ruleset=`` and
            ``rules=``; a rule set without stream rules.
        ArgumentTypeError: ``policy`` is not a :class:`~csrules.policy.Policy`.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 ``ruleset=``.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        backend: BackendName = "auto",
        related_limit: int = RELATED_LIMIT,
        rules: Iterable[StreamRule] | None = None,
        ruleset: RuleSet | str | None = None,
    ) -> None:
        if isinstance(related_limit, bool) or not isinstance(related_limit, int):
            msg = f"related_limit must be an integer, got {related_limit!r}"
            raise StreamError(msg)
        if related_limit < 1:
            msg = f"related_limit must be at least 1, got {related_limit}"
            raise StreamError(msg)
        self._policy, self._rules, self._ruleset = _policy_and_rules(policy, ruleset, rules)
        self._by_id = {rule.id: rule for rule in self._rules}
        self._plans = plans(self._rules)
        # The rules that consider a complaint, and the fields they need.
        self._members = members_function(self._rules)
        self._limit = related_limit
        self._backend: Backend | None = _make_backend(backend, self._plans, related_limit)
        self._finalizer = weakref.finalize(self, self._backend.close)
        self._finalizer.atexit = False
        self._lock = threading.RLock()
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
        # Complaints observed, and the last one's id: the stream position.
        self._observed = 0
        self._last_id: str | None = None
        # Inside a transaction: what each observation changed, to undo it.
        self._undo: list[_Undo] | None = None
        self._transaction = _Transaction(self)
        # The latest received_at observed (epoch microseconds).
        self._watermark = _NEVER
        # Nothing can expire before this time (epoch microseconds).
        self._next_expiry = _ALWAYS
        self._customer: deque[Record] = deque()
        self._product: deque[Record] = deque()
        # The latest open escalation of each key, in the order they were raised.
        self._open: dict[_OpenKey, _Opened] = {}
        self._raised = 0
        # complaints observed too late for their windows: (how many, the first
        # one's id), and the latest received_at of a complaint no longer counted
        self._late: tuple[int, str | None] = (0, None)
        self._lost = _NEVER
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

    @property
    def ruleset(self) -> RuleSet | None:
        """The rule set whose stream rules the monitor runs (``None`` if given ``rules=``)."""
        return self._ruleset

    @property
    def rules(self) -> tuple[StreamRule, ...]:
        """The stream rules the monitor runs, in the order their escalations are listed."""
        return self._rules

    @property
    def related_limit(self) -> int:
        """The most earlier complaints an escalation names in ``related``."""
        return self._limit

    @property
    def too_late(self) -> tuple[int, str | None]:
        """Complaints observed so far whose window reached back past what the
        monitor still retains (see *Very late complaints* in ``docs/stream.md``):
        how many, and the id of the first. Their escalations may be missing
        complaints already forgotten; feeding complaints in order of
        ``received_at`` avoids it. Counted since the monitor was made or
        restored.

        .. versionadded:: 0.2.0
        """
        with self._lock:
            return self._late

    @property
    def position(self) -> tuple[int, str | None]:
        """The stream position: complaints observed so far, and the last one's id."""
        with self._lock:
            return self._observed, self._last_id

    def transaction(self) -> contextlib.AbstractContextManager[EscalationMonitor]:
        """Observe complaints as one unit of work: if the block raises, none stays observed.

        ``with monitor.transaction(): decision = decide(case, monitor=monitor)``
        leaves the monitor as it was when deciding fails after the
        complaint was observed. Other threads wait for the block to end.
        Records are forgotten only outside a transaction. Nested blocks
        belong to the outermost one.
        """
        return self._transaction

    def observe(self, complaint: Complaint) -> tuple[StreamEscalation, ...]:
        """Take in one complaint and return the escalations it triggers.

        The complaint may have been received before complaints already
        observed (it is late): it is correlated all the same, with what is
        still retained, and does not move the watermark.

        Returns:
            The escalations, in the order of the monitor's rules (by
            default B2C-8.7.1 same department, B2C-8.7.1 same staff member,
            B2C-8.7.5); ``()`` when none.

        Raises:
            StreamError: the monitor is closed; a complaint id, customer id,
                staff id or SKU is longer than :data:`MAX_TEXT_LENGTH` or is
                not valid Unicode text; or the engine failed on it. The
                complaint is then not observed and nothing changes (after
                an engine failure the backend is rebuilt from what the
                monitor retains; should that fail too, the monitor refuses
                further complaints: restore a snapshot).
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
            return tuple(e for until, e, _ in self._open.values() if until >= latest)

    def snapshot(self) -> dict[str, object]:
        """The monitor's state as plain JSON data, for :meth:`restore`.

        It holds the complaints still retained (as records of ids and integer
        times), the open escalations, the watermark, the stream position
        (complaints observed, the last one's id) and a SHA-256 checksum of
        the rest; it does not depend on the backend. A monitor stopped by an
        engine error can still be snapshot, to restore a working one.

        Raises:
            StreamError: the monitor is closed.
        """
        with self._lock:
            if self._backend is None:
                msg = "the escalation monitor is closed"
                raise StreamError(msg)
            watermark = self._watermark
            customer, product, opened = self._retained()
            data: dict[str, object] = {
                "format": SNAPSHOT_FORMAT,
                "policy": self._policy.name,
                "seq": self._seq,
                "watermark": None if watermark == _NEVER else watermark,
                "position": {"observed": self._observed, "last_id": self._last_id},
                "customer_scope": [_record_json(r) for r in customer],
                "product_scope": [_record_json(r) for r in product],
                "open": [{"until": until, **e.to_json()} for until, e in opened],
            }
            data["checksum"] = _checksum(data)
            return data

    @classmethod
    def restore(
        cls,
        data: Mapping[str, object],
        policy: Policy | None = None,
        *,
        backend: BackendName = "auto",
        related_limit: int = RELATED_LIMIT,
        rules: Iterable[StreamRule] | None = None,
        ruleset: RuleSet | str | None = None,
    ) -> EscalationMonitor:
        """A monitor that goes on from a :meth:`snapshot` as if it had never stopped.

        The snapshot may come from either backend and may have gone through
        ``json.dumps`` / ``json.loads``. Snapshots of the earlier formats
        (``csrules.stream.snapshot/1`` and ``/2``, without a checksum) are
        read too. ``rules`` or ``ruleset`` give the stream rules, as for
        the constructor; the snapshot's open escalations must be of these
        rules.

        Raises:
            StreamError: ``data`` is not a valid snapshot; the message says
                what is wrong (the checksum does not match, a record is
                duplicated, a time is out of range, ...).
        """
        monitor = cls(
            policy, backend=backend, related_limit=related_limit, rules=rules, ruleset=ruleset
        )
        try:
            monitor._load(data)
        except StreamError as exc:
            monitor.close()
            msg = f"not a valid csrules.stream snapshot: {exc}"
            raise StreamError(msg) from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            monitor.close()
            what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            msg = f"not a valid csrules.stream snapshot: {what}"
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

    def _expire_if_due(self) -> None:
        """Forget old records when the watermark passed the next expiry (outside
        a transaction, with a working backend)."""
        watermark = self._watermark
        if (
            watermark > self._next_expiry
            and self._undo is None
            and self._backend is not None
            and self._broken is None
        ):
            self._expire(watermark, self._params_for(watermark))

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
            params = self._params[day] = _Params.of(self._policy, self._rules, on)
        return params

    def _observe(self, complaint: Complaint) -> tuple[StreamEscalation, ...]:
        # The hot path: kept flat, as it runs once per complaint. Nothing of
        # the monitor changes before the backend took the record; what
        # follows it cannot fail.
        backend = self._backend
        if backend is None or self._broken is not None:
            backend = self._live()
        watermark = self._watermark
        if watermark > self._next_expiry and self._undo is None:
            self._expire(watermark, self._params_for(watermark))
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
        cid = complaint.id
        cust = complaint.customer_id
        if not (cid.isascii() and cust.isascii() and len(cid) <= MAX_TEXT_LENGTH >= len(cust)):
            _text("id", cid)
            _text("customer_id", cust)
        members, dept, staff, sku = self._members(complaint)
        undo = self._undo
        in_order = ts >= watermark
        if not members:
            if undo is not None:
                undo.append(
                    _Undo(
                        None,
                        False,
                        watermark,
                        self._seq,
                        self._observed,
                        self._last_id,
                        self._next_expiry,
                        (),
                    )
                )
            if in_order:
                self._watermark = ts
            self._observed += 1
            self._last_id = cid
            return ()
        if staff is not None:
            _text("about_staff", staff)
        if sku is not None:
            _text("sku", sku)
        seq = self._seq
        # Interned: a window holds many records of the same customer, staff
        # member and product, and a log replayed holds the same ids again.
        cid, cust = _intern(cid), _intern(cust)
        if staff is not None:
            staff = _intern(staff)
        if sku is not None:
            sku = _intern(sku)
        record = _new_record(Record, (seq, ts, cid, cust, dept, staff, sku))
        forgotten = False
        if in_order:  # everything retained is at most ts: no need for the cut
            keep = True
            windows = [(ts - w, ts + w) for w in params.window_us]
        else:  # late: only what is retained counts, whichever window is larger
            cut = watermark - self._params_for(watermark).keep_us
            keep = ts >= cut
            windows = [(max(ts - w, cut), ts + w) for w in params.window_us]
            # its window reaches a complaint no longer counted
            forgotten = self._lost >= ts - max(params.window_us)
        try:
            matches = backend.add(record, members, windows, keep)
        except StreamError:
            self._rebuild()
            raise
        found: tuple[tuple[int, StreamEscalation], ...] = ()
        if matches is not None or members & params.at_one:
            try:
                found = self._escalations(record, at, members, matches, params)
            except BaseException:
                self._undo_add(record, keep)
                raise
        # Commit.
        if undo is not None:
            undo.append(
                _Undo(
                    record,
                    keep,
                    watermark,
                    seq,
                    self._observed,
                    self._last_id,
                    self._next_expiry,
                    (),
                )
            )
        if in_order:
            self._watermark = ts
        self._seq = seq + 1
        self._observed += 1
        self._last_id = cid
        if forgotten:
            count, first = self._late
            self._late = (count + 1, first if count else cid)
        if not keep and ts > self._lost:
            self._lost = ts
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
        if not found:
            return ()
        replaced = [self._opened(until, escalation) for until, escalation in found]
        if undo is not None:
            undo[-1] = undo[-1]._replace(replaced=tuple(r for r in replaced if r is not None))
        return tuple(escalation for _, escalation in found)

    def _escalations(
        self,
        record: Record,
        at: pendulum.DateTime,
        members: int,
        matches: Matches | None,
        params: _Params,
    ) -> tuple[tuple[int, StreamEscalation], ...]:
        """The escalations of a record, each with the time its window ends."""
        found: list[tuple[int, StreamEscalation]] = []
        for plan, rule in zip(self._plans, self._rules, strict=True):
            i = plan.slot
            if not members >> i & 1:
                continue
            match = None if matches is None else matches[i]
            if match is None:
                earlier: Sequence[Record] = ()
                total = count = 0
            elif plan.customers:
                if match.repeat:  # the customer already counted: no escalation
                    continue
                earlier, total, count = match.earlier, match.total, match.customers
            else:
                earlier, total, count = match.earlier, match.total, match.total
            count += 1  # this complaint
            if not rule.reached(count, params.threshold[i]):
                continue
            subject = str(record[plan.subject])
            escalation = StreamEscalation(
                clause=rule.clause,
                complaint_id=record.cid,
                customer_id=record.cust,
                reason=rule.id,
                subject=subject,
                related=tuple(map(_CID, earlier)),
                at=at,
                escalate_to=rule.escalate_to,
                count=count,
                window_days=params.days[i],
                related_total=total,
                id=escalation_id(rule.clause, rule.id, record.cust, subject, record.cid, record.ts),
                rule=rule,
            )
            found.append((record.ts + params.window_us[i], escalation))
        return tuple(found)

    def _opened(
        self, until: int, escalation: StreamEscalation
    ) -> tuple[_OpenKey, _Opened | None] | None:
        """Open an escalation, replacing the key's earlier one; returns what it replaced."""
        if until < self._watermark:  # a late complaint's escalation, closed already
            return None
        opened = self._open
        if not opened:
            self._next_expiry = min(self._next_expiry, until + _EXPIRY_SLACK_US)
        key = _open_key(escalation, self._by_id)
        before = opened.pop(key, None)
        self._raised += 1
        opened[key] = (until, escalation, self._raised)
        return key, before

    def _undo_add(self, record: Record, kept: bool) -> None:
        """Take a record the backend took back out of it (the monitor has not changed)."""
        backend = self._backend
        if backend is None:
            return
        try:
            backend.remove(record, kept)
        except StreamError:
            self._rebuild()

    def _rollback(self) -> None:
        """Undo the observations of the transaction, the last first."""
        undo = self._undo
        if not undo:
            return
        for step in reversed(undo):
            record = step.record
            if record is not None:
                if step.kept:
                    if record.dept is not None or record.staff is not None:
                        self._customer.pop()
                    if record.sku is not None:
                        self._product.pop()
                self._undo_add(record, step.kept)
            for key, before in reversed(step.replaced):
                del self._open[key]
                if before is not None:  # back in its place in the order raised
                    self._open[key] = before
                    self._open = dict(sorted(self._open.items(), key=_raised_order))
            self._watermark = step.watermark
            self._seq = step.seq
            self._observed = step.observed
            self._last_id = step.last_id
            self._next_expiry = step.next_expiry
        undo.clear()

    def _rebuild(self) -> None:
        """Replace a backend that failed by a new one holding what the monitor retains.

        If that fails too, the monitor stops (see :meth:`observe`).
        """
        old = self._backend
        if old is None:
            return
        self._finalizer()
        self._backend = None
        try:
            fresh = _make_backend(old.name, self._plans, self._limit)
            try:
                fresh.load(list(self._customer), list(self._product))
            except BaseException:
                fresh.close()
                raise
        except StreamError as exc:
            self._broken = str(exc)
            self._backend = old  # closed, kept only to say which backend it was
            self._finalizer = weakref.finalize(self, lambda: None)
            return
        self._backend = fresh
        self._finalizer = weakref.finalize(self, fresh.close)
        self._finalizer.atexit = False

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
            gone = (r.ts for r in (*gone_customer, *gone_product))
            self._lost = max(self._lost, *gone)
            try:
                self._live().forget(gone_customer, gone_product)
            except StreamError:
                self._rebuild()
        while opened:
            key, (until, _, _) = next(iter(opened.items()))
            if until >= watermark:
                break
            del opened[key]
        self._next_expiry = _EXPIRY_SLACK_US + min(
            customer[0].ts + params.keep_us if customer else _ALWAYS,
            product[0].ts + params.keep_us if product else _ALWAYS,
            next(iter(opened.values()))[0] if opened else _ALWAYS,
        )

    def _retained(self) -> tuple[list[Record], list[Record], list[tuple[int, StreamEscalation]]]:
        """What a snapshot holds: the records at or after the cut, the escalations open."""
        watermark = self._watermark
        if watermark == _NEVER:
            return (
                list(self._customer),
                list(self._product),
                [(until, e) for until, e, _ in self._open.values()],
            )
        cut = watermark - self._params_for(watermark).keep_us
        return (
            [r for r in self._customer if r.ts >= cut],
            [r for r in self._product if r.ts >= cut],
            [(until, e) for until, e, _ in self._open.values() if until >= watermark],
        )

    def _load(self, data: object) -> None:
        if not isinstance(data, Mapping):
            msg = f"a snapshot is a JSON object, got {type(data).__name__}"
            raise StreamError(msg)
        kind = data.get("format")
        if kind == SNAPSHOT_FORMAT:
            _check_sum(data)
            unknown = set(data) - _SNAPSHOT_KEYS
            if unknown:
                msg = f"unknown keys {sorted(unknown)}"
                raise StreamError(msg)
        elif kind not in (_SNAPSHOT_FORMAT_2, _SNAPSHOT_FORMAT_1):
            msg = f"format is {kind!r}, expected {SNAPSHOT_FORMAT!r}"
            raise StreamError(msg)
        seq = _int(data["seq"], "seq")
        if seq < 0:
            msg = f"seq must be 0 or more, got {seq}"
            raise StreamError(msg)
        customer = [
            _record(item, f"customer_scope[{i}]")
            for i, item in enumerate(_list(data["customer_scope"], "customer_scope"))
        ]
        product = [
            _record(item, f"product_scope[{i}]")
            for i, item in enumerate(_list(data["product_scope"], "product_scope"))
        ]
        opened = [
            _open_item(item, f"open[{i}]", self._by_id)
            for i, item in enumerate(_list(data["open"], "open"))
        ]
        watermark = _NEVER
        if kind == _SNAPSHOT_FORMAT_1:  # complaints were in order then: the last one's time
            last = data["last"]
            if last is not None:
                if not isinstance(last, Mapping):
                    msg = f"last must be an object or null, got {last!r}"
                    raise StreamError(msg)
                watermark = _time_us(last["ts"], "last.ts")
        elif data["watermark"] is not None:
            watermark = _time_us(data["watermark"], "watermark")
        observed, last_id = len(customer) + len(product), None
        if kind == SNAPSHOT_FORMAT:
            observed, last_id = _position(data["position"])
        _check_scopes(customer, product, seq)
        if watermark == _NEVER:
            if customer or product or opened or observed:
                msg = "watermark is null (nothing observed) but the snapshot holds complaints"
                raise StreamError(msg)
        else:
            cut = watermark - self._params_for(watermark).keep_us
            for name, records in (("customer_scope", customer), ("product_scope", product)):
                for record in records:
                    if record.ts > watermark:
                        msg = f"{name}: complaint {record.cid!r} was received after the "
                        msg += "watermark, the latest time observed"
                        raise StreamError(msg)
                    if record.ts < cut and kind == SNAPSHOT_FORMAT:
                        msg = f"{name}: complaint {record.cid!r} was received more than the "
                        msg += "retention before the watermark (is the watermark too late?)"
                        raise StreamError(msg)
            customer = [r for r in customer if r.ts >= cut]
            product = [r for r in product if r.ts >= cut]
            for until, escalation in opened:
                if kind == SNAPSHOT_FORMAT and until < watermark:
                    msg = f"open: escalation {escalation.id} closed before the watermark"
                    raise StreamError(msg)
            opened = [(until, e) for until, e in opened if until >= watermark]
        self._watermark = watermark
        self._seq = seq
        self._observed = max(observed, 0)
        self._last_id = last_id
        self._customer.extend(customer)
        self._product.extend(product)
        for until, escalation in opened:
            key = _open_key(escalation, self._by_id)
            if key in self._open:
                msg = f"open: two escalations about {key} (only the latest stays open)"
                raise StreamError(msg)
            self._raised += 1
            self._open[key] = (until, escalation, self._raised)
        self._next_expiry = _NEVER  # check at the next complaint
        # what the snapshot had forgotten is unknown: anything before its cut may be
        self._lost = _NEVER if watermark == _NEVER else cut - 1
        self._late = (0, None)
        self._live().load(customer, product)


# ------------------------------------------------------------ snapshot parts


def _checksum(data: Mapping[str, object]) -> str:
    """``"sha256:"`` and the digest of the snapshot's canonical JSON, its checksum left out."""
    body = {key: value for key, value in data.items() if key != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def _check_sum(data: Mapping[str, object]) -> None:
    given = data.get("checksum")
    if not isinstance(given, str):
        msg = f"checksum must be a string, got {given!r}"
        raise StreamError(msg)
    try:
        expected = _checksum(data)
    except (TypeError, ValueError) as exc:
        msg = f"the snapshot cannot be written as JSON: {exc}"
        raise StreamError(msg) from exc
    if given != expected:
        msg = "checksum does not match the content (the snapshot was changed or damaged)"
        raise StreamError(msg)


def _int(value: object, field: str = "value") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{field} must be an integer, got {value!r}"
        raise StreamError(msg)
    return value


def _time_us(value: object, field: str) -> int:
    ts = _int(value, field)
    if not _FIRST_US <= ts <= _LAST_US:
        msg = f"{field} {ts} is not a time between the years 1 and 9999 (epoch microseconds)"
        raise StreamError(msg)
    return ts


def _list(value: object, field: str = "value") -> Sequence[object]:
    if not isinstance(value, list | tuple):
        msg = f"{field} must be a list, got {type(value).__name__}"
        raise StreamError(msg)
    return value


def _str(value: object, field: str) -> str:
    if not isinstance(value, str):
        msg = f"{field} must be a string, got {value!r}"
        raise StreamError(msg)
    _text(field, value)
    return value


def _opt_str(value: object, field: str = "value") -> str | None:
    if value is None:
        return None
    return _str(value, field)


def _position(value: object) -> tuple[int, str | None]:
    if not isinstance(value, Mapping) or set(value) != {"observed", "last_id"}:
        msg = f"position must be an object with observed and last_id, got {value!r}"
        raise StreamError(msg)
    observed = _int(value["observed"], "position.observed")
    if observed < 0:
        msg = f"position.observed must be 0 or more, got {observed}"
        raise StreamError(msg)
    return observed, _opt_str(value["last_id"], "position.last_id")


def _check_scopes(customer: list[Record], product: list[Record], seq: int) -> None:
    """Records come in arrival order, once each, numbered below ``seq``."""
    for name, records in (("customer_scope", customer), ("product_scope", product)):
        previous = -1
        for record in records:
            if record.seq <= previous:
                msg = f"{name}: record {record.seq} ({record.cid!r}) is duplicated or out "
                msg += "of arrival order"
                raise StreamError(msg)
            if record.seq >= seq:
                msg = f"{name}: record {record.seq} is not below seq ({seq})"
                raise StreamError(msg)
            previous = record.seq
        for record in records:
            in_scope = (
                record.in_product_scope if name == "product_scope" else (record.in_customer_scope)
            )
            if not in_scope:
                what = "a sku" if name == "product_scope" else "a department or staff member"
                msg = f"{name}: record {record.seq} ({record.cid!r}) has no {what}"
                raise StreamError(msg)
    by_seq = {record.seq: record for record in customer}
    for record in product:
        other = by_seq.get(record.seq)
        if other is not None and other != record:
            msg = f"record {record.seq} differs between customer_scope and product_scope"
            raise StreamError(msg)


def _record_json(record: Record) -> list[object]:
    dept = None if record.dept is None else str(record.dept)
    return [record.seq, record.ts, record.cid, record.cust, dept, record.staff, record.sku]


def _record(item: object, field: str) -> Record:
    parts = _list(item, field)
    if len(parts) != 7:
        msg = f"{field} must be [seq, ts, id, customer, department, staff, sku], got {item!r}"
        raise StreamError(msg)
    seq, ts, cid, cust, dept, staff, sku = parts
    number = _int(seq, f"{field} seq")
    if number < 0:
        msg = f"{field} seq must be 0 or more, got {number}"
        raise StreamError(msg)
    # the department is free text, as on the complaint (not only a Department)
    return Record(
        number,
        _time_us(ts, f"{field} ts"),
        _str(cid, f"{field} id"),
        _str(cust, f"{field} customer"),
        _opt_str(dept, f"{field} department"),
        _opt_str(staff, f"{field} staff"),
        _opt_str(sku, f"{field} sku"),
    )


def _time(value: object, field: str) -> pendulum.DateTime:
    parsed = parse_aware_time(value)
    if parsed is None:
        msg = f"{field} must be an ISO-8601 time with an offset, got {value!r}"
        raise StreamError(msg)
    return parsed


def _open_item(
    item: object, field: str, rules: Mapping[str, StreamRule]
) -> tuple[int, StreamEscalation]:
    if not isinstance(item, Mapping):
        msg = f"{field} must be an object, got {item!r}"
        raise StreamError(msg)
    reason = item["reason"]
    rule = rules.get(reason) if isinstance(reason, str) else None
    if rule is None:
        msg = f"{field}: reason {reason!r} is not one of the monitor's stream rules "
        msg += f"{sorted(rules)}"
        raise StreamError(msg)
    try:
        escalate_to = Escalation(item["escalate_to"])
    except ValueError as exc:
        msg = f"{field}: {exc}"
        raise StreamError(msg) from exc
    related = tuple(_str(i, f"{field}.related") for i in _list(item["related"], f"{field}.related"))
    count = _int(item["count"], f"{field}.count")
    total = _int(item.get("related_total", len(related)), f"{field}.related_total")
    if total < len(related) or not 1 <= count <= total + 1:
        msg = f"{field}: count ({count}) must be at least 1 and at most related_total ({total}) + 1"
        raise StreamError(msg)
    clause = _str(item["clause"], f"{field}.clause")
    if clause != rule.clause or (not rule.count_customers and count != total + 1):
        msg = f"{field}: clause {clause!r}, reason {reason!r} and count ({count}) "
        msg += f"do not go together (related_total {total})"
        raise StreamError(msg)
    escalation = StreamEscalation(
        clause=clause,
        complaint_id=_str(item["complaint_id"], f"{field}.complaint_id"),
        customer_id=_str(item["customer_id"], f"{field}.customer_id"),
        reason=reason,
        subject=_str(item["subject"], f"{field}.subject"),
        related=related,
        at=_time(item["at"], f"{field}.at"),
        escalate_to=escalate_to,
        count=count,
        window_days=_int(item["window_days"], f"{field}.window_days"),
        related_total=total,
        rule=rule,
    )
    given = item.get("id", escalation.id)
    if given != escalation.id:
        msg = f"{field}: id {given!r} is not the escalation's ({escalation.id!r})"
        raise StreamError(msg)
    return _int(item["until"], f"{field}.until"), escalation
