from django.apps import AppConfig


class NhiConfig(AppConfig):
    name = "nhi"
    verbose_name = "Non-human identities"

    def ready(self):
        from nhi import jobs  # noqa: F401  registers the daily jobs
