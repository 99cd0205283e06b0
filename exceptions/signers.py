"""Who must sign an exception, and who can: shared by the services and the permission rules."""

from django.conf import settings

from exceptions.models import ExceptionRecord, SignerRole
from soc2hub.models import Role, TeamFunction


def required_signer_roles(exception: ExceptionRecord) -> list[str]:
    """By type, from ``EXCEPTION_SIGNERS`` (default: Leadership for all, plus Finance for access)."""
    return list(settings.EXCEPTION_SIGNERS.get(exception.type, [SignerRole.LEADERSHIP]))


def signer_roles_of(user) -> set[str]:
    """The signing roles a person holds: Leadership (the group) and Finance (a finance team)."""
    if not (user and user.is_authenticated and user.is_active):
        return set()
    if not hasattr(user, "_signer_roles"):
        roles = set()
        if Role.LEADERSHIP in user.group_names():
            roles.add(SignerRole.LEADERSHIP)
        if user.memberships.filter(team__function=TeamFunction.FINANCE).exists():
            roles.add(SignerRole.FINANCE)
        user._signer_roles = roles
    return user._signer_roles
