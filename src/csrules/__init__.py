"""csrules: an e-commerce shop's customer-service policy as code.

Domain objects (:class:`Order`, :class:`ReturnRequest`, :class:`Complaint`,
:class:`Promotion`, ...) go in; :func:`decide` applies the policy's rule
tables and returns a decision that cites the clauses that made it.

>>> import csrules
>>> csrules.default_policy().name
'b2c'
"""

from __future__ import annotations

from csrules._calendar import WorkCalendar

# --- domain objects and cases -------------------------------------------------
from csrules._cases import (
    Case,
    ComplaintCase,
    PriceAdjustmentCase,
    PromotionCase,
    ReturnCase,
)
from csrules._check import FactDomain, Finding, check_tables
from csrules._decision import (
    Action,
    AdjustmentAction,
    ComplaintDecision,
    Decision,
    Escalation,
    FreightPayer,
    ParameterUse,
    PriceAdjustmentDecision,
    PromotionDecision,
    PromotionSize,
    ReturnDecision,
    Role,
    Trace,
)
from csrules._domain import (
    EXCLUDED_CATEGORIES,
    Channel,
    Complaint,
    Condition,
    Customer,
    Department,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    PriceAdjustmentRequest,
    Promotion,
    Reason,
    RequestType,
    ReturnRequest,
    Topic,
)
from csrules._engine import decide
from csrules._explain import Explanation, explain
from csrules._ruleset import FactSpec, KindSpec, RuleSet, ruleset
from csrules.io._frames import decide_frame
from csrules.policy import Policy, default_policy, load_policy
from csrules.rules.complaints import decide_complaint
from csrules.rules.promotions import decide_price_adjustment, decide_promotion
from csrules.rules.returns import decide_return

__version__ = "0.1.0"

__all__: list[str] = [
    "Action",
    "AdjustmentAction",
    "ComplaintDecision",
    "Decision",
    "Escalation",
    "Explanation",
    "FactDomain",
    "FactSpec",
    "Finding",
    "FreightPayer",
    "KindSpec",
    "ParameterUse",
    "Policy",
    "PriceAdjustmentDecision",
    "PromotionDecision",
    "PromotionSize",
    "ReturnDecision",
    "Role",
    "RuleSet",
    "Trace",
    "WorkCalendar",
    "__version__",
    "check_tables",
    "decide",
    "decide_complaint",
    "decide_frame",
    "decide_price_adjustment",
    "decide_promotion",
    "decide_return",
    "default_policy",
    "explain",
    "load_policy",
    "ruleset",
]

# --- domain objects and cases -------------------------------------------------
__all__ += [
    "EXCLUDED_CATEGORIES",
    "Case",
    "Channel",
    "Complaint",
    "ComplaintCase",
    "Condition",
    "Customer",
    "Department",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PaymentMethod",
    "PriceAdjustmentCase",
    "PriceAdjustmentRequest",
    "Promotion",
    "PromotionCase",
    "Reason",
    "RequestType",
    "ReturnCase",
    "ReturnRequest",
    "Topic",
]
# --- end of domain objects and cases ------------------------------------------
