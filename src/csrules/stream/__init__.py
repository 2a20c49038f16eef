"""Escalations over a stream of complaints, and deadline watching (see ``docs/stream.md``).

- :class:`EscalationMonitor` takes complaints as they arrive and returns the
  escalations that depend on earlier complaints: the same customer
  complaining twice about the same department or staff member (B2C-8.7.1),
  more than 3 different customers reporting a quality problem with one
  product (B2C-8.7.5). It runs on durable-rules where that can be imported,
  else on a plain-Python reference backend that gives the same results.
- :func:`overdue` lists the :class:`OpenCase` deadlines (department answers,
  B2C-5; customer replies, B2C-8.3/8.5/8.10) that have passed at a given time.
"""

from __future__ import annotations

from csrules.stream._escalation import (
    QUALITY_REPORTS_CLAUSE,
    REPEAT_COMPLAINT_CLAUSE,
    StreamEscalation,
    StreamReason,
)
from csrules.stream._facts import QUALITY_TOPICS
from csrules.stream._monitor import BackendName, EscalationMonitor, available_backends
from csrules.stream._sla import (
    CaseKind,
    OpenCase,
    Overdue,
    load_open_cases,
    open_cases_from_json,
    open_cases_from_json_lines,
    overdue,
)

__all__ = [
    "QUALITY_REPORTS_CLAUSE",
    "QUALITY_TOPICS",
    "REPEAT_COMPLAINT_CLAUSE",
    "BackendName",
    "CaseKind",
    "EscalationMonitor",
    "OpenCase",
    "Overdue",
    "StreamEscalation",
    "StreamReason",
    "available_backends",
    "load_open_cases",
    "open_cases_from_json",
    "open_cases_from_json_lines",
    "overdue",
]
