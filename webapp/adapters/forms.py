from django import forms

from webapp.accounts.selectors import workspaces_writable
from webapp.datasets.models import DatasetVersion


class AdapterUploadForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=None, empty_label=None)
    model_line = forms.CharField(
        label="Model line", max_length=120,
        help_text="The adapter becomes the next version of this line (a new line is created if needed).",
    )
    dataset_version = forms.ModelChoiceField(
        queryset=None, label="Evaluate on",
        help_text="A dataset version with the same classes; every image of it is used for the evaluation.",
    )
    archive = forms.FileField(required=False, label="Adapter archive (.zip)",
                              help_text="The zip downloaded from an adapter version.")
    weights = forms.FileField(required=False, label="or adapter.safetensors")
    card = forms.FileField(required=False, label="and adapter.json")
    note = forms.CharField(required=False, max_length=200, label="Note",
                           help_text="For example where it was tuned: 'site B, press line 1'.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        writable = workspaces_writable(user=user)
        self.fields["workspace"].queryset = writable
        if len(writable) == 1:
            self.fields["workspace"].initial = writable[0]
            self.fields["workspace"].widget = forms.HiddenInput()
        self.fields["dataset_version"].queryset = (
            DatasetVersion.objects.filter(status=DatasetVersion.Status.READY, dataset__workspace__in=writable)
            .select_related("dataset", "dataset__workspace")
            .order_by("dataset__name", "-number")
        )
        self.fields["dataset_version"].label_from_instance = (
            lambda v: f"{v.dataset.name} v{v.number} ({len(v.class_counts or {})} classes)"
        )

    def clean_model_line(self):
        name = " ".join(self.cleaned_data["model_line"].split())
        if not name:
            raise forms.ValidationError("Name the model line, for example 'press line 3 scratches'.")
        return name

    def clean(self):
        data = super().clean()
        workspace, version = data.get("workspace"), data.get("dataset_version")
        if workspace and version and version.dataset.workspace_id != workspace.pk:
            self.add_error("dataset_version", "Choose a dataset version of the same workspace.")
        has_pair = bool(data.get("weights")) and bool(data.get("card"))
        if not data.get("archive") and not has_pair:
            raise forms.ValidationError(
                "Choose the adapter archive (.zip), or both adapter.safetensors and adapter.json.")
        return data
