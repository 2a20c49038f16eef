"""The durable-rules backend: the stream rules compiled to durable-rules' own DSL.

Each complaint that can correlate becomes a durable-rules *fact*: one in the
customer scope when a rule about a department or staff member considers it,
one in the product scope when a rule about a product does. The fact says
which rules consider it (``r0``, ``r1``, ... set to 1) and, per rule, its
window (``s0``/``u0``, ...: from ``since`` to ``until``; complaints may
arrive late, so the window reaches both ways). :func:`define_rules`
generates the durable-rules rules from the stream rules' declarations with
``when_all``, ``m`` and ``c``: for a rule counting complaints, one joining a
new fact with the facts of the same scope asserted before it that share
the rule's key and whose time falls in the new fact's window; for a rule
counting customers, two: the same key and the same customer (a repeat),
the same key and another customer. The rules' actions hand the joined
earlier facts back; the backend counts the distinct customers, as
durable-rules has no aggregation over a sliding window.

What this module hides from its callers:

- Rulesets register globally by name (``durable.lang`` keeps a module-level
  registry and a default host). Each backend builds its ruleset from the DSL
  under a lock, takes it out of that registry, and registers it on a
  private host of its own.
- ``durable.engine.Host`` starts two polling threads that never stop and
  that may run actions on their own thread, racing with the caller. The
  private host starts none: every action runs inside the call that asserts
  the fact, so its results are known when the call returns. The rules use
  no timers, which is what those threads are for.
- More than 1,024 live ``sid`` values in a ruleset raise ``MemoryError`` and
  can then crash the process: facts go to one of :data:`SLOTS` sids per
  scope, chosen by hashing the customer or the product (every rule's key
  holds the customer, or is about a product, so facts that may join share
  a sid).
- Facts carry unique ids (the monitor's running number), so durable-rules
  never sees an event twice (``MessageObservedException``).
- Only strings and integers are posted: times are integer microseconds,
  department values plain strings; no ``Decimal`` or ``datetime``.
- An exception in an action is caught by durable-rules and written to the
  state's ``exception`` key; it is raised here as
  :class:`~csrules.exceptions.StreamError`, as are the engine's own errors.
- Facts the monitor no longer retains are retracted (in batches), so memory stays
  bounded over any number of complaints. durable-rules cannot free a
  ruleset's states (``delete_state`` corrupts the heap, ``delete_ruleset``
  leaves them allocated), so :meth:`DurableBackend.close` retracts every
  fact and keeps the emptied engine for the next backend to reuse; the
  pool never holds more engines than were open at once.
- Every joined fact comes back to Python: a complaint sharing its key with
  many retained ones costs in proportion to them here (the reference
  backend counts them by bisection). The lists handed to the monitor are
  cut to the backend's ``limit``.
- Two patterns of one rule must not have identical conditions (the engine
  crashes on ``c.a << (m.x == 1), c.b << (m.x == 1) & ...``); the later
  pattern of each rule therefore always tests more than the earlier one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final

from durable import engine as durable_engine
from durable import lang as durable_lang

from csrules.exceptions import StreamError
from csrules.stream._facts import (
    RELATED_LIMIT,
    Matches,
    Plan,
    Record,
    RuleMatch,
    restored_members,
)

__all__ = ["RULESET", "SLOTS", "DurableBackend", "define_rules", "fact_of"]

#: Name of the ruleset (on each backend's private host).
RULESET: Final = "csrules_b2c_8_7"
#: Number of ``sid`` values per scope (customer, product); 2 x SLOTS < 1,024.
SLOTS: Final = 64
#: The most joined frames one action call receives (more take several calls).
_CAP: Final = 10_000
#: Retractions are sent in batches of this size.
_RETRACT_BATCH: Final = 512

#: Names of the fact fields of the record positions a key may name.
_FIELDS: Final = {3: "cust", 4: "dept", 5: "staff", 6: "sku"}

_CUSTOMER_SIDS: Final = tuple(f"c{i}" for i in range(SLOTS))
_PRODUCT_SIDS: Final = tuple(f"p{i}" for i in range(SLOTS))

_DSL_LOCK: Final = threading.Lock()

Action = Callable[[Any], None]


def action_names(plan: Plan) -> tuple[str, ...]:
    """The durable-rules actions of a stream rule: ``(id,)``, or ``(id.repeat, id.peer)``."""
    if plan.customers:
        return (f"{plan.id}.repeat", f"{plan.id}.peer")
    return (plan.id,)


def define_rules(plans: Sequence[Plan], action: Callable[[str], Action]) -> dict[str, Any]:
    """The durable-rules rules of stream rules, generated in durable-rules' DSL.

    Args:
        plans: the stream rules, as the monitor runs them.
        action: gives the action for an action name (see :func:`action_names`).

    Returns:
        ``{RULESET: definition}``, ready for ``Host.register_rulesets``; it is
        not left in ``durable.lang``'s global registry.
    """
    m, c, when_all, cap = durable_lang.m, durable_lang.c, durable_lang.when_all, durable_lang.cap
    with _DSL_LOCK:
        rules = durable_lang.ruleset(RULESET)
        try:
            with rules:
                for plan in plans:
                    i = plan.slot
                    scope = "product" if plan.product else "customer"
                    member, since, until = f"r{i}", f"s{i}", f"u{i}"
                    # The earlier fact: in the scope and considered by the rule.
                    earlier = (m.scope == scope) & (getattr(m, member) == 1)
                    # The later fact: considered too, the same key, in the window.
                    later = (m.scope == scope) & (getattr(m, member) == 1)
                    for position in plan.key:
                        name = _FIELDS[position]
                        later = later & (getattr(m, name) == getattr(c.earlier, name))
                    later = (
                        later
                        & (m.seq > c.earlier.seq)
                        & (getattr(m, since) <= c.earlier.ts)
                        & (getattr(m, until) >= c.earlier.ts)
                    )
                    if plan.customers:
                        repeat, peer = action_names(plan)
                        # The same customer already made such a complaint ...
                        when_all(
                            cap(_CAP),
                            c.earlier << earlier,
                            c.later << (later & (m.cust == c.earlier.cust)),
                        )(action(repeat))
                        # ... and the other customers who did.
                        when_all(
                            cap(_CAP),
                            c.earlier << earlier,
                            c.later << (later & (m.cust != c.earlier.cust)),
                        )(action(peer))
                    else:
                        when_all(cap(_CAP), c.earlier << earlier, c.later << later)(action(plan.id))
            name, definition = rules.define()
        finally:
            durable_lang._rulesets.pop(RULESET, None)
    return {name: definition}


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    """A durable-rules host that starts no polling threads (see the module docs)."""

    def _run(self) -> None:
        return


def fact_of(
    record: Record,
    plans: Sequence[Plan],
    product: bool,
    members: int,
    windows: Sequence[tuple[int, int]],
    fid: int | str | None = None,
) -> dict[str, Any] | None:
    """The fact of a record in one scope (customer or product), or ``None`` if none is needed.

    It carries the record, and for each rule of the scope that considers it
    (bit ``plan.slot`` of ``members``) ``r<i>: 1`` and its window
    ``s<i>``/``u<i>`` from ``windows``.
    """
    seq, ts, cid, cust, dept, staff, sku = record
    fact: dict[str, Any] = {
        "sid": (
            _PRODUCT_SIDS[hash(sku) % SLOTS] if product else _CUSTOMER_SIDS[hash(cust) % SLOTS]
        ),
        "id": seq if fid is None else fid,
        "scope": "product" if product else "customer",
        "seq": seq,
        "ts": ts,
        "cid": cid,
        "cust": cust,
    }
    found = False
    for plan in plans:
        i = plan.slot
        if plan.product is product and members >> i & 1:
            found = True
            fact[f"r{i}"] = 1
            fact[f"s{i}"], fact[f"u{i}"] = windows[i]
    if not found:
        return None
    if product:
        fact["sku"] = sku
    else:
        if dept is not None:
            fact["dept"] = str(dept)
        if staff is not None:
            fact["staff"] = staff
    return fact


_new_record = tuple.__new__  # builds a Record without NamedTuple's slower __new__


def _records(facts: list[dict[str, Any]]) -> list[Record]:
    """The records of joined earlier facts, in arrival order; empties ``facts``."""
    records = [
        _new_record(
            Record,
            (f["seq"], f["ts"], f["cid"], f["cust"], f.get("dept"), f.get("staff"), f.get("sku")),
        )
        for f in facts
    ]
    facts.clear()
    if len(records) > 1:
        records.sort()
    return records


def _by_time(record: Record) -> tuple[int, int]:
    return record.ts, record.seq


def _latest(records: list[Record], limit: int) -> list[Record]:
    """The last ``limit`` records by ``(ts, seq)``, in arrival order (``records`` are)."""
    if len(records) <= limit:
        return records
    chosen = sorted(records, key=_by_time)[len(records) - limit :]
    chosen.sort()
    return chosen


class _Engine:
    """A private durable-rules host with the stream rules' ruleset, used by one thread at a time."""

    def __init__(self, plans: Sequence[Plan]) -> None:
        self.plans = tuple(plans)
        #: The earlier facts each action joined, for the fact being asserted.
        self.hits: dict[str, list[dict[str, Any]]] = {
            name: [] for plan in self.plans for name in action_names(plan)
        }
        self.error: BaseException | None = None
        self.broken = False
        self.host = _QuietHost()
        self.host.register_rulesets(define_rules(self.plans, self._action))

    @property
    def found(self) -> tuple[list[dict[str, Any]], ...]:
        """The lists of :attr:`hits`, in the order of the rules' actions."""
        return tuple(self.hits.values())

    def _action(self, rule: str) -> Action:
        def collect(c: Any) -> None:
            try:
                found = self.hits[rule]
                joined = c.m
                if isinstance(joined, list):
                    for frame in joined:
                        found.append(frame._d["earlier"])
                else:
                    found.append(joined._d["earlier"])
            except Exception as exc:  # surfaced by assert_fact
                if self.error is None:
                    self.error = exc

        return collect

    @property
    def sids(self) -> list[str]:
        """The sids that hold state (durable-rules refuses to read one it never saw)."""
        held: list[str] = []
        for sid in (*_CUSTOMER_SIDS, *_PRODUCT_SIDS):
            try:
                self.host.get_facts(RULESET, sid)
            except Exception:  # "could not get facts": durable-rules never saw this sid
                continue
            held.append(sid)
        return held

    def assert_fact(self, fact: dict[str, Any]) -> None:
        """Assert a fact and run the actions it triggers; errors become StreamError."""
        try:
            state = self.host.assert_fact(RULESET, fact)
        except durable_engine.MessageNotHandledException:
            return  # no rule takes the fact: it correlates with nothing
        except durable_engine.MessageObservedException:
            self.broken = True
            msg = f"durable-rules saw fact id {fact['id']} twice in sid {fact['sid']!r}"
            raise StreamError(msg) from None
        except Exception as exc:
            self.broken = True
            msg = f"durable-rules failed on fact {fact['id']} in sid {fact['sid']!r}: {exc!r}"
            raise StreamError(msg) from exc
        if self.error is not None:
            self.broken = True
            error, self.error = self.error, None
            msg = f"a durable-rules action failed on fact {fact['id']}: {error!r}"
            raise StreamError(msg) from error
        if state is not None and "exception" in state:
            self.broken = True
            msg = f"a durable-rules action failed on fact {fact['id']}: {state['exception']}"
            raise StreamError(msg)

    def retract(self, facts: list[dict[str, Any]]) -> None:
        """Retract facts, each given by its ``sid`` and ``id``."""
        try:
            self.host.retract_facts(RULESET, facts)
        except Exception as exc:
            self.broken = True
            msg = f"durable-rules failed to retract {len(facts)} facts: {exc!r}"
            raise StreamError(msg) from exc

    def clear(self) -> None:
        """Retract every fact, leaving the engine as good as new."""
        for sid in self.sids:
            facts = self.host.get_facts(RULESET, sid)
            if facts:
                self.retract([{"sid": sid, "id": fact["id"]} for fact in facts])
        for found in self.found:
            found.clear()

    def discard(self) -> None:
        """Delete the ruleset. Its states' memory is not returned (see :func:`_release`)."""
        handle = self.host.get_ruleset(RULESET)._handle
        durable_engine.durable_rules_engine.delete_ruleset(handle)


