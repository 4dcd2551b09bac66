"""Numbers as stored and shown: finite values only.

NaN and infinities are not numbers a page or a database can use: PostgreSQL's jsonb refuses NaN, JSON
has no infinities, and a page should print a dash rather than "nan" (a class without test images has
no accuracy), so every such value becomes None, here only."""

from __future__ import annotations

import math


def finite_or_none(value) -> float | None:
    """value as a float; None when it is missing, not a number, NaN or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
