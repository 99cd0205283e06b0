"""What Security may do in Django's admin: the rows of the apps it runs, not who is an
administrator. Superusers (the separate ``admin`` account) keep everything else: groups,
superuser flags, permissions and other people's passwords.

An app opts in with ``security_manages = True`` on its AppConfig; soc2hub's own teams and
people, the daily jobs' schedule and the sign-in lockouts are added here.
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from soc2hub.models import Role

# (app label, model) pairs outside the opted-in apps that Security administers, with the actions.
EXTRA = {
    ("soc2hub", "team"): ("view", "change", "add"),
    ("soc2hub", "membership"): ("view", "change", "add", "delete"),
    ("soc2hub", "user"): ("view", "change"),
    ("soc2hub", "activitylog"): ("view",),
    ("soc2hub", "notification"): ("view",),
    ("django_celery_beat", "periodictask"): ("view", "change"),
    ("django_celery_beat", "crontabschedule"): ("view", "change", "add"),
    ("axes", "accessattempt"): ("view", "delete"),
    ("axes", "accesslog"): ("view",),
}


def security_permissions():
    labels = [config.label for config in apps.get_app_configs() if getattr(config, "security_manages", False)]
    extra = Q(pk__in=[])
    for (app_label, model), actions in EXTRA.items():
        extra |= Q(content_type__app_label=app_label, content_type__model=model,
                   codename__in=[f"{action}_{model}" for action in actions])
    return Permission.objects.filter(Q(content_type__app_label__in=labels) | extra)


def security_admin_rights_ensure(sender=None, **kwargs) -> None:
    """After every migrate: the Security group holds exactly these model permissions (a new
    model's permissions arrive with its migration)."""
    group, _ = Group.objects.get_or_create(name=Role.SECURITY)
    group.permissions.set(security_permissions())
