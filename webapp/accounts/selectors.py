"""Reads for accounts: which workspaces a user may write to, and their API tokens."""

from django.db.models import QuerySet

from webapp.accounts.models import ApiToken, Role, Workspace


def workspaces_writable(*, user) -> QuerySet[Workspace]:
    """Workspaces where the user is an engineer: the choices of every upload and job form."""
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user, memberships__role=Role.ENGINEER).order_by("name")


def administrators() -> list[str]:
    """Whom to ask for a workspace: the active staff accounts, by e-mail address where one is set."""
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
    return [user.email or user.get_username() for user in staff[:5]]


def no_workspace_sentence() -> str:
    """What a user who belongs to no workspace reads instead of empty lists and refusals."""
    names = administrators()
    whom = f"an administrator ({', '.join(names)})" if names else "whoever set up this dashboard"
    return (f"You are not a member of any workspace yet, so there are no datasets, jobs or adapters for you to see "
            f"or change. Ask {whom} to add you to a workspace, as an engineer to tune or as a manager to read reports.")


def api_token_list(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
