"""Every page writes numbers one way (webapp/core/templatetags/formatting.py): '83.1%' without a space,
a dash for what is missing or not a number, and durations in the same words as the status lines."""

import math

import pytest

from webapp.core.cost import worker_cost
from webapp.core.numbers import finite_or_none
from webapp.core.templatetags.formatting import accuracy_text, duration, money, percent, percent_share, points


@pytest.mark.parametrize("value", [None, "", "n/a", math.nan, math.inf, -math.inf])
def test_missing_and_non_finite_values_are_none_and_print_as_a_dash(value):
    assert finite_or_none(value) is None
    assert percent(value) == percent_share(value) == points(value) == money(value) == duration(value) == "–"


def test_percent_has_one_spacing_and_an_explicit_precision():
    assert percent(0.8312) == "83.1%"
    assert percent(0.8312, 0) == "83%"
    assert percent(0.8312, 2) == "83.12%"
    assert percent_share(0.005) == "0.5%"


def test_accuracy_with_its_interval():
    quality = {"accuracy": 0.831, "accuracy_interval": [0.75, 0.89], "images": 120}
    assert accuracy_text(quality) == "83.1% (95% interval 75.0–89.0%) on 120 test images"


def test_durations_read_as_the_status_lines_do():
    assert duration(1440) == "24 min"
    assert duration(90) == "1 min 30 s"
    assert duration(5400) == "1 h 30 min"


def test_worker_cost_is_worker_hours_at_the_set_rate(settings):
    settings.COST_PER_WORKER_HOUR = 3.6
    assert worker_cost(1000) == pytest.approx(1.0)
    assert worker_cost(None) is None
