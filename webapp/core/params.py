"""Whole numbers from URLs, query strings and forms, checked once for every view.

Only ASCII digits (`"²".isdigit()` is true, but `int("²")` fails) and at most 18 of them: a longer
number does not fit the databases' 64-bit integers, and the drivers fail on it with an overflow
instead of finding nothing.
"""

from __future__ import annotations

import re

ID_REGEX = "[0-9]{1,18}"


def whole_number(raw) -> int | None:
    """The value as a non-negative int, or None when it is missing or not such a number."""
    return int(raw) if isinstance(raw, str) and re.fullmatch(ID_REGEX, raw) else None


class IdConverter:
    """`<id:pk>` in URL patterns: an id that cannot exist answers 404, never a server error."""

    regex = ID_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)
