"""The numbers of every page, written one way: 83.1%, +27.0 pts, 0.40 EUR, 24 min, 1,234.

Percentages follow the English convention, without a space ("83.1%"); a page that wants another
precision says so (`|percent:0`). Missing, NaN and infinite values show as a dash, never as 'None'."""

from django import template
from django.conf import settings

from webapp.core.numbers import finite_or_none, human_duration

register = template.Library()

DASH = "–"


def _number_or_dash(value, write) -> str:
    number = finite_or_none(value)
    return DASH if number is None else write(number)


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.8312 -> '83.1%' (digits=1), '83%' (digits=0)."""
    return _number_or_dash(value, lambda n: f"{100 * n:.{int(digits)}f}%")


@register.filter
def percent_share(value) -> str:
    """A share such as a parameter budget, without made-up digits: 0.005 -> '0.5%', 0.02 -> '2%'."""
    return _number_or_dash(value, lambda n: f"{100 * n:g}%")


@register.filter
def points(value) -> str:
    """An accuracy gain in percentage points, with its sign: 0.27 -> '+27.0 pts'."""
    return _number_or_dash(value, lambda n: f"{100 * n:+.1f} pts")


@register.filter
def money(value) -> str:
    return _number_or_dash(value, lambda n: f"{n:.2f} {settings.COST_CURRENCY}")


@register.filter
def duration(seconds) -> str:
    """1440 -> '24 min', the words of every other duration the site writes (numbers.human_duration)."""
    return _number_or_dash(seconds, human_duration)


@register.filter
def mebibytes(value) -> str:
    return f"{value / 2**20:,.0f} MiB" if value else DASH


@register.filter
def thousands(value) -> str:
    """12345 -> '12,345'."""
    return f"{int(value):,}" if value not in (None, "") else DASH


def _with_interval(value, interval, images) -> str:
    if value is None:
        return DASH
    text = percent(value)
    if interval:
        text += f" (95% interval {100 * interval[0]:.1f}–{percent(interval[1])})"
    if images:
        text += f" on {images} test images"
    return text


@register.filter
def accuracy_text(quality) -> str:
    """tuning.Quality.to_dict() -> '83.1% (95% interval 75.0–89.0%) on 120 test images'."""
    if not quality:
        return DASH
    return _with_interval(quality.get("accuracy"), quality.get("accuracy_interval"), quality.get("images"))


@register.filter
def balanced_text(quality) -> str:
    """Balanced accuracy (mean per-class recall) with its 95% interval and the number of test images."""
    if not quality:
        return DASH
    return _with_interval(quality.get("balanced_accuracy"), quality.get("balanced_accuracy_interval"),
                          quality.get("images"))
