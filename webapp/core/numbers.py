"""Numbers as stored and shown: finite values only, and durations in words.

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


def human_duration(seconds: float | None) -> str:
    """90 -> '1 min 30 s', 1440 -> '24 min', 5400 -> '1 h 30 min': status lines, estimates and pages alike."""
    if seconds is None:
        return "unknown"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if minutes < 10 and seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"

