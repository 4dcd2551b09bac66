from django import forms

from webapp.accounts.selectors import workspaces_writable


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=120,
        help_text="What the token is for, e.g. 'line 3 PC' (so you know which one to revoke later).",
    )


class WorkspaceChoiceMixin:
    """For any form with a `workspace` ModelChoiceField (uploads, jobs): only workspaces where the
    user is an engineer are offered, and the field is hidden when there is just one. Call
    `self.setup_workspace_choices(user)` from the form's __init__."""

    def setup_workspace_choices(self, user) -> None:
        choices = workspaces_writable(user=user)
        field = self.fields["workspace"]
        field.queryset = choices
        only = list(choices[:2])
        if len(only) == 1:
            field.initial = only[0]
            field.widget = forms.HiddenInput()
