from django.apps import AppConfig


class Soc2hubConfig(AppConfig):
    name = "soc2hub"
    verbose_name = "Organisation"
