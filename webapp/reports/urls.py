from django.urls import path

from webapp.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("jobs/<id:pk>/", views.job_report, name="job"),
    path("jobs/<id:pk>/mistakes/<str:sha256>.jpg", views.mistake_image, name="mistake_image"),
    path("compare/", views.compare, name="compare"),
    path("compare.csv", views.compare_csv, name="compare_csv"),
]
