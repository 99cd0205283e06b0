"""The daily jobs: opening each period's request, reminders and escalation, the weekly digest.

Every job must be idempotent: run twice, run after days of downtime, or run by two workers
at once, it creates each request, reminder and digest exactly once.
"""

import datetime as dt
import io
from collections import Counter

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import TestCase

from evidence import services
from evidence.models import EvidenceReminder, EvidenceRequest, RequestStatus, TeamDigest
from evidence.periods import period_containing
from soc2hub.models import ActivityLog, Notification
from tests.concurrency import race
from tests.evidence.factories import make_request, make_template

D = dt.date
OPENED = "evidence_request.opened"
OPEN_AND_REMIND = ("evidence.open_requests", "evidence.reminders")


def run(day: dt.date, *only: str, force: bool = False) -> str:
    out = io.StringIO()
    args = ["run_daily_jobs", "--as-of", day.isoformat(), *(["--force"] if force else [])]
    for name in only:
        args += ["--only", name]
    with TestCase.captureOnCommitCallbacks(execute=True):  # the jobs' e-mails leave after commit
        call_command(*args, stdout=out)
    return out.getvalue()


def days(first: dt.date, last: dt.date):
    while first <= last:
        yield first
        first += dt.timedelta(days=1)


def rows():
    """The requests as the daily job leaves them, for before/after comparisons."""
    return list(EvidenceRequest.objects.order_by("pk").values_list(
        "pk", "template_id", "period_start", "period_end", "period_label", "opens_on", "due_on", "status"))


def opened_logs() -> Counter:
    return Counter(ActivityLog.objects.filter(verb=OPENED).values_list("object_id", flat=True))


def reminder_mail() -> list[tuple[str, tuple[str, ...]]]:
    """Reminder and escalation e-mails (not the "Evidence requested" notice on opening)."""
    return [(m.subject, tuple(m.to)) for m in mail.outbox
            if m.subject.startswith(("[soc2hub] Due", "[soc2hub] Overdue"))]


def by_subject(messages) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for subject, to in messages:
        grouped.setdefault(subject.removeprefix("[soc2hub] "), set()).update(to)
    return grouped


# --- opening requests --------------------------------------------------------------------------

@pytest.fixture
def every_cadence(teams, personas):
    hr = teams["hr"]
    return {
        cadence: make_template(hr, cadence=cadence, starts_on=D(2026, 1, 1), opens=0, due=14,
                               title=f"HR {cadence}")
        for cadence in ("monthly", "quarterly", "semi_annual", "annual")
    } | {"one_off": make_template(hr, cadence="one_off", one_off_period_end=D(2026, 6, 30), opens=0, due=14,
                                  title="HR one-off")}


def test_opens_exactly_one_request_per_template_and_period(every_cadence):
    output = run(D(2026, 11, 26), "evidence.open_requests")

    labels = {cadence: sorted(EvidenceRequest.objects.filter(template=t).values_list("period_label", flat=True))
              for cadence, t in every_cadence.items()}
    assert labels == {
        "monthly": [f"2026-{m:02d}" for m in range(1, 11)],  # November ends on the 30th
        "quarterly": ["2026-Q1", "2026-Q2", "2026-Q3"],
        "semi_annual": ["2026-H1"],
        "annual": [],
        "one_off": ["2026-06-30"],
    }
    assert "opened=15" in output
    request = EvidenceRequest.objects.get(template=every_cadence["quarterly"], period_label="2026-Q3")
    assert (request.period_start, request.period_end, request.opens_on, request.due_on) == (
        D(2026, 7, 1), D(2026, 9, 30), D(2026, 9, 30), D(2026, 10, 14))
    assert request.owner_team == every_cadence["quarterly"].owner_team
    assert request.control == every_cadence["quarterly"].control
    assert request.status == RequestStatus.OPEN
    assert set(opened_logs().values()) == {1}
    assert set(opened_logs()) == {str(pk) for pk in EvidenceRequest.objects.values_list("pk", flat=True)}


