"""Which name a failed login is counted under (django-axes' AXES_USERNAME_CALLABLE).

Axes keeps a row per name and address. Counted under their own names, made-up usernames added a row each,
and each cost a password hash (about a second of CPU). Names that no account has are counted together, once
per address: a guesser adds one row, and after LOGIN_FAILURE_LIMIT such names that address is refused any
unknown name, before a password is hashed, until the cool-off ends. Accounts that exist keep their own count,
so the guesser locks none of them out.
"""

from django.contrib.auth import get_user_model

UNKNOWN_USERNAME = "(unknown username)"
API_TOKEN_USERNAME = "(API token)"  # wrong API tokens, counted per address (webapp/api/auth.py)


def counted_username(request, credentials) -> str | None:
    if credentials:
        name = credentials.get("username")
    else:
        name = getattr(request, "POST", {}).get("username")
    if name is None or name == API_TOKEN_USERNAME:
        return name
    users = get_user_model()
    return name if users._default_manager.filter(**{users.USERNAME_FIELD: name}).exists() else UNKNOWN_USERNAME
