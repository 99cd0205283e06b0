"""Expiry for real: the daily jobs expire an approved exception on its date and put the
controls it covered back in view, remind the requesting team and Security 30, 7 and 1 days
before, and send Leadership a weekly digest of what waits for their signature.

Every job is idempotent (twice, after missed days, or two workers at once) and takes "today"
in the configured time zone.
"""

import datetime as dt
from collections import Counter, defaultdict

import pytest
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from controls.models import Control
from exceptions.models import ExceptionReminder, ExceptionStatus, SignatureDigest
from soc2hub.jobs import registered_jobs, run_daily_jobs
from soc2hub.models import ActivityLog, Notification
from tests.concurrency import race
from tests.exceptions.factories import advance, clock, fresh, make_exception, sign, state
from tests.factories import Role, UserFactory

D = dt.date
S = ExceptionStatus
# Everything is requested and approved on Tuesday 1 December 2026 and expires on Monday
# 1 March 2027: reminders are due on 30 January, 22 and 28 February.
START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
EXPIRES = D(2027, 3, 1)
TITLE = "Contractor keeps production access"
HR_AND_SECURITY = {"harriet_hr@example.com", "sam_security@example.com"}


def days(first: dt.date, last: dt.date):
    while first <= last:
        yield first
        first += dt.timedelta(days=1)


def run_jobs(as_of: dt.date | None = None) -> dict:
    """The daily jobs, then the e-mails they queued for after commit (a test's transaction
    never commits)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return run_daily_jobs(as_of)


def new_mail(since: int) -> dict[str, set[str]]:
    """E-mails sent since ``since``, as subject → recipients."""
    grouped = defaultdict(set)
    for message in mail.outbox[since:]:
        grouped[message.subject.removeprefix("[soc2hub] ")].update(message.to)
    return dict(grouped)


def reminder(exception, days_left: int) -> str:
    return f"{exception.reference} expires in {days_left} day{'s' if days_left != 1 else ''}: {TITLE}"


def expired(exception) -> str:
    return f"{exception.reference} expired today: {TITLE}"


def run_days(schedule, *, twice=True) -> dict[dt.date, dict[str, set[str]]]:
    """Run every daily job on each day (twice, like a retry) and return the e-mails by day."""
    sent = {}
    for day in schedule:
        before = len(mail.outbox)
        for _ in range(2 if twice else 1):
            run_jobs(day)
        subjects = Counter((m.subject, tuple(m.to)) for m in mail.outbox[before:])
        assert set(subjects.values()) <= {1}, f"{day}: the same e-mail twice"
        if subjects:
            sent[day] = new_mail(before)
    return sent


@pytest.fixture
def approved(people, teams, controls):
    """HR's access exception covering HR-01, approved on 1 December 2026, expiring 1 March 2027."""
    with clock(START):
        exception = make_exception(people["owner"], teams["hr"], controls=[controls["hr"]], expires_on=EXPIRES)
        return advance(exception, S.APPROVED, people)


# --- expiry ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_expires_on_the_date_and_not_the_day_before(approved, controls):
    run_jobs(EXPIRES - dt.timedelta(days=1))
    assert fresh(approved).status == S.APPROVED
    assert Control.objects.get(ref="HR-01").exception_lapsed_on is None
    mail.outbox.clear()

    run_jobs(EXPIRES)

    exception = fresh(approved)
    assert exception.status == S.EXPIRED
    assert Control.objects.get(ref="HR-01").exception_lapsed_on == EXPIRES  # back in view
    assert Control.objects.get(ref="ENG-01").exception_lapsed_on is None  # not covered: untouched
    [entry] = ActivityLog.objects.filter(verb="exception.expired")
    assert (entry.actor, entry.before, entry.after) == (
        None, {"status": "approved"}, {"status": "expired", "expires_on": "2027-03-01"})
    assert ActivityLog.objects.filter(verb="control.exception_lapsed",
                                      object_id=str(controls["hr"].pk)).count() == 1
    assert new_mail(0) == {expired(exception): HR_AND_SECURITY}
    assert sorted(Notification.objects.filter(kind="exception.expired").values_list("user__username", flat=True)) \
        == ["harriet_hr", "sam_security"]


