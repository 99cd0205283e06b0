"""Telling people things: an in-app notification, and its e-mail sent by a task after commit.

``notify()`` writes the notices in the caller's transaction; each one that should be e-mailed
is an outbox row (``email_status="queued"``). After commit one task per notice sends its mail,
so a slow or failing mail server never delays or rolls back the decision that caused it, and
one refused recipient never holds up the others. A task claims its row with a conditional
``UPDATE``, so running it twice sends one mail; transient errors retry with backoff; if the
broker was down when the work was queued, the sweeper (every minute) queues the row again.
"""

import datetime as dt
import logging
import smtplib
import threading
from collections.abc import Iterable
from contextlib import contextmanager

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from soc2hub.models import EmailStatus, Notification, Role, User


def members_of(team) -> list[User]:
    return list(User.objects.filter(memberships__team=team, is_active=True).order_by("pk"))


def security_people() -> list[User]:
    return list(User.objects.filter(Q(groups__name=Role.SECURITY) | Q(is_superuser=True), is_active=True)
                .distinct().order_by("pk"))


logger = logging.getLogger(__name__)
_state = threading.local()

# One attempt plus the task's retries (soc2hub.tasks.notification_email_send.max_retries): the
# row counts attempts, so a retry lost with the broker and made again by the sweeper counts too.
EMAIL_MAX_ATTEMPTS = 7
EMAIL_RETRY_BACKOFF = 30  # seconds before the first retry, doubling each time ...
EMAIL_RETRY_BACKOFF_MAX = 30 * 60  # ... up to half an hour
# A claim older than this belongs to a worker that died while sending (EMAIL_TIMEOUT is seconds).
EMAIL_CLAIM_STALE = dt.timedelta(minutes=5)
# A queued row younger than this still has its own task on the way.
EMAIL_QUEUED_GRACE = dt.timedelta(minutes=1)
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, OSError)  # OSError: refused, reset, timed out


@contextmanager
def suppressed():
    """Record history without telling anyone, e.g. while loading a backfill or the demo."""
    previous = getattr(_state, "suppressed", False)
    _state.suppressed = True
    try:
        yield
    finally:
        _state.suppressed = previous


def notify(*, users: Iterable[User], kind: str, subject: str, template: str, context: dict, url: str = "",
           email: bool = True) -> list[User]:
    """Create one notification per person and queue its e-mail for after commit.

    Call inside the transaction that records the reason for notifying (a reminder row, a
    decision): the notices commit or roll back with it; the mail leaves only after commit.
    """
    people = {u.pk: u for u in users if u is not None and u.is_active}.values()
    if not people or getattr(_state, "suppressed", False):
        return []
    body = render_to_string(f"emails/{template}.txt", {**context, "site_url": settings.SITE_URL, "url": url})
    rows = Notification.objects.bulk_create([
        Notification(user=u, kind=kind, title=subject[:250], body=body, url=url,
                     email_status=EmailStatus.QUEUED if email and u.email else EmailStatus.NONE)
        for u in people
    ])
    queued = [n.pk for n in rows if n.email_status == EmailStatus.QUEUED]
    if queued:
        transaction.on_commit(lambda: notification_emails_queue(notification_ids=queued))
    return list(people)


def notification_emails_queue(*, notification_ids: list[int]) -> int:
    """Hand each notice's e-mail to a task; returns how many were handed over. A broker that
    is down loses nothing: the rows stay queued and the sweeper queues them again."""
    from soc2hub.tasks import notification_email_send

    handed = 0
    for pk in notification_ids:
        try:
            # retry=False: a broker that is down must not hold up the request that committed.
            notification_email_send.apply_async((pk,), retry=False)
        except Exception:
            # The broker is down (the rest would fail alike, each after kombu's connection
            # attempts): leave them all to the sweeper.
            logger.warning("could not queue the e-mail of %d notification(s); the sweeper will",
                           len(notification_ids) - handed, exc_info=True)
            break
        handed += 1
    return handed


def _retry_wait(attempts: int) -> dt.timedelta:
    """The longest wait the task's backoff gives before retry number ``attempts``."""
    return dt.timedelta(seconds=min(EMAIL_RETRY_BACKOFF_MAX, EMAIL_RETRY_BACKOFF * 2 ** (attempts - 1)))


