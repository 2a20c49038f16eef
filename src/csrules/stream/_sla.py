"""SLA watch: answer and reply deadlines kept as data, checked by a pure function.

Deadlines are not timers. A department's deadline to answer (B2C-5) and the
deadline to reply to the customer (B2C-8.3, 8.5, 8.10) are
:class:`OpenCase` values; :func:`overdue` takes them and the time *now* and
lists what is late, by how much, and whom to tell.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Final

import attrs
import pendulum

from csrules._domain import _text, _time, _to_time
from csrules.exceptions import ContractError, DomainValueError
from csrules.io._json import parse_aware_time
from csrules.stream._facts import epoch_us

__all__ = [
    "CaseKind",
    "OpenCase",
    "Overdue",
    "load_open_cases",
    "open_cases_from_json",
    "open_cases_from_json_lines",
    "overdue",
]

#: Clause of a department's answer deadline.
ANSWER_CLAUSE: Final = "B2C-5"
#: Reply clauses a decision may cite, most specific first; the default is the first of the rest.
_REPLY_CLAUSES: Final = ("B2C-8.10", "B2C-8.3", "B2C-8.5")
_DEFAULT_REPLY_CLAUSE: Final = "B2C-8.3"
#: Who is told when the customer's reply is late.
REPLY_OWNER: Final = "customer_service"
_TIME_EXAMPLE: Final = '"2026-05-06T10:00:00+08:00"'


class CaseKind(enum.StrEnum):
    """What an open case waits for.

    ``department_answer``: the department a matter was transferred to must
    answer (B2C-5). ``customer_reply``: the customer must get a reply
    (B2C-8.3, 8.5, 8.10).
    """

    DEPARTMENT_ANSWER = "department_answer"
    CUSTOMER_REPLY = "customer_reply"


def _to_kind(value: object) -> Any:
    if isinstance(value, str) and value in CaseKind._value2member_map_:
        return CaseKind(value)
    return value


def _kind(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, CaseKind):
        expected = "one of " + ", ".join(repr(k.value) for k in CaseKind)
        raise DomainValueError(f"open_case.{attr.name}", value, expected)


@attrs.frozen
class OpenCase:
    """A deadline that has not been met yet.

    Attributes:
        case_id: the case (complaint) id.
        kind: what is awaited (:class:`CaseKind`, or its value).
        due: when it is due (time-zone aware).
        notify: whom to tell when it is late: the department (``"operations"``)
            or ``"customer_service"``.
        clause: the clause that sets the deadline (``"B2C-5"``, ``"B2C-8.3"``, ...).

    Raises:
        DomainValueError: a field has a value it does not accept.

    .. versionadded:: 0.1.0
    """

    _field_prefix: ClassVar[str] = "open_case"

    case_id: str = attrs.field(validator=_text)
    kind: CaseKind = attrs.field(converter=_to_kind, validator=_kind)
    due: pendulum.DateTime = attrs.field(converter=_to_time, validator=_time)
    notify: str = attrs.field(validator=_text)
    clause: str = attrs.field(validator=_text)

    def to_json(self) -> dict[str, object]:
        """The case in the JSON shape :func:`open_cases_from_json` reads."""
        return {
            "id": self.case_id,
            "kind": self.kind.value,
            "due": self.due.isoformat(),
            "notify": self.notify,
            "clause": self.clause,
        }


@attrs.frozen
class Overdue:
    """An open case past its deadline.

    Attributes:
        case: the case.
        late_by: how late it is at the time it was checked (positive).

    .. versionadded:: 0.1.0
    """

    case: OpenCase
    late_by: dt.timedelta

    def to_json(self) -> dict[str, object]:
        """The case's JSON plus ``late_by`` (ISO-8601 duration) and ``late_by_seconds``."""
        data = self.case.to_json()
        data["late_by"] = _iso_duration(self.late_by)
        data["late_by_seconds"] = int(self.late_by.total_seconds())
        return data


def _iso_duration(delta: dt.timedelta) -> str:
    seconds = delta.days * 86_400 + delta.seconds
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    clock = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{secs}S" if secs or delta.microseconds else "")
    )
    if delta.microseconds:
        clock = clock[:-1] + f".{delta.microseconds:06d}".rstrip("0") + "S"
    if clock:
        text += "T" + clock
    return text if text != "P" else "PT0S"


def overdue(open_cases: Iterable[OpenCase], now: dt.datetime) -> tuple[Overdue, ...]:
    """The cases whose deadline has passed at ``now``, the latest first.

    A case is late when ``now`` is after its ``due`` time (at ``due`` exactly
    it is not). Ties are ordered by case id and kind. A pure function: the
    time comes in as ``now``, nothing reads a clock.

    Raises:
        DomainValueError: ``now`` is naive (no time zone).
    """
    if not isinstance(now, dt.datetime) or now.utcoffset() is None:
        raise DomainValueError("now", now, "a time-zone aware datetime")
    at = epoch_us(now)
    late: list[tuple[int, str, str, Overdue]] = []
    for case in open_cases:
        due = epoch_us(case.due)
        if due < at:
            item = Overdue(case, dt.timedelta(microseconds=at - due))
            late.append((due, case.case_id, case.kind.value, item))
    late.sort(key=lambda entry: entry[:3])
    return tuple(entry[3] for entry in late)


