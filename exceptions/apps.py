from django.apps import AppConfig


class ExceptionsConfig(AppConfig):
    name = "exceptions"
    security_manages = True  # Security administers its rows in the admin (soc2hub.admin_rights)
    verbose_name = "Exceptions"

    def ready(self):
        from exceptions import jobs  # noqa: F401  registers the daily jobs
