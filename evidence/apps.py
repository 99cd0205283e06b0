from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"

    def ready(self):
        from evidence import jobs  # noqa: F401  registers the daily jobs
