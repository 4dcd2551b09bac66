from django.contrib import admin

from webapp.jobs.models import Job, WorkerStatus


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "workspace", "method", "backbone", "status", "attempts", "queued_at"]
    list_filter = ["status", "method"]


@admin.register(WorkerStatus)
class WorkerStatusAdmin(admin.ModelAdmin):
    list_display = ["hostname", "kind", "last_seen"]
