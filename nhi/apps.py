from django.apps import AppConfig


class NhiConfig(AppConfig):
    name = "nhi"
    security_manages = True  # Security administers its rows in the admin (soc2hub.admin_rights)
    verbose_name = "Non-human identities"

    def ready(self):
        from nhi import imports, jobs  # noqa: F401  register the job sweep and the daily jobs
        from nhi.services import nhi_flag_owner_left
        from soc2hub.services import when_person_leaves

        # Whoever deactivates a person (the admin, single sign-on), their identities need a new owner.
        when_person_leaves(nhi_flag_owner_left)
