from django.utils import timezone

from soc2hub.models import Notification


def roles(request):
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    unread = 0
    if signed_in:
        unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    return {
        "today": timezone.localdate(),
        "unread_notifications": unread,
        "user_is_security": signed_in and user.is_security,
        "user_is_leadership": signed_in and user.is_leadership,
        "user_is_auditor": signed_in and user.is_auditor,
        # Auditors from the audit firm see only their audits: the nav shows nothing else.
        "user_is_external_auditor": signed_in and user.is_external_auditor,
    }