@pytest.mark.django_db
def test_running_again_changes_nothing_more(approved):
    run_jobs(EXPIRES)
    before = state(approved)
    logs = list(ActivityLog.objects.values_list("pk", flat=True))
    flags = list(Control.objects.values_list("ref", "exception_lapsed_on"))
    sent = len(mail.outbox)

    run_jobs(EXPIRES)
    run_jobs(EXPIRES + dt.timedelta(days=1))
    run_jobs(EXPIRES + dt.timedelta(days=40))

    assert state(approved) == before
    assert list(ActivityLog.objects.values_list("pk", flat=True)) == logs
    assert list(Control.objects.values_list("ref", "exception_lapsed_on")) == flags
    assert len(mail.outbox) == sent
    assert ActivityLog.objects.filter(verb="exception.expired").count() == 1


@pytest.mark.django_db
def test_a_missed_expiry_day_is_caught_up_and_flags_the_day_it_ran(approved):
    run_jobs(EXPIRES + dt.timedelta(days=3))  # the workers were down over the weekend
    assert fresh(approved).status == S.EXPIRED
    assert Control.objects.get(ref="HR-01").exception_lapsed_on == EXPIRES + dt.timedelta(days=3)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.SUBMITTED, S.UNDER_REVIEW])
def test_an_unsigned_exception_expires_without_flagging_controls(people, teams, controls, status):
    """It never covered the control, so there is nothing to put back in view."""
    with clock(START):
        exception = advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]],
                                           expires_on=EXPIRES), status, people)
    run_jobs(EXPIRES)
    assert fresh(exception).status == S.EXPIRED
    assert Control.objects.get(ref="HR-01").exception_lapsed_on is None


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.DRAFT, S.REJECTED, S.REVOKED, S.CLOSED])
def test_drafts_and_ended_exceptions_are_left_alone(people, teams, controls, status):
    with clock(START):
        exception = advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]],
                                           expires_on=EXPIRES), status, people)
    before = state(exception)
    run_jobs(EXPIRES + dt.timedelta(days=1))
    assert state(exception) == before
    assert Control.objects.get(ref="HR-01").exception_lapsed_on is None


@pytest.mark.django_db
def test_a_newly_approved_exception_takes_the_flag_down(approved, people, teams, controls):
    run_jobs(EXPIRES)
    assert Control.objects.get(ref="HR-01").exception_lapsed_on == EXPIRES
    renewal = make_exception(people["owner"], teams["hr"], controls=[controls["hr"]], title="Renewal")
    advance(renewal, S.APPROVED, people)
    assert Control.objects.get(ref="HR-01").exception_lapsed_on is None


# --- reminders ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_reminders_30_7_and_1_days_before_then_expiry(approved):
    sent = run_days(days(D(2027, 1, 20), EXPIRES))

    assert sent == {
        D(2027, 1, 30): {reminder(approved, 30): HR_AND_SECURITY},
        D(2027, 2, 22): {reminder(approved, 7): HR_AND_SECURITY},
        D(2027, 2, 28): {reminder(approved, 1): HR_AND_SECURITY},
        EXPIRES: {expired(approved): HR_AND_SECURITY},
    }
    assert sorted(ExceptionReminder.objects.values_list("days_before", "expires_on")) == [
        (1, EXPIRES), (7, EXPIRES), (30, EXPIRES)]
    in_app = Counter(Notification.objects.filter(kind="exception.expiring").values_list("user__username", flat=True))
    assert in_app == {"harriet_hr": 3, "sam_security": 3}
    assert list(ActivityLog.objects.filter(verb="exception.expiry_reminder").order_by("pk")
                .values_list("after", flat=True)) == [
        {"days_before": d, "expires_on": "2027-03-01"} for d in (30, 7, 1)]


@pytest.mark.django_db
def test_skipped_days_still_send_each_due_reminder_once(approved):
    sent = run_days([D(2027, 1, 29), D(2027, 2, 4), D(2027, 2, 5), D(2027, 2, 23), D(2027, 2, 26), EXPIRES])

    assert sent == {
        D(2027, 2, 4): {reminder(approved, 25): HR_AND_SECURITY},   # the 30-day reminder, five days late
        D(2027, 2, 23): {reminder(approved, 6): HR_AND_SECURITY},   # the 7-day reminder, a day late
        EXPIRES: {expired(approved): HR_AND_SECURITY},
    }
    assert sorted(ExceptionReminder.objects.values_list("days_before", flat=True)) == [7, 30]
    assert Counter(Notification.objects.filter(kind="exception.expiring")
                   .values_list("user__username", flat=True)) == {"harriet_hr": 2, "sam_security": 2}


