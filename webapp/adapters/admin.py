from django.contrib import admin

from webapp.adapters.models import AdapterEvent, AdapterVersion, ModelLine


@admin.register(ModelLine)
class ModelLineAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "production_version"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Versions are immutable and the history is an audit trail: the admin shows them, never edits them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AdapterVersion)
class AdapterVersionAdmin(ReadOnlyAdmin):
    list_display = ["model_line", "number", "source", "method", "backbone", "created_at"]


@admin.register(AdapterEvent)
class AdapterEventAdmin(ReadOnlyAdmin):
    list_display = ["model_line", "action", "detail", "actor", "at"]
