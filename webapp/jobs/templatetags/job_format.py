"""Small display helpers for the job pages."""

from django import template

from webapp.jobs.estimates import human_duration

register = template.Library()


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.8312 -> '83.1 %'; missing values show as a dash, never as 'None'."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def duration(seconds) -> str:
    return human_duration(seconds) if seconds not in (None, "") else "–"


@register.filter
def mebibytes(value) -> str:
    return f"{value / 2**20:,.0f} MiB" if value else "–"
