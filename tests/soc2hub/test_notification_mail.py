"""A notification's e-mail leaves after commit, from a task, through a real SMTP server
(tests/smtp.py): once each, retried while the server refuses or hangs, one bad recipient never
holding up the others, nothing lost while the broker is down."""

import datetime as dt
import socket

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from soc2hub import notifications, tasks
from soc2hub.models import EmailStatus, Notification
from tests.factories import UserFactory
from tests.smtp import smtp_server_fixture, sweep_later  # noqa: F401  (the smtp_server fixture)

pytestmark = pytest.mark.django_db


def tell(people, subject="Evidence approved"):
    return notifications.notify(users=people, kind="test.notice", subject=subject, template="evidence_approved",
                                context={"evidence": None}, url="/evidence/")


def status(user) -> tuple[str, int]:
    row = Notification.objects.get(user=user)
    return row.email_status, row.email_attempts


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


def test_the_notice_is_written_at_once_and_the_mail_leaves_after_commit(alice, bob, smtp_server,
                                                                         django_capture_on_commit_callbacks):
    nobody = UserFactory(username="no_address", email="")
    with django_capture_on_commit_callbacks(execute=True):
        tell([alice, bob, nobody])
        assert smtp_server.messages == []  # nothing leaves before commit
        assert status(alice) == (EmailStatus.QUEUED, 0) and status(nobody) == (EmailStatus.NONE, 0)

    assert sorted(smtp_server.messages) == [("alice@example.com", "[soc2hub] Evidence approved"),
                                            ("bob@example.com", "[soc2hub] Evidence approved")]
    assert status(alice) == (EmailStatus.SENT, 1) and status(bob) == (EmailStatus.SENT, 1)
    assert Notification.objects.get(user=alice).email_sent_at is not None

    # Running the task again, or the sweeper, sends nothing twice.
    for row in Notification.objects.all():
        assert tasks.notification_email_send.delay(row.pk).get() == "not due"
    assert sweep_later() == 0
    assert len(smtp_server.messages) == 2