# Engines of closed backends, emptied, for the next backend to reuse.
# durable-rules cannot free a ruleset's states: ``delete_ruleset`` leaves
# them allocated, and ``delete_state`` corrupts the heap (it aborts with
# "free(): invalid size", or crashes) once facts were retracted. So an
# engine is never deleted while it works: every emptied engine is kept, with
# no limit on their number, and the pool holds at most as many engines as
# were ever open at once. Memory is then bounded by the most backends open
# at the same time, whatever the number opened and closed. Only an engine
# that failed is deleted (its memory is not returned).
# Engines are kept by the stream rules they run (their plans).
_IDLE: dict[tuple[Plan, ...], list[_Engine]] = {}
_IDLE_LOCK: Final = threading.RLock()  # re-entrant: a release may run in a GC finaliser


def idle_engines() -> int:
    """How many emptied engines wait for reuse (as many as were ever open at once, at most)."""
    with _IDLE_LOCK:
        return sum(map(len, _IDLE.values()))


def _acquire(plans: tuple[Plan, ...]) -> _Engine:
    with _IDLE_LOCK:
        idle = _IDLE.get(plans)
        if idle:
            return idle.pop()
    return _Engine(plans)


def _release(engine: _Engine) -> None:
    if engine.broken:
        engine.discard()
        return
    try:
        engine.clear()
    except StreamError:
        engine.discard()
        return
    with _IDLE_LOCK:
        _IDLE.setdefault(engine.plans, []).append(engine)


