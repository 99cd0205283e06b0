"""Telling people things: an in-app notification and an e-mail through Django's mail backend."""

import logging
import threading
from collections.abc import Iterable
from contextlib import contextmanager

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string

from soc2hub.models import Notification, Role, User


def members_of(team) -> list[User]:
    return list(User.objects.filter(memberships__team=team, is_active=True).order_by("pk"))


def security_people() -> list[User]:
    return list(User.objects.filter(Q(groups__name=Role.SECURITY) | Q(is_superuser=True), is_active=True)
                .distinct().order_by("pk"))


logger = logging.getLogger(__name__)
_state = threading.local()


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
           email: bool = True, email_after_commit: bool = False) -> list[User]:
    """Create one notification per person and e-mail each of them.

    Call inside the transaction that records the reason for notifying (a reminder row, a
    decision): if sending fails, the transaction rolls back and the next run tries again.
    """
    people = {u.pk: u for u in users if u is not None and u.is_active}.values()
    if not people or getattr(_state, "suppressed", False):
        return []
    body = render_to_string(f"emails/{template}.txt", {**context, "site_url": settings.SITE_URL, "url": url})
    Notification.objects.bulk_create(
        [Notification(user=u, kind=kind, title=subject[:250], body=body, url=url) for u in people]
    )
    messages = [EmailMessage(subject=f"[soc2hub] {subject}", body=body, to=[u.email]) for u in people if u.email]
    if email and messages:
        if email_after_commit:
            transaction.on_commit(lambda: _send_quietly(messages))
        else:
            get_connection().send_messages(messages)
    return list(people)


def _send_quietly(messages) -> None:
    """For notices whose record is already committed: a mail failure is logged, not raised
    (the in-app notification still stands)."""
    try:
        get_connection().send_messages(messages)
    except Exception:
        logger.exception("could not send %d notification e-mail(s)", len(messages))
