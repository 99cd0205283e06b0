"""A mail server that refuses or hangs neither rolls back nor blocks a signature or an expiry:
both commit, their notices stay queued, and the mail goes out once the server accepts again."""

import pytest

from exceptions.models import ExceptionStatus as S
from exceptions.services import exceptions_expire
from soc2hub.models import EmailStatus, Notification
from tests.exceptions.factories import advance, fresh, make_exception, sign
from tests.smtp import smtp_server_fixture, sweep_later  # noqa: F401  (the smtp_server fixture)

pytestmark = pytest.mark.django_db
TOLD = ["harriet_hr@example.com", "sam_security@example.com"]  # the requesting team and Security


def trouble(server, kind):
    """The earlier steps' mail (queued, their commits not run in a test transaction) goes out
    first; then the server starts refusing or hanging."""
    sweep_later()
    server.messages.clear()
    server.refuse(451) if kind == "refuse" else server.hang(3)


def mail_of(kind) -> list[tuple[str, int]]:
    return sorted(Notification.objects.filter(kind=kind).values_list("email_status", "email_attempts"))


def delivered(server) -> list[str]:
    return sorted(to for to, _ in server.messages)


@pytest.mark.parametrize("kind", ["refuse", "hang"])
def test_the_last_signature_commits_while_mail_is_down(people, teams, smtp_server, kind,
                                                       django_capture_on_commit_callbacks):
    exception = advance(make_exception(people["owner"], teams["hr"]), S.UNDER_REVIEW, people)
    sign(exception, people["leadership"])
    trouble(smtp_server, kind)

    with django_capture_on_commit_callbacks(execute=True):
        signature = sign(exception, people["finance"])  # access exceptions need Finance too

    assert signature.pk and fresh(exception).status == S.APPROVED
    assert mail_of("exception.approved") == [(EmailStatus.QUEUED, 1)] * 2 and smtp_server.messages == []

    smtp_server.accept()
    assert sweep_later() == 2
    assert delivered(smtp_server) == TOLD
    assert mail_of("exception.approved") == [(EmailStatus.SENT, 2)] * 2
    assert sweep_later() == 0 and delivered(smtp_server) == TOLD  # nothing twice


@pytest.mark.parametrize("kind", ["refuse", "hang"])
def test_the_daily_expiry_expires_while_mail_is_down(people, teams, controls, smtp_server, kind,
                                                     django_capture_on_commit_callbacks):
    exception = advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]]), S.APPROVED, people)
    trouble(smtp_server, kind)

    with django_capture_on_commit_callbacks(execute=True):
        result = exceptions_expire(as_of=fresh(exception).expires_on)

    assert result == {"expired": 1, "controls_flagged": 1} and fresh(exception).status == S.EXPIRED
    assert mail_of("exception.expired") == [(EmailStatus.QUEUED, 1)] * 2

    assert sweep_later() == 2  # still down: a retry, and the row waits again
    assert mail_of("exception.expired") == [(EmailStatus.QUEUED, 2)] * 2 and smtp_server.messages == []
    smtp_server.accept()
    assert sweep_later() == 2
    assert delivered(smtp_server) == TOLD
    assert sweep_later() == 0 and delivered(smtp_server) == TOLD