def test_a_rollback_sends_nothing(alice, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            tell([alice])
            raise RuntimeError("the decision failed")
    assert smtp_server.messages == [] and not Notification.objects.exists()


def test_one_refused_recipient_does_not_stop_the_others(alice, bob, smtp_server, django_capture_on_commit_callbacks):
    carol = UserFactory(username="carol")
    smtp_server.refuse(550, "bob@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        tell([alice, bob, carol])

    assert sorted(to for to, _ in smtp_server.messages) == ["alice@example.com", "carol@example.com"]
    # 550 is final: no retry would change it, so it fails at once with the server's answer.
    bob_row = Notification.objects.get(user=bob)
    assert (bob_row.email_status, bob_row.email_attempts) == (EmailStatus.FAILED, 1)
    assert "550" in bob_row.email_error
    assert sweep_later() == 0 and smtp_server.refused == [("bob@example.com", 550)]


@pytest.mark.parametrize("trouble", ["refuse", "hang"])
def test_a_transient_failure_is_retried_until_delivered_once(alice, smtp_server, trouble,
                                                             django_capture_on_commit_callbacks):
    smtp_server.refuse(451) if trouble == "refuse" else smtp_server.hang(3)
    with django_capture_on_commit_callbacks(execute=True):
        tell([alice])
    row = Notification.objects.get(user=alice)
    assert (row.email_status, row.email_attempts) == (EmailStatus.QUEUED, 1)
    assert ("451" if trouble == "refuse" else "timed out") in row.email_error
    assert smtp_server.messages == []

    # The sweeper does not hurry a retry whose backoff has not passed ...
    assert tasks.notification_emails_sweep() == 0
    # ... and once it has, retries: still failing, then delivered.
    assert sweep_later() == 1
    assert status(alice) == (EmailStatus.QUEUED, 2)
    smtp_server.accept()
    assert sweep_later() == 1
    assert status(alice) == (EmailStatus.SENT, 3) and smtp_server.delivered_to("alice@example.com") == [
        "[soc2hub] Evidence approved"]
    # A second run of the task, or of the sweeper, sends nothing twice.
    assert tasks.notification_email_send.delay(row.pk).get() == "not due"
    assert sweep_later() == 0
    assert len(smtp_server.messages) == 1


def test_a_worker_retries_with_backoff_and_gives_up_after_the_last_attempt(alice, smtp_server, caplog):
    """Outside eager mode the task re-raises for Celery's autoretry (with backoff); the row
    counts attempts, and the last one marks it failed and logs it."""
    smtp_server.refuse(451)
    tell([alice])
    pk = Notification.objects.get(user=alice).pk
    task = tasks.notification_email_send
    assert task.max_retries == notifications.EMAIL_MAX_ATTEMPTS - 1 and task.retry_backoff
    for attempt in range(1, notifications.EMAIL_MAX_ATTEMPTS):
        with pytest.raises(OSError):  # what autoretry_for catches to schedule the retry
            notifications.notification_email_send(notification_id=pk)
        assert status(alice) == (EmailStatus.QUEUED, attempt)
    assert notifications.notification_email_send(notification_id=pk) == "failed"
    assert status(alice) == (EmailStatus.FAILED, notifications.EMAIL_MAX_ATTEMPTS)
    assert "gave up e-mailing notification" in caplog.text
    assert sweep_later() == 0 and smtp_server.messages == []


def test_a_claim_abandoned_while_sending_is_taken_over(alice, smtp_server):
    tell([alice])
    row = Notification.objects.get(user=alice)
    just_now = timezone.now() - dt.timedelta(seconds=30)
    Notification.objects.filter(pk=row.pk).update(email_status=EmailStatus.SENDING, email_claimed_at=just_now)
    assert tasks.notification_email_send.delay(row.pk).get() == "not due"  # someone is sending it
    assert tasks.notification_emails_sweep() == 0

    long_ago = timezone.now() - notifications.EMAIL_CLAIM_STALE - dt.timedelta(seconds=1)
    Notification.objects.filter(pk=row.pk).update(email_claimed_at=long_ago)
    assert tasks.notification_emails_sweep() == 1
    assert status(alice) == (EmailStatus.SENT, 1) and len(smtp_server.messages) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broker():
    """Switch the Celery app between a broker that is down (a closed port, real publishing)
    and the eager runner the other tests use."""
    from soc2hub.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager

    def point(url, eager):
        app.conf.broker_url, app.conf.task_always_eager = url, eager
        app.close()  # forget pooled connections to the previous broker ...
        app.amqp._producer_pool = None  # ... and the producers bound to them

    class Broker:
        def down(self):
            point(f"redis://127.0.0.1:{_closed_port()}/0", False)

        def back(self):
            point(*saved)

    yield Broker()
    point(*saved)


def test_a_broker_that_is_down_loses_nothing(alice, bob, smtp_server, broker, django_capture_on_commit_callbacks):
    broker.down()
    with django_capture_on_commit_callbacks(execute=True):
        tell([alice, bob])  # commits; queueing the mail fails for real
    assert smtp_server.messages == []
    assert status(alice) == (EmailStatus.QUEUED, 0) and status(bob) == (EmailStatus.QUEUED, 0)

    broker.back()
    assert sweep_later(minutes=2) == 2
    assert sorted(to for to, _ in smtp_server.messages) == ["alice@example.com", "bob@example.com"]
    assert sweep_later() == 0 and len(smtp_server.messages) == 2


def test_suppressed_writes_nothing_and_sends_nothing(alice, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), notifications.suppressed():
        assert tell([alice]) == []
    assert not Notification.objects.exists() and smtp_server.messages == []
    assert tasks.notification_emails_sweep() == 0


def test_the_sweeper_runs_every_minute(db):
    from django_celery_beat.models import PeriodicTask

    from soc2hub.apps import EMAIL_SWEEP_TASK_NAME

    entry = PeriodicTask.objects.get(name=EMAIL_SWEEP_TASK_NAME)
    assert entry.task == "soc2hub.tasks.notification_emails_sweep" and entry.enabled
    assert (entry.interval.every, entry.interval.period) == (60, "seconds")


def test_with_the_locmem_backend_mail_lands_in_the_outbox_after_commit(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tell([alice])
        assert mail.outbox == []
    assert [(m.to, m.subject) for m in mail.outbox] == [(["alice@example.com"], "[soc2hub] Evidence approved")]
