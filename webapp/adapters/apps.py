from django.apps import AppConfig


class AdaptersConfig(AppConfig):
    name = "webapp.adapters"
    label = "adapters"
