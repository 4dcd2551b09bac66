from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from webapp.core import error_views
from webapp.core.params import IdConverter
from webapp.jobs import health_views

register_converter(IdConverter, "id")  # before the apps' patterns below are imported

urlpatterns = [
    path("", health_views.home, name="home"),
    path("healthz", health_views.healthz, name="healthz"),
    # Browsers and tools ask for /favicon.ico whatever the page says: the same icon, not a 404.
    path("favicon.ico", health_views.favicon),
    path("status/", health_views.status_page, name="status"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("accounts/", include("webapp.accounts.urls")),
    path("datasets/", include("webapp.datasets.urls")),
    path("jobs/", include("webapp.jobs.urls")),
    path("adapters/", include("webapp.adapters.urls")),
    path("reports/", include("webapp.reports.urls")),
    path("api/v1/", include("webapp.api.urls")),
]

handler403 = "webapp.accounts.error_views.forbidden"
handler404 = error_views.not_found
handler500 = error_views.server_error