def test_running_twice_changes_nothing(every_cadence, hr_lead):
    first_output = run(D(2026, 11, 26))
    before = rows()
    logs_before = list(ActivityLog.objects.order_by("pk").values_list("pk", flat=True))
    notifications_before = Notification.objects.count()
    reminders_before = list(EvidenceReminder.objects.values_list("request_id", "kind", "key"))
    mail_before = len(mail.outbox)
    assert reminders_before, "the overdue months were escalated on the first run"

    second_output = run(D(2026, 11, 26))
    forced_output = run(D(2026, 11, 26), force=True)  # the jobs themselves, run again

    assert "opened=15" in first_output
    assert "evidence.open_requests: skipped, done at" in second_output
    assert "opened=0" in forced_output
    assert rows() == before
    assert list(ActivityLog.objects.order_by("pk").values_list("pk", flat=True)) == logs_before
    assert Notification.objects.count() == notifications_before
    assert list(EvidenceReminder.objects.values_list("request_id", "kind", "key")) == reminders_before
    assert len(mail.outbox) == mail_before
    assert set(opened_logs().values()) == {1}


def test_a_late_worker_that_missed_the_first_commit_creates_nothing(teams):
    """The database constraint, not the ``existing`` pre-check, decides: a second attempt to
    open the same period (a worker that read before the first one committed) is a no-op."""
    template = make_template(teams["hr"], cadence="quarterly", starts_on=D(2026, 1, 1))
    period = period_containing("quarterly", D(2026, 2, 1))
    first = services._open_request(template, period, D(2026, 3, 31), D(2026, 4, 14))
    second = services._open_request(template, period, D(2026, 3, 31), D(2026, 4, 14))
    assert first is not None and second is None
    assert EvidenceRequest.objects.count() == 1
    assert opened_logs() == {str(first.pk): 1}


