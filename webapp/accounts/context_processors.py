from django.utils.functional import SimpleLazyObject

from webapp.accounts.access import workspaces_for
from webapp.accounts.selectors import no_workspace_sentence


def workspaces(request):
    if not hasattr(request, "user"):
        return {"user_workspaces": []}
    # The sentence is read (a query) only on a page of a user without a workspace (base.html).
    return {"user_workspaces": workspaces_for(request.user),
            "no_workspace_sentence": SimpleLazyObject(no_workspace_sentence)}
