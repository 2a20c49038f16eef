"""The library's own errors.

Every error ``csrules`` raises is a :class:`CsrulesError`, and each also
subclasses the built-in exception it is closest to, so callers may catch
either. Messages name the field or key, the value received and what was
expected, so a person can act on them.
"""

from __future__ import annotations

import datetime as _dt
from typing import NamedTuple

__all__ = [
    "ArgumentTypeError",
    "BatchFileError",
    "CalendarError",
    "ContractError",
    "CsrulesError",
    "DomainValueError",
    "MissingDependencyError",
    "NoRuleMatchedError",
    "PolicyError",
    "PolicyTestError",
    "Problem",
    "RuleDefinitionError",
    "RuleOverlapError",
    "StreamError",
]


class CsrulesError(Exception):
    """Base class of every error raised by csrules.

    Every csrules error pickles with its attributes, so an error raised in a
    worker process reaches the parent intact.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(
    cls: type[CsrulesError], args: tuple[object, ...], state: dict[str, object]
) -> CsrulesError:
    """Rebuild a pickled error without calling its ``__init__``."""
    error = Exception.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class DomainValueError(CsrulesError, ValueError):
    """A domain object was built with a value its field does not accept.

    Attributes:
        field: dotted name of the field (``"order.lines[0].unit_price"``).
        value: the value received.
        expected: what the field accepts, in words.

    ``got`` describes the value in the message when its ``repr`` would
    mislead (a column's type rather than a value).
    """

    def __init__(self, field: str, value: object, expected: str, *, got: str | None = None) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        if got is None:
            got = _described(value)
        super().__init__(f"'{field}' must be {expected} (got {got}).")


def _described(value: object) -> str:
    """A value for a message: times and dates as ISO text, ``None`` as such,
    anything else by its repr and type."""
    if value is None:
        return "None"
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    return f"{value!r} that is a {type(value).__name__}"


class ArgumentTypeError(CsrulesError, TypeError):
    """A public function was called with an argument of the wrong type.

    Attributes:
        argument: the argument's name (``"at"``, ``"order"``).
        value: the value received.
        expected: the type the argument accepts, in words.
    """

    def __init__(self, argument: str, value: object, expected: str) -> None:
        self.argument = argument
        self.value = value
        self.expected = expected
        super().__init__(
            f"argument '{argument}' must be {expected} "
            f"(got {value!r} that is a {type(value).__name__})."
        )


class PolicyError(CsrulesError, ValueError):
    """A policy file or parameter is invalid, or a parameter is missing.

    Attributes:
        source: the file (or ``"<bundled b2c>"``) the problem is in.
        key: the parameter name or TOML key.
        reason: what is wrong and what was expected.
    """

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        super().__init__(f"{source}: {key}: {reason}")


class CalendarError(CsrulesError, ValueError):
    """A working-day schedule file is invalid, or a date cannot be placed."""


class Problem(NamedTuple):
    """One thing wrong with a JSON case: its code, JSON path and message."""

    code: str
    field: str | None
    message: str


class ContractError(CsrulesError, ValueError):
    """A JSON case breaks the case contract (see ``docs/contract.md``).

    Attributes:
        code: a short machine-readable code (``"invalid_json"``,
            ``"missing_field"``, ``"invalid_value"``, ``"unknown_kind"``,
            ``"unknown_field"``, ``"invalid_encoding"``, ...) of the first problem.
        field: the JSON path of the first problem's value, or ``None``.
        case_id: the case's ``"id"`` when it could be read, else ``None``.
        problems: every problem found, in order (the first is ``code``/``field``).
        meta: the case's ``"meta"`` object when it could be read, else ``None``.
    """

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        case_id: str | None = None,
        problems: tuple[Problem, ...] | None = None,
    ) -> None:
        self.code = code
        self.field = field
        self.case_id = case_id
        self.problems = problems if problems else (Problem(code, field, message),)
        self.meta: dict[str, object] | None = None
        super().__init__(message)

    @classmethod
    def of(cls, problems: tuple[Problem, ...], *, case_id: str | None = None) -> ContractError:
        """One error for several problems: the first gives ``code`` and ``field``,
        the message joins every message with ``"; "``."""
        first = problems[0]
        message = "; ".join(p.message for p in problems)
        return cls(first.code, message, first.field, case_id=case_id, problems=problems)


class RuleDefinitionError(CsrulesError, TypeError):
    """A rule table refers to an unknown fact or parameter, or is malformed."""


class NoRuleMatchedError(CsrulesError, LookupError):
    """A table whose hit policy needs a match found none for the given facts."""


class RuleOverlapError(CsrulesError, LookupError):
    """A ``unique`` table matched more than one rule for the given facts."""


class StreamError(CsrulesError, RuntimeError):
    """The escalation monitor or its event engine failed."""


class PolicyTestError(CsrulesError, ValueError):
    """A policy test file (``*.csrules.yaml``) cannot be read or is malformed.

    Attributes:
        path: the test file.
        line: the line (from 1) the problem is on, or ``None`` for the whole file.
        reason: what is wrong and what was expected.
    """

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {reason}")


class MissingDependencyError(CsrulesError, ImportError):
    """An optional dependency a feature needs is not installed.

    The message names the package and the ``pip install`` line that adds it
    (``pip install 'csrules[spark]'``); ``name`` is the missing module.

    .. versionadded:: 0.2.0
    """


class BatchFileError(CsrulesError, ValueError):
    """A file of ``csrules batch`` cannot be used: its name, format or contents.

    Attributes:
        path: the file.
        reason: what is wrong and what was expected.
        reading: ``True`` when the input failed part way through reading (the
            command's exit status 3), ``False`` when it could not be used at
            all: a missing file, an unknown extension, a file that is not of
            its format (exit status 2).
    """

    def __init__(self, path: str, reason: str, *, reading: bool = False) -> None:
        self.path = path
        self.reason = reason
        self.reading = reading
        super().__init__(f"{path}: {reason}")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"
