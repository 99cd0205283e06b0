from django.apps import AppConfig


class NhiConfig(AppConfig):
    name = "nhi"
    verbose_name = "Non-human identities"