# ------------------------------------------------------------------ loading


def _parse_time(value: object, path: str, case_id: str | None) -> pendulum.DateTime:
    parsed = parse_aware_time(value)
    if parsed is not None:
        return parsed
    msg = f"{path}: expected an ISO-8601 time with an offset such as {_TIME_EXAMPLE}, got {value!r}"
    raise ContractError("invalid_value", msg, path, case_id=case_id)


def _required(obj: Mapping[str, object], key: str, path: str, case_id: str | None) -> object:
    if key not in obj or obj[key] is None:
        raise ContractError("missing_field", f"{path}: missing (required)", path, case_id=case_id)
    return obj[key]


def _string(obj: Mapping[str, object], key: str, path: str, case_id: str | None) -> str:
    value = _required(obj, key, path, case_id)
    if not isinstance(value, str) or not value:
        msg = f"{path}: expected a non-empty string, got {value!r}"
        raise ContractError("invalid_value", msg, path, case_id=case_id)
    return value


def _from_decision(case_id: str, decision: Mapping[str, object]) -> tuple[OpenCase, ...]:
    found: list[OpenCase] = []
    answer_due = decision.get("answer_due")
    if answer_due is not None:
        department = _string(decision, "route_to", "decision.route_to", case_id)
        due = _parse_time(answer_due, "decision.answer_due", case_id)
        found.append(OpenCase(case_id, CaseKind.DEPARTMENT_ANSWER, due, department, ANSWER_CLAUSE))
    reply_due = decision.get("reply_due")
    if reply_due is not None:
        due = _parse_time(reply_due, "decision.reply_due", case_id)
        rules = decision.get("rules")
        fired = set(rules) if isinstance(rules, list) else set()
        clause = next((c for c in _REPLY_CLAUSES if c in fired), _DEFAULT_REPLY_CLAUSE)
        found.append(OpenCase(case_id, CaseKind.CUSTOMER_REPLY, due, REPLY_OWNER, clause))
    return tuple(found)


def open_cases_from_json(obj: Mapping[str, object]) -> tuple[OpenCase, ...]:
    """The open cases one JSON object describes.

    Two shapes are read:

    - an open case: ``{"id", "kind", "due", "notify", "clause"}`` where
      ``kind`` is ``"department_answer"`` or ``"customer_reply"``;
    - an output line of ``csrules decide`` for a complaint:
      ``{"id", "kind": "complaint", "decision": {"route_to", "answer_due",
      "reply_due", "rules", ...}}`` gives a ``department_answer`` case
      (B2C-5, tell the ``route_to`` department) when ``answer_due`` is set
      and a ``customer_reply`` case (tell ``customer_service``, citing the
      reply clause among ``rules``) when ``reply_due`` is set. Every such
      line is taken as still open.

    Decisions of other kinds and error lines (``{"error": ...}``) give ``()``.

    Raises:
        ContractError: a key is missing or has a bad value (the error names it).
    """
    raw_id = obj.get("id")
    case_id = raw_id if isinstance(raw_id, str) and raw_id else None
    if "error" in obj:
        return ()
    if "decision" in obj:
        decision = obj["decision"]
        if not isinstance(decision, Mapping):
            msg = f"decision: expected an object, got {decision!r}"
            raise ContractError("invalid_value", msg, "decision", case_id=case_id)
        if obj.get("kind", "complaint") != "complaint":
            return ()
        return _from_decision(_string(obj, "id", "id", case_id), decision)
    case = _string(obj, "id", "id", case_id)
    kind = _string(obj, "kind", "kind", case_id)
    if kind not in CaseKind._value2member_map_:
        expected = ", ".join(repr(k.value) for k in CaseKind)
        msg = f"kind: expected one of {expected}, got {kind!r}"
        raise ContractError("invalid_value", msg, "kind", case_id=case_id)
    due = _parse_time(_required(obj, "due", "due", case_id), "due", case_id)
    return (
        OpenCase(
            case,
            kind,
            due,
            _string(obj, "notify", "notify", case_id),
            _string(obj, "clause", "clause", case_id),
        ),
    )


def _parse_line(line: str, number: int) -> tuple[OpenCase, ...]:
    try:
        obj = json.loads(line, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise ContractError("invalid_json", f"line {number}: not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        msg = f"line {number}: expected a JSON object, got {type(obj).__name__}"
        raise ContractError("invalid_value", msg)
    try:
        return open_cases_from_json(obj)
    except ContractError as exc:
        raise ContractError(
            exc.code, f"line {number}: {exc}", exc.field, case_id=exc.case_id
        ) from None


def open_cases_from_json_lines(lines: Iterable[str]) -> Iterator[OpenCase]:
    """Read open cases from JSON Lines (see :func:`open_cases_from_json`); blank lines are skipped.

    Raises:
        ContractError: at the first bad line; the message starts with its number.
    """
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield from _parse_line(line, number)


def load_open_cases(lines: Iterable[str]) -> tuple[tuple[OpenCase, ...], tuple[str, ...]]:
    """Read open cases from JSON Lines, going on past bad lines.

    Returns:
        The open cases, and one message per bad line (``"line 3: ..."``).
    """
    cases: list[OpenCase] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cases.extend(_parse_line(line, number))
        except ContractError as exc:
            problems.append(str(exc))
    return tuple(cases), tuple(problems)