@pytest.mark.django_db
def test_only_approved_exceptions_are_reminded(people, teams, controls):
    with clock(START):
        for status in (S.DRAFT, S.SUBMITTED, S.UNDER_REVIEW):
            advance(make_exception(people["owner"], teams["hr"], expires_on=EXPIRES), status, people)
    run_days([D(2027, 1, 30), D(2027, 2, 22), D(2027, 2, 28)])
    assert not ExceptionReminder.objects.exists()
    assert not Notification.objects.filter(kind="exception.expiring").exists()


# --- the configured time zone ------------------------------------------------------------------

# 12:30 UTC on 28 February 2027 is already 1 March (01:30) in Auckland and still 28 February
# (04:30) in Los Angeles. 10:30 UTC is 23:30 on 28 February in Auckland.
BETWEEN_DATES = dt.datetime(2027, 2, 28, 12, 30, tzinfo=dt.UTC)
BEFORE_MIDNIGHT_IN_AUCKLAND = dt.datetime(2027, 2, 28, 10, 30, tzinfo=dt.UTC)
BOTH_ON_1_MARCH = dt.datetime(2027, 3, 1, 12, 30, tzinfo=dt.UTC)


@pytest.mark.django_db
@pytest.mark.parametrize("zone, instant, local_day, status, one_day_reminder", [
    ("Pacific/Auckland", BETWEEN_DATES, D(2027, 3, 1), S.EXPIRED, False),
    ("Pacific/Auckland", BEFORE_MIDNIGHT_IN_AUCKLAND, D(2027, 2, 28), S.APPROVED, True),
    ("America/Los_Angeles", BETWEEN_DATES, D(2027, 2, 28), S.APPROVED, True),
    ("America/Los_Angeles", BOTH_ON_1_MARCH, D(2027, 3, 1), S.EXPIRED, False),
])
def test_today_is_the_date_in_the_configured_time_zone(settings, people, teams, controls, zone, instant,
                                                      local_day, status, one_day_reminder):
    settings.TIME_ZONE = zone
    with clock(START):
        exception = advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]],
                                           expires_on=EXPIRES), S.APPROVED, people)

    with clock(instant):
        assert timezone.localdate() == local_day
        results = run_jobs()  # no as_of: the job decides what today is

    assert fresh(exception).status == status
    assert results["exceptions.expire"]["expired"] == (status == S.EXPIRED)
    assert Control.objects.get(ref="HR-01").exception_lapsed_on == (EXPIRES if status == S.EXPIRED else None)
    assert ExceptionReminder.objects.filter(days_before=1).exists() == one_day_reminder


# --- the weekly signature digest -----------------------------------------------------------------

def digests() -> list[tuple[str, str]]:
    return sorted((m.to[0].split("@")[0], m.subject.removeprefix("[soc2hub] ")) for m in mail.outbox
                  if "awaiting your signature" in m.subject)


@pytest.fixture
def awaiting_signatures(people, teams):
    """An access exception (Leadership and Finance sign) and a policy one (Leadership signs),
    both waiting; two people in Leadership."""
    UserFactory(username="lena_leadership", roles=[Role.LEADERSHIP])
    with clock(START):
        access = advance(make_exception(people["owner"], teams["hr"], expires_on=EXPIRES), S.UNDER_REVIEW, people)
        policy = advance(make_exception(people["owner"], teams["hr"], type="policy", title="No MFA on the kiosk",
                                        expires_on=EXPIRES), S.UNDER_REVIEW, people)
    return {"access": access, "policy": policy}


