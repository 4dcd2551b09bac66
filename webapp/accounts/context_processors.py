from webapp.accounts.access import workspaces_for


def workspaces(request):
    return {"user_workspaces": workspaces_for(request.user) if hasattr(request, "user") else []}
