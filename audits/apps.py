from django.apps import AppConfig


class AuditsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audits"
    security_manages = True  # Security administers its rows in the admin (soc2hub.admin_rights)
    verbose_name = "Audits"

    def ready(self):
        from audits import reports  # noqa: F401  registers the report job sweep (soc2hub.jobqueue)
        from audits.verification import report_files
        from evidence.verification import register_source

        register_source(report_files)  # the stored-file check re-hashes finished reports too
