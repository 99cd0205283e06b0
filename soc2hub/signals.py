"""Sign-in events that belong on the record, and wrong second-factor codes counted as failures."""

from allauth.mfa import signals as mfa_signals
from axes.helpers import get_cool_off
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from soc2hub.models import ActivityLog, User
from soc2hub.services import activity_record


@receiver(mfa_signals.authentication_failed)
def _count_wrong_code(sender, request, user, **kwargs):
    """A wrong TOTP or recovery code at sign-in counts like a wrong password (django-axes)."""
    user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)


@receiver(user_locked_out)
def _record_lockout(sender, request, username, ip_address, **kwargs):
    from soc2hub.auth import locked_until, lockout_message

    until = locked_until(username=username, ip_address=ip_address)
    already = ActivityLog.objects.filter(verb="account.locked_out", after__username=username or "",
                                         after__ip_address=ip_address,
                                         created_at__gte=timezone.now() - get_cool_off())
    if already.exists():
        return  # one entry per lockout, however many attempts keep arriving during it
    person = User.objects.filter(username__iexact=username).first() if username else None
    with transaction.atomic():
        activity_record(
            actor=None, verb="account.locked_out", obj=person,
            after={"username": username or "", "ip_address": ip_address,
                   "until": until.isoformat() if until else None, "path": getattr(request, "path", "")},
            message=f"Sign-in for {username or 'an unknown username'} from {ip_address} locked out. "
                    + lockout_message(until).split(". ", 1)[-1],
        )


def _record_authenticator(verb: str, words: str):
    def record(sender, request, user, authenticator=None, **kwargs):
        kind = authenticator.get_type_display() if authenticator is not None else "authenticator"
        with transaction.atomic():
            activity_record(actor=user, verb=verb, obj=user, after={"type": kind},
                            message=f"{user} {words} {kind}.")
    return record


_added = _record_authenticator("account.mfa_added", "set up")
_removed = _record_authenticator("account.mfa_removed", "removed")
_reset = _record_authenticator("account.mfa_reset", "regenerated")
mfa_signals.authenticator_added.connect(_added, dispatch_uid="soc2hub.mfa_added")
mfa_signals.authenticator_removed.connect(_removed, dispatch_uid="soc2hub.mfa_removed")
mfa_signals.authenticator_reset.connect(_reset, dispatch_uid="soc2hub.mfa_reset")
