from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    security_manages = True  # Security administers its rows in the admin (soc2hub.admin_rights)

    def ready(self):
        from evidence import jobs  # noqa: F401  registers the daily jobs