def notification_emails_due(*, now: dt.datetime | None = None) -> list[int]:
    """E-mails whose task was lost: queued rows past their grace (and past their retry's
    backoff, so the sweeper never hurries a retry), and claims abandoned while sending."""
    now = now or timezone.now()
    waited = Q(email_attempts=0)
    for attempts in range(1, EMAIL_MAX_ATTEMPTS):
        waited |= Q(email_attempts=attempts,
                    email_claimed_at__lt=now - _retry_wait(attempts) - EMAIL_QUEUED_GRACE)
    queued = Q(email_status=EmailStatus.QUEUED, created_at__lt=now - EMAIL_QUEUED_GRACE) & waited
    abandoned = Q(email_status=EmailStatus.SENDING, email_claimed_at__lt=now - EMAIL_CLAIM_STALE)
    return list(Notification.objects.filter(queued | abandoned).order_by("created_at", "pk")
                .values_list("pk", flat=True)[:500])


def notification_email_send(*, notification_id: int) -> str:
    """Send one notice's e-mail, at most once: claim the row (queued, or a stale claim), send,
    record the outcome. Returns what happened. Raises a transient mail error when another
    attempt is due (the task retries it); after the last attempt the row is marked failed."""
    now = timezone.now()
    claimed = (Notification.objects.filter(pk=notification_id)
               .filter(Q(email_status=EmailStatus.QUEUED)
                       | Q(email_status=EmailStatus.SENDING, email_claimed_at__lt=now - EMAIL_CLAIM_STALE))
               .update(email_status=EmailStatus.SENDING, email_claimed_at=now,
                       email_attempts=F("email_attempts") + 1))
    if not claimed:
        return "not due"  # gone, sent, failed, or being sent by another worker
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    row = Notification.objects.filter(pk=notification_id, email_claimed_at=now)  # still our claim
    if not notification.user.email:
        row.update(email_status=EmailStatus.NONE, email_claimed_at=None)
        return "no address"
    message = EmailMessage(subject=f"[soc2hub] {notification.title}", body=notification.body,
                           to=[notification.user.email])
    try:
        get_connection().send_messages([message])
    except TRANSIENT_MAIL_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        if _refused_for_good(exc) or notification.email_attempts >= EMAIL_MAX_ATTEMPTS:
            row.update(email_status=EmailStatus.FAILED, email_error=error)
            logger.error("gave up e-mailing notification %s to %s after %d attempt(s): %s", notification_id,
                         notification.user.email, notification.email_attempts, error)
            return "failed"
        row.update(email_status=EmailStatus.QUEUED, email_error=error)
        logger.warning("e-mail of notification %s failed (attempt %d), will retry: %s", notification_id,
                       notification.email_attempts, error)
        raise
    row.update(email_status=EmailStatus.SENT, email_sent_at=timezone.now(), email_error="")
    return "sent"


def _refused_for_good(exc: Exception) -> bool:
    """The server refused the recipient permanently (5xx): retrying would only be refused again."""
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and all(
        code >= 500 for code, _ in exc.recipients.values())


# --- mail that is not a notification (allauth's account mails) -------------------------------

def email_payload(message: EmailMessage) -> dict:
    """A rendered message as JSON for a task."""
    return {"subject": message.subject, "body": message.body, "from_email": message.from_email,
            "to": list(message.to), "cc": list(message.cc), "bcc": list(message.bcc),
            "reply_to": list(message.reply_to), "headers": dict(message.extra_headers),
            "alternatives": [[content, mimetype] for content, mimetype in getattr(message, "alternatives", [])]}


def email_payload_send(*, payload: dict) -> None:
    """Send a message made by ``email_payload`` (transient errors raise, for the task to retry)."""
    message = EmailMultiAlternatives(
        subject=payload["subject"], body=payload["body"], from_email=payload["from_email"], to=payload["to"],
        cc=payload.get("cc") or None, bcc=payload.get("bcc") or None, reply_to=payload.get("reply_to") or None,
        headers=payload.get("headers") or None,
    )
    for content, mimetype in payload.get("alternatives") or []:
        message.attach_alternative(content, mimetype)
    get_connection().send_messages([message])


def email_queue(message: EmailMessage) -> None:
    """Send ``message`` from a task after commit. If the broker cannot take it, it is sent
    here and now instead (bounded by EMAIL_TIMEOUT), and a failure is logged, not raised."""
    from soc2hub.tasks import email_send

    payload = email_payload(message)

    def hand_over():
        try:
            email_send.apply_async((payload,), retry=False)
        except Exception:
            logger.warning("could not queue e-mail %r; sending it now", payload["subject"], exc_info=True)
            try:
                email_payload_send(payload=payload)
            except Exception:
                logger.exception("could not send e-mail %r to %s", payload["subject"], payload["to"])

    transaction.on_commit(hand_over)

