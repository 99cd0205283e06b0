from django.apps import AppConfig


class ControlsConfig(AppConfig):
    name = "controls"
    security_manages = True  # Security administers its rows in the admin (soc2hub.admin_rights)
    verbose_name = "Criteria and controls"
