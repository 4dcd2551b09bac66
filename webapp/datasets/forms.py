from django import forms
from django.conf import settings

from webapp.accounts.forms import WorkspaceChoiceMixin
from webapp.datasets.archive import ZIP_MAGIC
from webapp.datasets.errors import human_bytes


class DatasetUploadForm(WorkspaceChoiceMixin, forms.Form):
    workspace = forms.ModelChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(
        max_length=120,
        help_text="Uploading again under the same name adds a new version (v2, v3, ...).",
    )
    file = forms.FileField(
        label="Zip file",
        help_text="One folder per class with its images, or the images plus a CSV with filename,label.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_workspace_choices(user)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.DATASET_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {human_bytes(upload.size)}, more than the upload limit of {human_bytes(limit)}."
            )
        head = upload.read(4)
        upload.seek(0)
        if head not in ZIP_MAGIC:
            # The worker checks again in depth; this answers the commonest mistake at once.
            raise forms.ValidationError(
                "This file is not a zip archive. Put one folder per class (or the images and a "
                "filename,label CSV) into a .zip file and upload that."
            )
        return upload


class DemoDatasetForm(WorkspaceChoiceMixin, forms.Form):
    workspace = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_workspace_choices(user)
