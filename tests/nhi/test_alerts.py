"""The daily NHI job: each owner team hears once per state about identities overdue for
rotation or expiring, in one message; what stays overdue is escalated weekly to the lead and
Security; nothing is ever sent twice for the same state, however often the job runs."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from nhi import alerts, services
from nhi.models import NhiAlert, NhiKind, NhiStatus
from soc2hub.jobs import registered_jobs, run_daily_jobs
from soc2hub.models import Notification
from tests.nhi.factories import (  # noqa: F401  (fixtures)
    days,
    logs,
    make_nhi,
    notified,
    people_fixture,
    today,
)


def run(day: dt.date, times: int = 1) -> dict:
    """The job's figures. Forced: the job's own idempotency is under test here, not the daily
    run's once-a-day claim (tests/soc2hub/test_daily_jobs.py)."""
    for _ in range(times):
        with TestCase.captureOnCommitCallbacks(execute=True):  # the e-mails leave after commit
            result = run_daily_jobs(day, only=["nhi.alerts"], force=True)["nhi.alerts"]
        assert result.pop("status") == "done", result
    return result


def each_day(first: dt.date, last: dt.date):
    while first <= last:
        yield first
        first += dt.timedelta(days=1)


def sent(nhi=None, kind=None) -> list[tuple]:
    qs = NhiAlert.objects.order_by("pk")
    if nhi is not None:
        qs = qs.filter(nhi=nhi)
    if kind is not None:
        qs = qs.filter(kind=kind)
    return list(qs.values_list("nhi__name", "kind", "key"))


def overdue_key(team, name, *, due_days_ago=3, **fields):
    """An access key (90-day policy) whose rotation fell due ``due_days_ago`` days ago."""
    return make_nhi(team, name, created_on=days(-400), last_rotated_on=days(-90 - due_days_ago), **fields)


@pytest.fixture
def estate(teams, people):
    hr, eng = teams["hr"], teams["engineering"]
    return {
        "dated": overdue_key(hr, "hr-dated"),
        "never": make_nhi(hr, "hr-never", last_rotated_on=None),
        "required": make_nhi(hr, "hr-required", rotation_required=True),
        "cert": make_nhi(hr, "hr-cert", kind=NhiKind.CERTIFICATE, expires_on=days(10)),
        "fine": make_nhi(hr, "hr-fine"),
        "eng_both": overdue_key(eng, "eng-both", expires_on=days(5)),
        "unowned": overdue_key(None, "no-team-key"),
        "revoked": overdue_key(hr, "hr-revoked", status=NhiStatus.REVOKED, expires_on=days(1)),
    }


def test_the_jobs_are_registered_for_the_daily_run():
    assert {"nhi.alerts", "nhi.campaign_reminders"} <= set(registered_jobs())


def test_each_team_hears_once_about_all_its_identities(estate, people):
    result = run(today())

    assert sorted(sent()) == sorted([
        ("hr-dated", "rotation_overdue", days(-3).isoformat()),
        ("hr-never", "rotation_overdue", "never"),
        ("hr-required", "rotation_overdue", "required"),
        ("hr-cert", "expiring", days(10).isoformat()),
        ("eng-both", "rotation_overdue", days(-3).isoformat()),
        ("eng-both", "expiring", days(5).isoformat()),
        ("no-team-key", "rotation_overdue", days(-3).isoformat()),
    ])
    # One message per team (the team's members), Security for the identity without a team.
    assert notified("nhi.alert") == ["emil_eng_lead", "erin_eng", "hal_hr_lead", "harriet_hr", "sam_security"]
    assert result == {"checked": 6, "alerted": 6, "escalated": 0, "messages": 3, "seconds": result["seconds"]}
    hr_mail = [m for m in mail.outbox if m.subject == "[soc2hub] HR: 4 non-human identities to rotate or renew"]
    assert sorted(m.to[0] for m in hr_mail) == ["hal_hr_lead@example.com", "harriet_hr@example.com"]
    body = hr_mail[0].body
    assert "hr-dated" in body and "never rotated" in body and "rotation required" in body
    assert "hr-cert" in body and "in 10 days" in body and "hr-fine" not in body and "hr-revoked" not in body
    assert [e.verb for e in logs()] == ["nhi.alerted"] * 3