class DurableBackend:
    """Correlates complaints with durable-rules, on a private host.

    Args:
        plans: the stream rules, as the monitor runs them.
        limit: the most records each list of the matches holds (the latest).
    """

    name: ClassVar[str] = "durable"

    def __init__(self, plans: Sequence[Plan], limit: int = RELATED_LIMIT) -> None:
        self._limit = limit
        self._plans = tuple(plans)
        self._engine: _Engine | None = _acquire(self._plans)
        # Per rule: where its joined facts arrive (one list, or repeat and peer).
        self._lists = tuple(
            tuple(self._engine.hits[name] for name in action_names(plan)) for plan in self._plans
        )
        self._retract: list[dict[str, Any]] = []
        # Fact ids of records whose seq was used before by a record taken
        # back out (durable-rules refuses an id it has seen in a sid).
        self._renamed: dict[int, str] = {}
        self._renames = 0

    def _live(self) -> _Engine:
        if self._engine is None:
            msg = "the durable-rules backend is closed"
            raise StreamError(msg)
        return self._engine

    def add(
        self,
        record: Record,
        members: int,
        windows: Sequence[tuple[int, int]],
        keep: bool = True,
    ) -> Matches | None:
        """Assert the record's facts and return the earlier records the rules joined.

        Facts of a record not to ``keep`` are retracted with the next batch;
        until then no later fact's window reaches them.
        """
        engine = self._engine
        if engine is None:
            engine = self._live()  # raises
        seq = record.seq
        fid: int | str = self._renamed.get(seq, seq) if self._renamed else seq
        plans = self._plans
        if record.dept is not None or record.staff is not None:
            fact = fact_of(record, plans, False, members, windows, fid)
            if fact is not None:
                engine.assert_fact(fact)
        if record.sku is not None:
            fact = fact_of(record, plans, True, members, windows, fid)
            if fact is not None:
                engine.assert_fact(fact)
        if not keep:
            self._forget_later(record)
        found: list[RuleMatch | None] | None = None
        limit = self._limit
        for plan, lists in zip(plans, self._lists, strict=True):
            if not any(lists):
                continue
            if plan.customers:
                repeat, peers = lists
                if repeat:  # a repeat never escalates: the peers do not matter
                    repeat.clear()
                    peers.clear()
                    match = RuleMatch((), 0, True, 0)
                else:
                    reports = _records(peers)
                    match = RuleMatch(
                        _latest(reports, limit), len(reports), False, len({r.cust for r in reports})
                    )
            else:
                joined = _records(lists[0])
                match = RuleMatch(_latest(joined, limit), len(joined), False, 0)
            if found is None:
                found = [None] * len(plans)
            found[plan.slot] = match
        return None if found is None else tuple(found)

    def _ids(self, record: Record) -> list[dict[str, Any]]:
        """The sid and id of each of a record's facts."""
        fid = self._renamed.get(record.seq, record.seq)
        facts: list[dict[str, Any]] = []
        if record.dept is not None or record.staff is not None:
            facts.append({"sid": _CUSTOMER_SIDS[hash(record.cust) % SLOTS], "id": fid})
        if record.sku is not None:
            facts.append({"sid": _PRODUCT_SIDS[hash(record.sku) % SLOTS], "id": fid})
        return facts

    def _forget_later(self, record: Record) -> None:
        """Queue the retraction of a record's facts (sent with the next batch)."""
        pending = self._retract
        pending += self._ids(record)
        if len(pending) >= _RETRACT_BATCH:
            self._retract = []
            self._live().retract(pending)

    def remove(self, record: Record, kept: bool) -> None:
        """Undo the last :meth:`add`: retract the record's facts now.

        A record not kept is queued for retraction already, and no later
        fact's window reaches it.
        """
        facts = self._ids(record)
        # The monitor gives the record's seq to its next record: that one's
        # facts get a new id.
        self._renames += 1
        self._renamed[record.seq] = f"{record.seq}.{self._renames}"
        if kept:
            self._live().retract(facts)

    def forget(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Retract the facts of records the monitor no longer retains (in batches)."""
        pending = self._retract
        renamed = self._renamed
        if renamed:
            for r in customer:
                pending.append(
                    {"sid": _CUSTOMER_SIDS[hash(r.cust) % SLOTS], "id": renamed.get(r.seq, r.seq)}
                )
            for r in product:
                pending.append(
                    {"sid": _PRODUCT_SIDS[hash(r.sku) % SLOTS], "id": renamed.get(r.seq, r.seq)}
                )
            # A record in both scopes may leave them at different times: its
            # new id is kept (one entry per complaint taken back, a rare event).
            for r in product:
                if r.dept is None and r.staff is None:
                    renamed.pop(r.seq, None)
            for r in customer:
                if r.sku is None:
                    renamed.pop(r.seq, None)
        else:
            sids, slots = _CUSTOMER_SIDS, SLOTS
            pending += [{"sid": sids[hash(r.cust) % slots], "id": r.seq} for r in customer]
            sids = _PRODUCT_SIDS
            pending += [{"sid": sids[hash(r.sku) % slots], "id": r.seq} for r in product]
        if len(pending) >= _RETRACT_BATCH:
            self._retract = []
            self._live().retract(pending)

    def load(self, customer: Sequence[Record], product: Sequence[Record]) -> None:
        """Assert restored facts without correlating them.

        Each fact's window is empty (``since`` one microsecond after
        ``until``), so no restored fact joins an earlier one; later facts
        join them as usual.
        """
        engine = self._live()
        plans = self._plans
        for records, in_product in ((customer, False), (product, True)):
            for record in records:
                empty = [(record.ts + 1, record.ts)] * len(plans)
                members = restored_members(plans, record, in_product)
                fact = fact_of(record, plans, in_product, members, empty)
                if fact is not None:
                    engine.assert_fact(fact)
        for found in engine.found:  # nothing joined (the windows are empty); to be sure
            found.clear()

    def close(self) -> None:
        """Empty the engine and keep it for the next backend; later calls raise StreamError."""
        engine, self._engine = self._engine, None
        self._retract = []
        if engine is not None:
            _release(engine)
