from django.urls import path

from webapp.api import views

app_name = "api"

urlpatterns = [
    path("backbones/", views.backbone_list, name="backbones"),
    path("", views.api_index, name="index"),
    path("openapi.json", views.api_openapi, name="openapi"),
    path("datasets/", views.dataset_list, name="datasets"),
    path("datasets/<id:pk>/", views.dataset_detail, name="dataset"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<id:pk>/", views.job_detail, name="job"),
    path("jobs/<id:pk>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("model-lines/", views.model_line_list, name="model_lines"),
    path("model-lines/<id:pk>/production/archive/", views.production_archive, name="production_archive"),
    path("adapters/<id:pk>/", views.adapter_detail, name="adapter"),
    path("adapters/<id:pk>/archive/", views.adapter_archive, name="adapter_archive"),
    path("adapters/<id:pk>/files/<str:name>", views.adapter_file, name="adapter_file"),
    path("tuning-wheel/", views.tuning_wheel, name="tuning_wheel"),
]
