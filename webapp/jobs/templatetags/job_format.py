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


def _with_interval(value, interval, images) -> str:
    if value is None:
        return "–"
    text = f"{100 * value:.1f} %"
    if interval:
        text += f" (95% interval {100 * interval[0]:.1f}–{100 * interval[1]:.1f} %)"
    if images:
        text += f" on {images} test images"
    return text


@register.filter
def accuracy_text(quality) -> str:
    """tuning.Quality.to_dict() -> '83.1 % (95% interval 75.0–89.0 %) on 120 test images'."""
    if not quality:
        return "–"
    return _with_interval(quality.get("accuracy"), quality.get("accuracy_interval"), quality.get("images"))


@register.filter
def balanced_text(quality) -> str:
    """Balanced accuracy (mean per-class recall) with its 95% interval and the number of test images."""
    if not quality:
        return "–"
    return _with_interval(quality.get("balanced_accuracy"), quality.get("balanced_accuracy_interval"),
                          quality.get("images"))


@register.filter
def percent_share(value) -> str:
    """A share such as a parameter budget, without made-up digits: 0.005 -> '0.5 %', 0.02 -> '2 %'."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:g} %"


@register.filter
def thousands(value) -> str:
    """12345 -> '12,345'; missing values show as a dash."""
    return f"{int(value):,}" if value not in (None, "") else "–"
