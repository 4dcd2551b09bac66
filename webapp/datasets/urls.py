from django.urls import path

from webapp.datasets import views

app_name = "datasets"

urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.dataset_upload, name="upload"),
    path("demo/", views.dataset_demo, name="demo"),
    path("<int:pk>/", views.dataset_detail, name="detail"),
    path("versions/<int:pk>/", views.version_detail, name="version"),
    path("versions/<int:pk>/status.json", views.version_status, name="version_status"),
    path("versions/<int:pk>/thumbs/<str:sha256>.jpg", views.version_thumbnail, name="thumbnail"),
]