def test_repeated_runs_send_nothing_more(estate, people):
    run(today())
    before = (sent(), Notification.objects.count(), len(mail.outbox), len(logs()))

    for day in each_day(today(), days(3)):
        result = run(day, times=2)

    assert (sent(), Notification.objects.count(), len(mail.outbox), len(logs())) == before
    assert result["alerted"] == 0 and result["messages"] == 0


def test_a_rotation_then_a_new_lapse_alerts_again(teams, people):
    key = overdue_key(teams["hr"], "hr-key", due_days_ago=1)
    run(today())
    services.nhi_rotate(nhi=key, actor=people["owner"], evidence_link="https://git.example.com/pr/7")

    run(today())
    run(days(90))  # due on day 90: not yet late
    assert sent(key) == [("hr-key", "rotation_overdue", days(-1).isoformat())]

    run(days(91), times=2)
    assert sent(key) == [("hr-key", "rotation_overdue", days(-1).isoformat()),
                         ("hr-key", "rotation_overdue", days(90).isoformat())]
    assert notified("nhi.alert") == ["hal_hr_lead", "hal_hr_lead", "harriet_hr", "harriet_hr"]


def test_a_transfer_alerts_the_new_team_once_and_a_rotation_ends_it(teams, people):
    key = make_nhi(teams["hr"], "shared-key")
    services.nhi_transfer(nhi=key, actor=people["security"], team=teams["engineering"])

    run(today(), times=2)
    assert sent(key) == [("shared-key", "rotation_overdue", "required")]
    assert notified("nhi.alert") == ["emil_eng_lead", "erin_eng"]

    services.nhi_rotate(nhi=key, actor=people["eng"], evidence_link="https://git.example.com/pr/8")
    run(days(30))
    assert sent(key) == [("shared-key", "rotation_overdue", "required")]


def test_a_renewed_certificate_alerts_again_for_its_new_expiry(teams, people):
    cert = make_nhi(teams["hr"], "tls-cert", kind=NhiKind.CERTIFICATE, expires_on=days(20))
    run(today())
    run(days(19))
    cert.expires_on = days(400)
    cert.save()
    run(days(20))
    run(days(370), times=2)

    assert sent(cert, "expiring") == [("tls-cert", "expiring", days(20).isoformat()),
                          ("tls-cert", "expiring", days(400).isoformat())]


def test_revoked_identities_are_never_alerted(teams, people):
    key = overdue_key(teams["hr"], "hr-key", expires_on=days(3))
    services.nhi_revoke(nhi=key, actor=people["owner"], reason="Replaced")

    assert run(today())["checked"] == 0
    assert sent() == [] and not Notification.objects.exists()


# --- escalation -----------------------------------------------------------------------------------

def test_overdue_by_more_than_a_week_is_escalated_weekly_to_lead_and_security(teams, people):
    key = overdue_key(teams["hr"], "hr-key", due_days_ago=3)
    due = days(-3).isoformat()

    for day in each_day(today(), days(20)):
        run(day, times=2)

    # Late 8-14 days is week 1, 15-21 week 2, 22-28 week 3 (day 20 is 23 days late).
    assert sent(key, "rotation_escalation") == [("hr-key", "rotation_escalation", f"{due}:w1"),
                                                ("hr-key", "rotation_escalation", f"{due}:w2"),
                                                ("hr-key", "rotation_escalation", f"{due}:w3")]
    assert notified("nhi.escalation") == ["hal_hr_lead"] * 3 + ["sam_security"] * 3
    assert notified("nhi.alert") == ["hal_hr_lead", "harriet_hr"]
    escalation = next(m for m in mail.outbox if m.subject.startswith("[soc2hub] Escalation: HR"))
    assert "hr-key" in escalation.body and "days overdue" in escalation.body


def test_a_long_overdue_identity_is_escalated_with_its_first_alert(teams, people):
    """Never rotated since it was made 100 days ago on a 90-day policy: ten days late already."""
    make_nhi(teams["hr"], "old-never", created_on=days(-100), last_rotated_on=None)

    run(today(), times=2)

    assert sent() == [("old-never", "rotation_overdue", "never"), ("old-never", "rotation_escalation", "never:w1")]


