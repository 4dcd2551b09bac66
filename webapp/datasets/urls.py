from django.urls import path

from webapp.datasets import views

app_name = "datasets"

urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.dataset_upload, name="upload"),
    path("demo/", views.dataset_demo, name="demo"),
    path("<id:pk>/", views.dataset_detail, name="detail"),
    path("versions/<id:pk>/", views.version_detail, name="version"),
    path("versions/<id:pk>/status.json", views.version_status, name="version_status"),
    path("versions/<id:pk>/thumbs/<str:sha256>.jpg", views.version_thumbnail, name="thumbnail"),
    path("versions/<id:pk>/images/<str:sha256>/mislabelled/", views.image_mislabelled, name="image_mislabelled"),
]
