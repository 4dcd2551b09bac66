"""Names people type (jobs, model lines) go into e-mail subjects, file names and CSV cells, where a line
break or another control character breaks them: Django refuses an e-mail header with a line break, so
a job named that way would never send its completion e-mail. Such names are refused where they are typed."""

import unicodedata

from django.core.exceptions import ValidationError

CONTROL_CHARACTERS = "Names cannot contain line breaks, tabs or other control characters: type the name on one line."


def refuse_control_characters(value: str) -> None:
    if any(unicodedata.category(character) == "Cc" for character in value or ""):
        raise ValidationError(CONTROL_CHARACTERS, code="control_characters")
