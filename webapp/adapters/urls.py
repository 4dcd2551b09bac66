from django.urls import path

from webapp.adapters import views

app_name = "adapters"

urlpatterns = [
    path("", views.adapter_list, name="list"),
    path("upload/", views.adapter_upload, name="upload"),
    path("tuning/<str:filename>", views.tuning_wheel_download, name="tuning_wheel"),
    path("lines/<id:pk>/", views.model_line_detail, name="line"),
    path("lines/<id:pk>/production/clear/", views.line_clear_production, name="clear_production"),
    path("versions/<id:pk>/", views.version_detail, name="version"),
    path("versions/<id:pk>/archive/", views.version_archive, name="archive"),
    path("versions/<id:pk>/files/<str:name>", views.version_file, name="file"),
    path("versions/<id:pk>/production/", views.version_set_production, name="set_production"),
    path("versions/<id:pk>/try/", views.version_try, name="try"),
    path("trials/<id:pk>/images/<id:index>.jpg", views.trial_image, name="trial_image"),
]
