"""A real SMTP server on 127.0.0.1 (aiosmtpd) whose behaviour a test switches at will:

* ``accept()``: record every message (``messages``: one (recipient, subject) per recipient);
* ``refuse(code, *addresses)``: answer ``code`` (451 try later, 550 no such mailbox) to these
  recipients, or to every recipient when none is named;
* ``hang(seconds)``: answer nothing for ``seconds`` after RCPT, longer than the EMAIL_TIMEOUT
  the fixture sets (1 s), so the client times out.

The ``smtp_server`` fixture points Django's SMTP backend at it.
"""

import asyncio
import datetime as dt
import socket
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

REPLIES = {451: "451 4.3.0 Try again later", 550: "550 5.1.1 No such mailbox"}


class SmtpStandIn:
    def __init__(self):
        self.messages: list[tuple[str, str]] = []
        self.refused: list[tuple[str, int]] = []  # (recipient, code) each time one was refused
        self.accept()

    def accept(self):
        self._refuse, self._refuse_all, self._hang = {}, None, 0.0

    def refuse(self, code: int, *addresses: str):
        if addresses:
            self._refuse.update(dict.fromkeys(addresses, code))
        else:
            self._refuse_all = code

    def hang(self, seconds: float = 3.0):
        self._hang = seconds

    def delivered_to(self, address: str) -> list[str]:
        return [subject for to, subject in self.messages if to == address]

    # aiosmtpd hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._hang:
            await asyncio.sleep(self._hang)
        code = self._refuse.get(address) or self._refuse_all
        if code:
            self.refused.append((address, code))
            return REPLIES.get(code, f"{code} Refused")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content)
        for address in envelope.rcpt_tos:
            self.messages.append((address, str(message["Subject"])))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(name="smtp_server")
def smtp_server_fixture(settings):
    stand_in = SmtpStandIn()
    controller = Controller(stand_in, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", controller.port, 1
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield stand_in
    finally:
        stand_in.accept()
        controller.stop()


def sweep_later(minutes: int = 40) -> int:
    """Run the e-mail sweeper as it would run once every retry wait is over (the queued rows'
    times are moved back); returns how many e-mails it queued again."""
    from django.utils import timezone

    from soc2hub.models import EmailStatus, Notification
    from soc2hub.tasks import notification_emails_sweep

    earlier = timezone.now() - dt.timedelta(minutes=minutes)
    Notification.objects.filter(email_status=EmailStatus.QUEUED).update(created_at=earlier, email_claimed_at=earlier)
    return notification_emails_sweep()
