from django.apps import AppConfig


class ExceptionsConfig(AppConfig):
    name = "exceptions"
    verbose_name = "Exceptions"

    def ready(self):
        from exceptions import jobs  # noqa: F401  registers the daily jobs
