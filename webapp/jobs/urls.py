from django.urls import path

from webapp.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list_view, name="list"),
    path("new/", views.job_create_view, name="create"),
    path("estimate.json", views.job_estimate_view, name="estimate"),
    path("<id:pk>/", views.job_detail_view, name="detail"),
    path("<id:pk>/metrics.json", views.job_metrics_view, name="metrics"),
    path("<id:pk>/metrics.csv", views.job_metrics_csv_view, name="metrics_csv"),
    path("<id:pk>/cancel/", views.job_cancel_view, name="cancel"),
]
