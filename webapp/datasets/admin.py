from django.contrib import admin

from webapp.datasets.models import Dataset, DatasetVersion


class DatasetVersionInline(admin.TabularInline):
    model = DatasetVersion
    fields = ["number", "status", "content_hash", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]
    inlines = [DatasetVersionInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["dataset", "number", "status", "content_hash", "created_at"]
    list_filter = ["status"]
    # A version is immutable once ingested: jobs and adapters refer to its content hash.
    readonly_fields = ["dataset", "number", "status", "upload", "root", "content_hash", "manifest",
                       "class_counts", "report", "progress", "error", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False  # versions come from uploads, which are checked; not from a blank admin form
