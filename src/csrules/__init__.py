"""csrules: an e-commerce shop's customer-service policy as code."""

from __future__ import annotations

__all__: list[str] = []
