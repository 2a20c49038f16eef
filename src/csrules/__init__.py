"""csrules: an e-commerce shop's customer-service policy as code."""

from __future__ import annotations

# --- domain objects and cases -------------------------------------------------
from csrules._cases import (
    Case,
    ComplaintCase,
    PriceAdjustmentCase,
    PromotionCase,
    ReturnCase,
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

__all__: list[str] = []

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