@pytest.mark.django_db
def test_each_pending_signer_gets_one_digest_per_iso_week(awaiting_signatures, people):
    mail.outbox.clear()
    run_days(days(D(2026, 12, 1), D(2026, 12, 14)))  # Tuesday of W49 to Monday of W51

    assert digests() == sorted(
        (who, f"{count} exception{'s' if count > 1 else ''} awaiting your signature ({week})")
        for week in ("2026-W49", "2026-W50", "2026-W51")
        for who, count in (("lee_leadership", 2), ("lena_leadership", 2), ("fran_finance", 1))
    )
    assert Counter(SignatureDigest.objects.values_list("user__username", flat=True)) == {
        "lee_leadership": 3, "lena_leadership": 3, "fran_finance": 3}
    assert Notification.objects.filter(kind="exception.signature_digest").count() == 9

    # Finance signs: from next week on, only Leadership hears about anything.
    sign(awaiting_signatures["access"], people["finance"])
    mail.outbox.clear()
    run_days(days(D(2026, 12, 21), D(2026, 12, 27)))
    assert digests() == [("lee_leadership", "2 exceptions awaiting your signature (2026-W52)"),
                         ("lena_leadership", "2 exceptions awaiting your signature (2026-W52)")]


@pytest.mark.django_db
def test_the_digest_follows_iso_weeks_across_the_new_year(awaiting_signatures):
    mail.outbox.clear()
    run_days(days(D(2026, 12, 28), D(2027, 1, 4)))  # 1 January 2027 is still in 2026-W53
    weeks = Counter(s.rsplit("(", 1)[1].rstrip(")") for _, s in digests())
    assert weeks == {"2026-W53": 3, "2027-W01": 3}


@pytest.mark.django_db
def test_no_digest_when_nothing_waits(approved):
    run_days(days(D(2026, 12, 1), D(2026, 12, 14)))
    assert digests() == [] and not SignatureDigest.objects.exists()


# --- two workers at once (PostgreSQL) -----------------------------------------------------------

def jobs_unclaimed(day: dt.date) -> dict:
    """Every job's own figures, without the daily run's claim: two workers that got past it
    (a takeover, a forced run) must still do the work once."""
    return {name: job(day) for name, job in registered_jobs().items()}


def in_two_threads(work) -> list:
    """Run ``work`` in two threads released together by a barrier; re-raise any error."""
    return race(2, lambda _n: work())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_expiring_at_once_expire_once(require_postgres, approved, controls):
    results = in_two_threads(lambda: jobs_unclaimed(EXPIRES))

    assert sorted(r["exceptions.expire"]["expired"] for r in results) == [0, 1]
    assert fresh(approved).status == S.EXPIRED
    assert ActivityLog.objects.filter(verb="exception.expired").count() == 1
    assert ActivityLog.objects.filter(verb="control.exception_lapsed").count() == 1
    assert Counter(Notification.objects.filter(kind="exception.expired").values_list("user__username", flat=True)) \
        == {"harriet_hr": 1, "sam_security": 1}
    assert Counter((m.subject, tuple(m.to)) for m in mail.outbox if "expired today" in m.subject) == {
        (f"[soc2hub] {expired(approved)}", ("harriet_hr@example.com",)): 1,
        (f"[soc2hub] {expired(approved)}", ("sam_security@example.com",)): 1,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_reminding_at_once_remind_once(require_postgres, approved, people, teams):
    with clock(START):
        waiting = advance(make_exception(people["owner"], teams["hr"], type="policy", title="Waiting",
                                         expires_on=EXPIRES), S.UNDER_REVIEW, people)
    mail.outbox.clear()

    results = in_two_threads(lambda: jobs_unclaimed(D(2027, 2, 22)))

    assert sorted(r["exceptions.expiry_reminders"]["sent"] for r in results) == [0, 1]
    assert list(ExceptionReminder.objects.values_list("exception_id", "days_before")) == [(approved.pk, 7)]
    assert ActivityLog.objects.filter(verb="exception.expiry_reminder").count() == 1
    assert Counter(Notification.objects.filter(kind="exception.expiring").values_list("user__username", flat=True)) \
        == {"harriet_hr": 1, "sam_security": 1}
    assert Counter((m.subject, tuple(m.to)) for m in mail.outbox if m.subject.endswith(TITLE)) == {
        (f"[soc2hub] {reminder(approved, 7)}", ("harriet_hr@example.com",)): 1,
        (f"[soc2hub] {reminder(approved, 7)}", ("sam_security@example.com",)): 1,
    }
    # ...and the weekly digest for the one waiting for Leadership goes once too.
    assert list(SignatureDigest.objects.values_list("user__username", "week")) == [("lee_leadership", "2027-W08")]
    assert fresh(waiting).status == S.UNDER_REVIEW
