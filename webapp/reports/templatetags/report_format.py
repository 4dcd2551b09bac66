"""Numbers as a manager reads them: 61%, 0.40 EUR, 24 min."""

import math

from django import template
from django.conf import settings

register = template.Library()


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def percent(value, digits=0):
    number = _number(value)
    return "–" if number is None else f"{100 * number:.{int(digits)}f}%"


@register.filter
def points(value):
    """An accuracy gain in percentage points, with its sign."""
    number = _number(value)
    return "–" if number is None else f"{100 * number:+.1f} pts"


@register.filter
def money(value):
    number = _number(value)
    return "–" if number is None else f"{number:.2f} {settings.COST_CURRENCY}"


@register.filter
def duration(seconds):
    number = _number(seconds)
    if number is None:
        return "–"
    if number < 90:
        return f"{number:.0f} s"
    if number < 5400:
        return f"{number / 60:.0f} min"
    return f"{number / 3600:.1f} h"