@pytest.mark.parametrize("opens, expected", [
    (0, 22),   # January 2025 to October 2026: November 2026 has not ended on the 26th
    (-7, 23),  # opening a week before the month ends brings November 2026 in too
])
def test_catching_up_after_downtime_opens_every_missed_period(teams, opens, expected):
    template = make_template(teams["hr"], cadence="monthly", starts_on=D(2025, 1, 1), opens=opens, due=10)

    run(D(2025, 3, 5), "evidence.open_requests")  # ran in March 2025, then nothing for twenty months
    assert EvidenceRequest.objects.count() == 2
    run(D(2026, 11, 26), "evidence.open_requests")

    months = [D(2025 + (m // 12), m % 12 + 1, 1) for m in range(expected)]
    requests = list(EvidenceRequest.objects.filter(template=template).order_by("period_start"))
    assert [r.period_start for r in requests] == months
    assert [r.period_label for r in requests] == [f"{m:%Y-%m}" for m in months]
    for request in requests:
        assert request.opens_on == request.period_end + dt.timedelta(days=opens)
        assert request.due_on == request.period_end + dt.timedelta(days=10)
    assert len(opened_logs()) == expected and set(opened_logs().values()) == {1}


def test_inactive_templates_and_templates_that_start_later_open_nothing(teams):
    make_template(teams["hr"], cadence="monthly", starts_on=D(2026, 1, 1), is_active=False)
    make_template(teams["hr"], cadence="monthly", starts_on=D(2027, 1, 1))
    run(D(2026, 11, 26), "evidence.open_requests")
    assert not EvidenceRequest.objects.exists()


@pytest.mark.parametrize("value", ["2026-13-01", "26/11/2026", "tomorrow", "2026-02-30", "2026-11-26T06:00"])
def test_a_bad_as_of_is_refused(every_cadence, value):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_daily_jobs", "--as-of", value, stdout=io.StringIO())
    assert not EvidenceRequest.objects.exists()


def test_an_unknown_job_is_refused_and_nothing_runs(every_cadence):
    with pytest.raises(CommandError, match="unknown job.*evidence.open_request\\b"):
        call_command("run_daily_jobs", "--as-of", "2026-11-26", "--only", "evidence.open_requests",
                     "--only", "evidence.open_request", stdout=io.StringIO())
    assert not EvidenceRequest.objects.exists()


def test_only_runs_just_the_named_job(every_cadence, hr_lead):
    output = run(D(2026, 11, 26), "evidence.reminders")
    assert output.startswith("evidence.reminders:")
    assert "evidence.open_requests" not in output
    assert not EvidenceRequest.objects.exists()


# --- reminders and escalation ------------------------------------------------------------------

HR_PEOPLE = {"harriet_hr@example.com", "hal_hr_lead@example.com"}
LEAD_AND_SECURITY = {"hal_hr_lead@example.com", "sam_security@example.com"}
REQUEST = "Termination tickets (2026-Q3)"
OVERDUE = f"Overdue: {REQUEST} was due 14 Oct 2026"


@pytest.fixture
def q3(teams, personas, hr_lead):
    """HR's quarterly standard starting with Q3 2026: opens 30 September, due 14 October."""
    return make_template(teams["hr"], title="Termination tickets", cadence="quarterly", starts_on=D(2026, 7, 1),
                         opens=0, due=14)


def run_days(schedule, *, twice=True) -> dict[dt.date, dict[str, set[str]]]:
    """Run the jobs on each day (twice, like a retry), and return the reminder e-mails by day."""
    sent = {}
    for day in schedule:
        before = len(reminder_mail())
        for _ in range(2 if twice else 1):
            run(day, *OPEN_AND_REMIND)
        new = reminder_mail()[before:]
        if new:
            assert len(new) == len(set(new)), f"{day}: the same e-mail twice"
            sent[day] = by_subject(new)
    return sent


def test_reminders_before_due_on_the_day_then_weekly_escalation(q3):
    sent = run_days(days(D(2026, 9, 30), D(2026, 11, 1)))

    assert sent == {
        D(2026, 10, 7): {f"Due in 7 days: {REQUEST}": HR_PEOPLE},
        D(2026, 10, 13): {f"Due in 1 day: {REQUEST}": HR_PEOPLE},
        D(2026, 10, 14): {f"Due today: {REQUEST}": HR_PEOPLE},
        D(2026, 10, 15): {OVERDUE: LEAD_AND_SECURITY},  # day 1 overdue
        D(2026, 10, 22): {OVERDUE: LEAD_AND_SECURITY},  # day 8
        D(2026, 10, 29): {OVERDUE: LEAD_AND_SECURITY},  # day 15
    }
    request = EvidenceRequest.objects.get()
    assert sorted(request.reminders.values_list("kind", "key")) == [
        ("before_due", 1), ("before_due", 7), ("due_today", 0), ("escalation", 0), ("escalation", 1),
        ("escalation", 2),
    ]
    escalation = request.reminders.get(kind="escalation", key=0)
    assert set(escalation.recipients.split(", ")) == {"sam_security", "hal_hr_lead"}
    # The same reminders in the app, one per person.
    in_app = Counter(Notification.objects.filter(kind__startswith="evidence.").exclude(
        kind="evidence.request_opened").values_list("user__username", "kind"))
    assert in_app == {
        ("harriet_hr", "evidence.before_due"): 2, ("hal_hr_lead", "evidence.before_due"): 2,
        ("harriet_hr", "evidence.due_today"): 1, ("hal_hr_lead", "evidence.due_today"): 1,
        ("hal_hr_lead", "evidence.escalation"): 3, ("sam_security", "evidence.escalation"): 3,
    }
    # ...and in the request's history.
    assert ActivityLog.objects.filter(verb__startswith="evidence_request.", object_id=str(request.pk)).exclude(
        verb=OPENED).count() == 6


def test_skipped_days_still_send_each_reminder_once(q3):
    sent = run_days([D(2026, 9, 30), D(2026, 10, 8), D(2026, 10, 9), D(2026, 10, 13), D(2026, 10, 16),
                     D(2026, 10, 17), D(2026, 10, 23), D(2026, 10, 24), D(2026, 10, 28)])

    assert sent == {
        D(2026, 10, 8): {f"Due in 6 days: {REQUEST}": HR_PEOPLE},  # the 7-day reminder, a day late
        D(2026, 10, 13): {f"Due in 1 day: {REQUEST}": HR_PEOPLE},
        D(2026, 10, 16): {OVERDUE: LEAD_AND_SECURITY},  # the first week's escalation, caught up
        D(2026, 10, 23): {OVERDUE: LEAD_AND_SECURITY},  # the second week's
    }
    assert sorted(EvidenceReminder.objects.values_list("kind", "key")) == [
        ("before_due", 1), ("before_due", 7), ("escalation", 0), ("escalation", 1)]


def test_escalation_without_a_team_lead_goes_to_security(teams, personas):
    make_template(teams["hr"], title="Termination tickets", cadence="quarterly", starts_on=D(2026, 7, 1))
    sent = run_days([D(2026, 9, 30), D(2026, 10, 15)])
    assert sent == {D(2026, 10, 15): {OVERDUE: {"sam_security@example.com"}}}


@pytest.mark.parametrize("status", [RequestStatus.SUBMITTED, RequestStatus.APPROVED])
def test_no_reminders_once_the_team_has_submitted(q3, status):
    run(D(2026, 9, 30), *OPEN_AND_REMIND)
    EvidenceRequest.objects.update(status=status)
    sent = run_days(days(D(2026, 10, 1), D(2026, 10, 30)), twice=False)
    assert sent == {}
    assert not EvidenceReminder.objects.exists()


def test_a_returned_request_is_chased_again(q3):
    run(D(2026, 9, 30), *OPEN_AND_REMIND)
    EvidenceRequest.objects.update(status=RequestStatus.RETURNED)
    sent = run_days([D(2026, 10, 14), D(2026, 10, 15)])
    assert sent == {D(2026, 10, 14): {f"Due today: {REQUEST}": HR_PEOPLE},
                    D(2026, 10, 15): {OVERDUE: LEAD_AND_SECURITY}}


@pytest.mark.parametrize("reminder_days, expected", [
    ([14, 3], {D(2026, 9, 30): f"Due in 14 days: {REQUEST}", D(2026, 10, 11): f"Due in 3 days: {REQUEST}",
               D(2026, 10, 14): f"Due today: {REQUEST}"}),
    ([], {D(2026, 10, 14): f"Due today: {REQUEST}"}),
])
def test_reminder_days_come_from_settings(q3, settings, reminder_days, expected):
    settings.EVIDENCE_REMINDER_DAYS = reminder_days
    sent = run_days(days(D(2026, 9, 30), D(2026, 10, 14)))
    assert {day: set(subjects) for day, subjects in sent.items()} == {day: {s} for day, s in expected.items()}


# --- the weekly digest ---------------------------------------------------------------------------

@pytest.fixture
def digest_world(teams, personas, hr_lead):
    hr = make_template(teams["hr"], title="Termination tickets", cadence="quarterly")
    legal = make_template(teams["legal"], title="Contract commitments", cadence="quarterly")
    make_request(hr, period_start=D(2026, 7, 1), opens_on=D(2026, 9, 30), due_on=D(2026, 10, 14))
    make_request(hr, period_start=D(2026, 10, 1), opens_on=D(2026, 12, 31), due_on=D(2027, 1, 14))  # not open yet
    make_request(legal, period_start=D(2026, 7, 1), opens_on=D(2026, 9, 30), due_on=D(2026, 10, 14),
                 status=RequestStatus.SUBMITTED)
    make_request(legal, period_start=D(2026, 4, 1), opens_on=D(2026, 6, 30), due_on=D(2026, 7, 14),
                 status=RequestStatus.APPROVED)


def digests() -> list[tuple[str, tuple[str, ...]]]:
    return [(m.subject, tuple(m.to)) for m in mail.outbox if "outstanding (" in m.subject]


def test_weekly_digest_once_per_team_per_iso_week(digest_world):
    for day in (D(2026, 11, 23), D(2026, 11, 25), D(2026, 11, 25), D(2026, 11, 29)):  # Monday to Sunday, W48
        run(day, "evidence.team_digests")

    assert list(TeamDigest.objects.values_list("team__slug", "week")) == [("hr", "2026-W48")]
    assert sorted(digests()) == [
        ("[soc2hub] HR: 1 evidence request outstanding (2026-W48)", ("hal_hr_lead@example.com",)),
        ("[soc2hub] HR: 1 evidence request outstanding (2026-W48)", ("harriet_hr@example.com",)),
    ]
    assert Notification.objects.filter(kind="evidence.digest").count() == 2

    run(D(2026, 11, 30), "evidence.team_digests")  # the next Monday: a new week
    assert sorted(TeamDigest.objects.values_list("team__slug", "week")) == [("hr", "2026-W48"), ("hr", "2026-W49")]
    assert len(digests()) == 4


def test_weekly_digest_week_spans_the_new_year(digest_world):
    run(D(2026, 12, 31), "evidence.team_digests")
    run(D(2027, 1, 1), "evidence.team_digests")  # still ISO week 2026-W53
    run(D(2027, 1, 3), "evidence.team_digests")
    assert sorted(TeamDigest.objects.values_list("team__slug", "week")) == [("hr", "2026-W53")]
    # On 31 December the Q4 request opened too, so HR owes two.
    assert {s for s, _ in digests()} == {"[soc2hub] HR: 2 evidence requests outstanding (2026-W53)"}


def test_no_digest_for_teams_with_nothing_outstanding(digest_world):
    EvidenceRequest.objects.filter(owner_team__slug="hr").update(status=RequestStatus.APPROVED)
    run(D(2026, 11, 23), "evidence.team_digests")
    assert not TeamDigest.objects.exists()
    assert digests() == []


# --- two workers at once (PostgreSQL) -----------------------------------------------------------

def in_threads(count: int, work) -> list:
    """Run ``work`` in ``count`` threads released together by a barrier; re-raise any error."""
    return race(count, lambda _n: work())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_opening_at_once_create_each_request_once(require_postgres, teams, personas):
    templates = [make_template(teams["hr"], cadence="monthly", starts_on=D(2026, 1, 1), title=f"Monthly {i}")
                 for i in range(3)] + [make_template(teams["legal"], cadence="quarterly", starts_on=D(2026, 1, 1))]

    results = in_threads(4, lambda: services.requests_open_due(as_of=D(2026, 11, 26)))

    assert EvidenceRequest.objects.count() == 3 * 10 + 3
    assert sum(r["opened"] for r in results) == 33
    per_period = Counter(EvidenceRequest.objects.values_list("template_id", "period_start"))
    assert set(per_period.values()) == {1}
    assert {t for t, _ in per_period} == {t.pk for t in templates}
    logs = opened_logs()
    assert len(logs) == 33 and set(logs.values()) == {1}
    # one "requested" notice per member per request: HR has one member here, Legal one
    assert Notification.objects.filter(kind="evidence.request_opened").count() == 33


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_reminding_at_once_send_each_reminder_once(require_postgres, teams, personas, hr_lead):
    as_of = D(2026, 11, 26)
    monthly = make_template(teams["hr"], cadence="monthly", starts_on=D(2026, 1, 1), due=10)
    for month in range(1, 11):  # January to October: overdue by 6 to 278 days, so escalations
        make_request(monthly, period_start=D(2026, month, 1), due_on=period_containing(
            "monthly", D(2026, month, 1)).end + dt.timedelta(days=10))
    quarterly = make_template(teams["hr"], cadence="quarterly", starts_on=D(2026, 1, 1), due=10)
    for quarter, days_left in zip((1, 4, 7), (7, 1, 0)):  # and three due in a week, tomorrow, today
        make_request(quarterly, period_start=D(2026, quarter, 1), due_on=as_of + dt.timedelta(days=days_left))
    owed = {r.pk: services._reminder_for(r, as_of) for r in EvidenceRequest.objects.all()}
    assert all(owed.values())

    in_threads(4, lambda: services.reminders_send(as_of=as_of))

    sent = Counter(EvidenceReminder.objects.values_list("request_id", "kind", "key"))
    assert set(sent.values()) == {1}
    assert set(sent) == {(pk, *kind_key) for pk, kind_key in owed.items()}
    per_message = Counter((m.subject, tuple(m.to)) for m in mail.outbox)
    assert set(per_message.values()) == {1}
    assert len(mail.outbox) == 2 * len(owed)  # lead + Security for escalations; two HR members otherwise
