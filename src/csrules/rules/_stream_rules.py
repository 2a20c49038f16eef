"""Stream rules: escalations that correlate a complaint with earlier ones, declared as data.

A :class:`StreamRule` says which complaints it considers (a condition over the
complaint's fields, in the expression IR of :mod:`csrules.rules._expr`), the
key complaints must share to correlate (the customer and a department, say),
what is counted (complaints, or different customers), the threshold and the
window (policy parameters, read on the complaint's date), whom the escalation
goes to, and its explanation in English and Chinese. The escalation monitor
(:class:`csrules.stream.EscalationMonitor`) runs the declarations on either
backend; the bundled ones are :data:`csrules.rules.complaints.STREAM_RULES`.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from csrules._domain import Complaint
from csrules.exceptions import PolicyError, RuleDefinitionError
from csrules.rules._expr import TRUE, Expr, Param
from csrules.rules._pysource import SourceCompiler

if TYPE_CHECKING:
    from csrules._decision import Escalation

__all__ = [
    "KEY_FIELDS",
    "SUBJECT_FIELDS",
    "TEXT_FIELDS",
    "StreamCount",
    "StreamRule",
    "check_stream_rules",
    "members_function",
]

#: Complaint fields a stream rule's key may name.
KEY_FIELDS: Final = ("customer_id", "about_department", "about_staff", "sku")
#: Key fields one of which is the rule's subject (what the complaints share).
SUBJECT_FIELDS: Final = ("about_department", "about_staff", "sku")
#: Placeholders the explanation texts may use.
TEXT_FIELDS: Final = frozenset(
    {"clause", "customer_id", "subject", "subject_zh", "count", "days", "earlier"}
)

_COMPLAINT_FIELDS: Final = frozenset(a.name for a in attrs.fields(Complaint))


def _field_types() -> dict[str, Any]:
    """The type of each complaint field (``X`` for ``X | None``)."""
    import types as pytypes
    import typing

    found: dict[str, Any] = {}
    for name, hint in typing.get_type_hints(Complaint).items():
        if isinstance(hint, pytypes.UnionType):
            args = [a for a in hint.__args__ if a is not type(None)]
            hint = args[0] if len(args) == 1 else object
        found[name] = hint
    return found


def _typed_considers(rule: StreamRule) -> Expr:
    """The rule's condition with string constants compared with an enum field
    turned into its members; a value that can never match is refused, as in
    a table's rule (``fact("channel") == "phnoe"``, a time compared with an
    int)."""
    from csrules._ruleset import check_value_types, convert_enum_constants
    from csrules.policy import default_policy

    types = _field_types()
    where = f"stream rule {rule.id!r}"
    considers = convert_enum_constants(rule.considers, types, where)
    check_value_types(considers, types, default_policy(), where)
    return considers
# Converted to Escalation.GENERAL_MANAGER (csrules._decision cannot be imported here).
_GENERAL_MANAGER: Final[Any] = "general_manager"
_ID: Final = re.compile(r"[a-z][a-z0-9_]*\Z")

_DEPARTMENT_ZH: Final[Mapping[str, str]] = {
    "finance": "财务部",
    "operations": "运营部",
    "technology": "技术部",
    "customer_service": "客服部",
}


class StreamCount(enum.StrEnum):
    """What a stream rule counts within its window.

    ``complaints``: the complaints sharing the key, this one included.
    ``customers``: the different customers among them, this one included; a
    customer who already made such a complaint in the window neither counts
    twice nor escalates again.
    """

    COMPLAINTS = "complaints"
    CUSTOMERS = "customers"


def _escalation(value: object) -> Escalation:
    from csrules._decision import Escalation

    try:
        return Escalation(value) if isinstance(value, str) else Escalation(str(value))
    except ValueError:
        msg = f"escalate_to must be one of {[e.value for e in Escalation]}, got {value!r}"
        raise RuleDefinitionError(msg) from None


def _key(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen(eq=False)
class StreamRule:
    """One correlation rule of the escalation monitor, declared as data.

    A complaint the rule considers escalates when, counting the earlier
    complaints it considers that share the key and were received within
    ``window`` days (before or after) of this one, the count reaches the
    threshold: ``count > threshold`` when ``more_than``, else
    ``count >= threshold``.

    Attributes:
        id: the rule's name, also the escalation's ``reason``
            (``"same_department"``); lower case, digits and ``_``.
        clause: the policy clause it cites (``"B2C-8.7.1"``).
        considers: which complaints take part: a condition over the
            complaint's fields (``fact("topic").isin(QUALITY_TOPICS)``);
            complaints without the subject field never do.
        key: complaint fields the complaints share: exactly one *subject*
            (``about_department``, ``about_staff`` or ``sku``) and, for a
            rule about a department or staff member, ``customer_id``.
        count: :class:`StreamCount`, what is counted.
        threshold: an ``int`` or the name of an integer policy parameter.
        window: the name of the policy parameter giving the window in days.
        more_than: ``count > threshold`` (``True``) or ``count >= threshold``.
        escalate_to: whom the escalation goes to.
        text_en: the explanation in English, a :meth:`str.format` template
            with ``{clause}``, ``{customer_id}``, ``{subject}``,
            ``{subject_zh}`` (a department's Chinese name), ``{count}``,
            ``{days}`` and ``{earlier}`` (the earlier complaints' ids).
        text_zh: the same in Chinese.

    Stream rules compare by identity (their conditions are expressions,
    whose ``==`` builds a new expression rather than answering); they pickle.
    """

    id: str
    clause: str
    considers: Expr
    key: tuple[str, ...] = attrs.field(converter=_key)
    count: StreamCount = attrs.field(converter=StreamCount)
    threshold: int | str
    window: str
    more_than: bool = False
    escalate_to: Escalation = attrs.field(default=_GENERAL_MANAGER, converter=_escalation)
    text_en: str = "{clause}: {count} complaints about {subject} within {days} days ({earlier})."
    text_zh: str = "{clause}：{days} 天内有 {count} 件关于 {subject} 的投诉（{earlier}）。"
    _test: Callable[[Complaint], bool] = attrs.field(
        init=False, repr=False, eq=False, hash=False, alias="_test"
    )

    def __attrs_post_init__(self) -> None:
        self._check()
        object.__setattr__(self, "considers", _typed_considers(self))
        object.__setattr__(self, "_test", _compile(self))

    def __reduce__(self) -> tuple[Any, ...]:
        # the compiled condition is rebuilt from the declaration when unpickled
        return (
            StreamRule,
            (
                self.id,
                self.clause,
                self.considers,
                self.key,
                self.count,
                self.threshold,
                self.window,
                self.more_than,
                self.escalate_to,
                self.text_en,
                self.text_zh,
            ),
        )

    def _fail(self, what: str) -> RuleDefinitionError:
        return RuleDefinitionError(f"stream rule {self.id!r}: {what}")

    def _check(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            msg = f"stream rule id must be lower case letters, digits and _, got {self.id!r}"
            raise RuleDefinitionError(msg)
        if not isinstance(self.clause, str) or not self.clause.strip():
            raise self._fail(f"clause must be a non-empty string, got {self.clause!r}")
        if not isinstance(self.considers, Expr):
            raise self._fail(f"considers must be an expression, got {self.considers!r}")
        unknown = self.considers.facts() - _COMPLAINT_FIELDS
        if unknown:
            raise self._fail(
                f"considers names {sorted(unknown)}, not complaint fields "
                f"(expected some of {sorted(_COMPLAINT_FIELDS)})"
            )
        if any(isinstance(node, Param) for node in self.considers.walk()):
            raise self._fail("considers may not use policy parameters (only complaint fields)")
        key = self.key
        bad = [f for f in key if f not in KEY_FIELDS]
        if bad or len(set(key)) != len(key):
            raise self._fail(f"key must be distinct fields of {list(KEY_FIELDS)}, got {key!r}")
        subjects = [f for f in key if f in SUBJECT_FIELDS]
        if len(subjects) != 1:
            raise self._fail(f"key must hold exactly one of {list(SUBJECT_FIELDS)}, got {key!r}")
        if subjects[0] != "sku" and "customer_id" not in key:
            raise self._fail(
                f"a key on {subjects[0]} must also hold customer_id (correlation about a "
                f"department or staff member is per customer), got {key!r}"
            )
        if self.count is StreamCount.CUSTOMERS and "customer_id" in key:
            raise self._fail("counting customers needs a key without customer_id")
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | str) or threshold == "":
            raise self._fail(f"threshold must be an int or a parameter name, got {threshold!r}")
        if not isinstance(self.window, str) or not self.window:
            raise self._fail(f"window must be a parameter name, got {self.window!r}")
        if not isinstance(self.more_than, bool):
            raise self._fail(f"more_than must be True or False, got {self.more_than!r}")
        for name in ("text_en", "text_zh"):
            text = getattr(self, name)
            if not isinstance(text, str):
                raise self._fail(f"{name} must be a string, got {text!r}")
            try:
                used = {field for _, field, _, _ in string.Formatter().parse(text) if field}
            except ValueError as exc:
                raise self._fail(f"{name} is not a valid template: {exc}") from None
            extra = used - TEXT_FIELDS
            if extra:
                raise self._fail(
                    f"{name} uses {sorted(extra)}; placeholders are {sorted(TEXT_FIELDS)}"
                )

    @property
    def subject(self) -> str:
        """The key's subject field: ``about_department``, ``about_staff`` or ``sku``."""
        return next(f for f in self.key if f in SUBJECT_FIELDS)

    @property
    def per_customer(self) -> bool:
        """Whether the key holds ``customer_id``."""
        return "customer_id" in self.key

    @property
    def count_customers(self) -> bool:
        """Whether the rule counts different customers (else complaints)."""
        return self.count is StreamCount.CUSTOMERS

    @property
    def params(self) -> frozenset[str]:
        """The policy parameters the rule reads."""
        names = {self.window}
        if isinstance(self.threshold, str):
            names.add(self.threshold)
        return frozenset(names)

    def considers_complaint(self, complaint: Complaint) -> bool:
        """Whether the rule takes part for ``complaint`` (its condition, and the subject set)."""
        return getattr(complaint, self.subject) is not None and self._test(complaint)

    def reached(self, count: int, threshold: int) -> bool:
        """Whether ``count`` reaches ``threshold`` (the value in force)."""
        return count > threshold if self.more_than else count >= threshold

    def threshold_on(self, value: Callable[[str], Any]) -> int:
        """The threshold, given a function reading a parameter's value in force."""
        if isinstance(self.threshold, int):
            return self.threshold
        found = value(self.threshold)
        if isinstance(found, bool) or not isinstance(found, int):
            raise self._fail(f"parameter {self.threshold!r} must be an integer, got {found!r}")
        return found

    def explanation(
        self,
        lang: Literal["en", "zh"],
        *,
        customer_id: str,
        subject: str,
        count: int,
        days: int,
        earlier: str,
    ) -> str:
        """The rule's text in ``lang`` with the escalation's values filled in."""
        text = self.text_zh if lang == "zh" else self.text_en
        subject_zh = (
            _DEPARTMENT_ZH.get(subject, subject) if self.subject == "about_department" else subject
        )
        return text.format(
            clause=self.clause,
            customer_id=customer_id,
            subject=subject,
            subject_zh=subject_zh,
            count=count,
            days=days,
            earlier=earlier,
        )


def _compile(rule: StreamRule) -> Callable[[Complaint], bool]:
    """The rule's condition as a Python function of a complaint."""
    compiler = SourceCompiler()
    try:
        body = compiler.visit(rule.considers)
    except Exception as exc:
        raise rule._fail(f"considers cannot be compiled: {exc}") from exc
    reads = "".join(f"    {local} = c.{name}\n" for name, local in compiler.facts.items())
    source = f"def _considers(c):\n{reads}    return bool({body})\n"
    namespace: dict[str, Any] = dict(compiler.values)
    namespace["cal"] = None
    exec(compile(source, f"<stream rule {rule.id}>", "exec"), namespace)
    test: Callable[[Complaint], bool] = namespace["_considers"]
    return test


def members_function(
    rules: Sequence[StreamRule],
) -> Callable[[Complaint], tuple[int, str | None, str | None, str | None]]:
    """One function giving, for a complaint, the rules that consider it and their fields.

    It returns the mask of those rules (bit ``i`` for ``rules[i]``) and the
    complaint's ``about_department``, ``about_staff`` and ``sku`` where one
    of them is the subject of a rule that considers it (else ``None``).
    """
    compiler = SourceCompiler()
    lines = ["def _members(c):", "    m = 0", "    d = s = k = None"]
    target = {"about_department": "d", "about_staff": "s", "sku": "k"}
    for i, rule in enumerate(rules):
        condition = rule.considers
        body = "True" if condition is TRUE else compiler.visit(condition)
        local = target[rule.subject]
        lines.append(f"    if c.{rule.subject} is not None and {body}:")
        lines.append(f"        m |= {1 << i}")
        lines.append(f"        {local} = c.{rule.subject}")
    reads = [f"    {local} = c.{name}" for name, local in compiler.facts.items()]
    lines[3:3] = reads
    lines.append("    return m, d, s, k")
    namespace: dict[str, Any] = dict(compiler.values)
    namespace["cal"] = None
    exec(compile("\n".join(lines) + "\n", "<stream rules>", "exec"), namespace)
    function: Callable[[Complaint], tuple[int, str | None, str | None, str | None]] = namespace[
        "_members"
    ]
    return function


def check_stream_rules(rules: Iterable[StreamRule], policy: Any = None) -> tuple[StreamRule, ...]:
    """Check a set of stream rules (distinct ids; parameters known to ``policy``).

    Returns:
        The rules as a tuple.

    Raises:
        RuleDefinitionError: not a stream rule, a duplicate id, no rule, or
            a parameter ``policy`` does not define; the message names the rule.
    """
    if isinstance(rules, StreamRule):
        rules = (rules,)
    found = tuple(rules)
    seen: set[str] = set()
    for rule in found:
        if not isinstance(rule, StreamRule):
            msg = f"stream rules must be StreamRule values, got {rule!r}"
            raise RuleDefinitionError(msg)
        if rule.id in seen:
            msg = f"stream rule {rule.id!r} is declared twice"
            raise RuleDefinitionError(msg)
        seen.add(rule.id)
        if policy is not None:
            for name in sorted(rule.params):
                try:
                    policy.parameter(name)
                except PolicyError:
                    msg = f"stream rule {rule.id!r}: the policy has no parameter {name!r}"
                    raise RuleDefinitionError(msg) from None
    if not found:
        msg = "at least one stream rule is needed"
        raise RuleDefinitionError(msg)
    return found