def test_a_required_rotation_escalates_a_week_after_the_first_alert(teams, people):
    make_nhi(teams["hr"], "handed-over", rotation_required=True)

    for day in each_day(today(), days(8)):
        run(day)

    assert sent(kind="rotation_escalation") == [("handed-over", "rotation_escalation", "required:w1")]


def test_identities_without_a_team_go_to_security(teams, people):
    overdue_key(None, "no-team-key", due_days_ago=10)

    run(today(), times=2)

    assert notified("nhi.alert") == ["sam_security"]
    assert notified("nhi.escalation") == ["sam_security"]
    assert [m.subject for m in mail.outbox] == [
        "[soc2hub] Security: 1 non-human identity without an owner team to rotate or renew",
        "[soc2hub] Escalation: 1 non-human identity without an owner team overdue for rotation by more than 7 days",
    ]


# --- claiming ---------------------------------------------------------------------------------------

def test_a_run_that_lost_part_of_the_race_sends_only_what_it_won(teams, people):
    """Another run committed one of these alerts after this run read what was sent: the batch
    insert fails, nothing is sent for it, and the rows are then claimed one by one."""
    keys = [overdue_key(teams["hr"], f"key-{n}") for n in range(3)]
    owed = [alerts.Owed(nhi, alerts.ROTATION_OVERDUE, alerts.rotation_key(nhi), 3) for nhi in keys]
    NhiAlert.objects.create(nhi=keys[1], kind=alerts.ROTATION_OVERDUE, key=owed[1].key)
    messages = []

    won = alerts._claim_and_send(owed, lambda claimed: messages.append([o.nhi.name for o in claimed]))

    assert [o.nhi.name for o in won] == ["key-0", "key-2"]
    assert messages == [["key-0", "key-2"]]
    assert NhiAlert.objects.count() == 3


def test_a_failed_send_releases_the_claim_for_the_next_run(teams, people, monkeypatch):
    overdue_key(teams["hr"], "hr-key")

    def broken(**kwargs):
        raise ConnectionError("mail server down")

    monkeypatch.setattr(alerts, "notify", broken)
    failed = run_daily_jobs(today(), only=["nhi.alerts"])["nhi.alerts"]
    assert (failed["status"], failed["error"]) == ("failed", "ConnectionError: mail server down")
    assert sent() == []

    monkeypatch.undo()
    retried = run_daily_jobs(today(), only=["nhi.alerts"])["nhi.alerts"]  # a failed job is tried again
    assert (retried["status"], retried["alerted"]) == ("done", 1)
    assert sent() == [("hr-key", "rotation_overdue", days(-3).isoformat())]


# --- query counts -----------------------------------------------------------------------------------

def _queries(as_of: dt.date) -> int:
    with CaptureQueriesContext(connection) as captured:
        alerts.nhi_alerts_send(as_of=as_of)
    return len(captured)


def test_a_quiet_day_costs_the_same_for_50_or_500_identities(teams, people):
    """Every tenth identity is overdue and was already alerted; nothing new is due."""
    def add(first, last):
        for n in range(first, last):
            if n % 10:
                make_nhi(teams["hr" if n % 2 else "engineering"], f"fine-{n}")
            else:
                overdue_key(teams["hr"], f"overdue-{n}")
        run(today())

    add(0, 50)
    with_50 = _queries(today())
    add(50, 500)
    with_500 = _queries(today())

    assert NhiAlert.objects.count() == 50
    assert with_50 == with_500 == 2  # the identities due, the keys already sent


def test_queries_do_not_grow_with_the_identities_alerted(teams, people):
    """Alerting (and escalating) 5 or 40 identities of a team takes the same queries: a
    constant per run plus a constant per team message, none per identity."""
    for n in range(5):
        overdue_key(teams["hr"], f"hr-{n}", due_days_ago=10)
    with_5 = _queries(today())
    for n in range(40):
        overdue_key(teams["engineering"], f"eng-{n}", due_days_ago=10)
    with_40 = _queries(today())

    assert len(sent(kind="rotation_overdue")) == len(sent(kind="rotation_escalation")) == 45
    assert Notification.objects.filter(kind="nhi.alert").count() == 4  # two people in each team
    # identities due, keys sent, Security; per message: (members,) savepoint, insert, notifications, log, release
    assert with_5 == with_40 == 3 + 6 + 5
