"""Reads for accounts: which workspaces a user may write to, and their API tokens."""

from django.db.models import QuerySet

from webapp.accounts.models import ApiToken, Role, Workspace


def workspaces_writable(*, user) -> QuerySet[Workspace]:
    """Workspaces where the user is an engineer: the choices of every upload and job form."""
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user, memberships__role=Role.ENGINEER).order_by("name")


def api_token_list(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
