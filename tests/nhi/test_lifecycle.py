"""Lifecycle services: record a rotation, revoke or decommission, transfer, offboard a person.
Each is one service, checked by ``soc2hub.permissions``, atomic, and writes one activity-log row
per identity it changes."""

import hashlib

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase

from nhi import services
from nhi.models import NhiKind, NhiStatus, NonHumanIdentity, RotationRecord
from soc2hub.models import ActivityLog, Notification, User
from tests.evidence.factories import MINIMAL_PDF, WINDOWS_EXE, pdf, stored_files, upload
from tests.nhi.factories import (  # noqa: F401  (fixtures)
    days,
    logs,
    mail_to,
    make_nhi,
    notified,
    people_fixture,
    today,
)


def row(nhi) -> dict:
    """Everything stored about the identity, for before/after comparisons."""
    return NonHumanIdentity.objects.filter(pk=nhi.pk).values().get()


@pytest.fixture
def key(teams, people):
    """HR's production access key, last rotated 100 days ago on a 90-day policy (overdue)."""
    return make_nhi(teams["hr"], "payroll-export key", created_on=days(-400), last_rotated_on=days(-100),
                    technical_owner=people["owner"], credential_fingerprint="AKIA…OLD1")


# --- rotation -----------------------------------------------------------------------------------

def test_rotation_with_a_link_moves_the_due_date_and_is_logged_once(key, people):
    record = services.nhi_rotate(nhi=key, actor=people["owner"], evidence_link="https://git.example.com/pr/42",
                                 new_fingerprint="AKIA…NEW2", note="Rotated after the quarterly review")

    key.refresh_from_db()
    assert (key.last_rotated_on, key.rotation_due_on) == (today(), days(90))
    assert key.credential_fingerprint == "AKIA…NEW2" and key.rotation_required is False
    assert (record.rotated_by, record.evidence_link, record.evidence_file.name) == (
        people["owner"], "https://git.example.com/pr/42", "")
    [entry] = logs(obj=key)
    assert entry.verb == "nhi.rotated" and entry.actor == people["owner"]
    assert entry.before == {"last_rotated_on": days(-100).isoformat(), "credential_fingerprint": "AKIA…OLD1"}
    assert entry.after["evidence_link"] == "https://git.example.com/pr/42"
    assert entry.message == "Rotated after the quarterly review"


def test_rotation_with_a_file_is_checked_hashed_and_stored(key, people):
    record = services.nhi_rotate(nhi=key, actor=people["owner"], rotated_on=days(-2),
                                 evidence_file=pdf("rotation-ticket.pdf"))

    assert record.evidence_sha256 == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert record.evidence_file.name.startswith("nhi/rotations/")
    assert record.evidence_file.name.endswith(".pdf")
    with record.evidence_file.open("rb") as stored:
        assert stored.read() == MINIMAL_PDF
    key.refresh_from_db()
    assert key.last_rotated_on == days(-2)
    assert [e.after["evidence_sha256"] for e in logs("nhi.rotated")] == [record.evidence_sha256]


def test_a_disguised_file_is_refused_and_nothing_is_kept(key, people):
    before = row(key)

    with pytest.raises(ValidationError, match="not a .pdf file"):
        services.nhi_rotate(nhi=key, actor=people["owner"], evidence_file=upload("ticket.pdf", WINDOWS_EXE))

    assert row(key) == before
    assert not RotationRecord.objects.exists() and stored_files() == set() and logs() == []


def test_rotation_needs_evidence_and_a_live_identity(key, people):
    with pytest.raises(ValidationError, match="Attach evidence"):
        services.nhi_rotate(nhi=key, actor=people["owner"])
    services.nhi_revoke(nhi=key, actor=people["owner"], reason="Replaced by a role")
    with pytest.raises(ValidationError, match="nothing to rotate"):
        services.nhi_rotate(nhi=key, actor=people["owner"], evidence_link="https://x.test/1")
    assert not RotationRecord.objects.exists()


def test_recording_an_older_rotation_never_moves_the_date_back(key, people):
    services.nhi_rotate(nhi=key, actor=people["owner"], rotated_on=days(-5), evidence_link="https://x.test/new")
    services.nhi_rotate(nhi=key, actor=people["owner"], rotated_on=days(-50), evidence_link="https://x.test/old")

    key.refresh_from_db()
    assert key.last_rotated_on == days(-5)
    assert key.rotations.count() == 2


# --- revoke and decommission ----------------------------------------------------------------------

@pytest.mark.parametrize("decommission, status, verb", [
    (False, NhiStatus.REVOKED, "nhi.revoked"),
    (True, NhiStatus.DECOMMISSIONED, "nhi.decommissioned"),
])
def test_revoke_or_decommission_with_the_reason_on_record(key, people, decommission, status, verb):
    key.transfer_required = True
    key.save()

    services.nhi_revoke(nhi=key, actor=people["owner"], reason="Service retired", decommission=decommission,
                        evidence_link="https://tickets.example.com/OPS-9")

    key.refresh_from_db()
    assert key.status == status and key.transfer_required is False
    [entry] = logs(obj=key)
    assert (entry.verb, entry.message, entry.before, entry.after) == (
        verb, "Service retired", {"status": "active"},
        {"status": status, "evidence_link": "https://tickets.example.com/OPS-9"})


def test_revoking_needs_a_reason_and_happens_once(key, people):
    with pytest.raises(ValidationError) as refused:
        services.nhi_revoke(nhi=key, actor=people["owner"], reason="  ")
    assert "reason" in refused.value.message_dict

    services.nhi_revoke(nhi=key, actor=people["owner"], reason="Leaked in a log")
    with pytest.raises(ValidationError, match="already revoked"):
        services.nhi_revoke(nhi=key, actor=people["owner"], reason="Again", decommission=True)
    assert [e.verb for e in logs(obj=key)] == ["nhi.revoked"]


# --- transfer -------------------------------------------------------------------------------------

def test_transfer_marks_the_credential_for_rotation_and_tells_the_new_team(key, teams, people):
    key.transfer_required = True
    key.save()

    with TestCase.captureOnCommitCallbacks(execute=True):  # the e-mail leaves after commit
        services.nhi_transfer(nhi=key, actor=people["security"], team=teams["engineering"],
                              technical_owner=people["eng"], note="Payroll export moved to the data platform")

    key.refresh_from_db()
    assert (key.owner_team, key.technical_owner) == (teams["engineering"], people["eng"])
    assert key.rotation_required is True and key.transfer_required is False
    assert notified("nhi.transferred") == ["emil_eng_lead", "erin_eng"]
    assert mail_to("now owns payroll-export key") == ["emil_eng_lead@example.com", "erin_eng@example.com"]
    [entry] = logs(obj=key)
    assert entry.verb == "nhi.transferred"
    assert entry.after == {"owner_team": teams["engineering"].pk, "technical_owner": people["eng"].pk,
                           "rotation_required": True, "transfer_required": False}


def test_transfer_to_someone_outside_the_new_team_is_refused(key, teams, people):
    before = row(key)
    with pytest.raises(ValidationError) as refused:
        services.nhi_transfer(nhi=key, actor=people["security"], team=teams["engineering"],
                              technical_owner=people["owner"])
    assert "technical_owner" in refused.value.message_dict
    assert row(key) == before and logs() == [] and not Notification.objects.exists()


def test_changing_the_owner_team_through_an_edit_is_refused(key, teams, people):
    with pytest.raises(ValidationError, match="Transfer ownership"):
        services.nhi_update(nhi=key, actor=people["owner"], owner_team=teams["engineering"])


def test_an_active_identity_needs_an_owner_team_of_the_creator(teams, people):
    with pytest.raises(ValidationError) as no_team:
        services.nhi_create(actor=people["security"], name="k", kind=NhiKind.ACCESS_KEY, provider="AWS",
                            external_id="AKIA-1", owner_team=None)
    assert "owner_team" in no_team.value.message_dict
    with pytest.raises(ValidationError, match="only for a team you belong to"):
        services.nhi_create(actor=people["owner"], name="k", kind=NhiKind.ACCESS_KEY, provider="AWS",
                            external_id="AKIA-1", owner_team=teams["legal"])
    assert not NonHumanIdentity.objects.exists() and logs() == []


# --- offboarding ------------------------------------------------------------------------------------

@pytest.fixture
def leaver_estate(teams, people):
    """Harriet (HR) is the technical owner of keys in HR and Engineering, plus one already revoked."""
    leaver = people["owner"]
    return {
        "hr": make_nhi(teams["hr"], "hr-sftp", technical_owner=leaver),
        "hr2": make_nhi(teams["hr"], "hr-bot", kind=NhiKind.BOT, technical_owner=leaver),
        "eng": make_nhi(teams["engineering"], "eng-ci", kind=NhiKind.CICD_SECRET, technical_owner=leaver),
        "revoked": make_nhi(teams["hr"], "old-key", technical_owner=leaver, status=NhiStatus.REVOKED),
        "someone_elses": make_nhi(teams["hr"], "hal-key", technical_owner=people["hr_lead"]),
    }


def test_offboarding_flags_every_identity_and_tells_each_lead_and_security_once(leaver_estate, people):
    leaver = people["owner"]

    with TestCase.captureOnCommitCallbacks(execute=True):  # the e-mails leave after commit
        flagged = services.user_offboard(user=leaver, actor=people["security"])

    assert {n.name for n in flagged} == {"hr-sftp", "hr-bot", "eng-ci"}
    leaver.refresh_from_db()
    assert leaver.is_active is False
    states = dict(NonHumanIdentity.objects.values_list("name", "transfer_required"))
    assert states == {"hr-sftp": True, "hr-bot": True, "eng-ci": True, "old-key": False, "hal-key": False}
    assert set(NonHumanIdentity.objects.filter(rotation_required=True).values_list("name", flat=True)) == {
        "hr-sftp", "hr-bot", "eng-ci"}
    # One notification per person however many identities: both leads and Security.
    assert notified("nhi.owner_left") == ["emil_eng_lead", "hal_hr_lead", "sam_security"]
    assert mail_to("left: 3 non-human identities to transfer") == [
        "emil_eng_lead@example.com", "hal_hr_lead@example.com", "sam_security@example.com"]
    assert [e.verb for e in logs("user.deactivated")] == ["user.deactivated"]
    assert sorted(e.object_repr for e in logs("nhi.owner_left")) == ["eng-ci", "hr-bot", "hr-sftp"]


def test_offboarding_twice_flags_and_notifies_nothing_more(leaver_estate, people):
    services.user_offboard(user=people["owner"], actor=people["security"])
    counts = (ActivityLog.objects.count(), Notification.objects.count(), len(mail.outbox))

    assert services.user_offboard(user=User.objects.get(pk=people["owner"].pk), actor=people["security"]) == []

    assert (ActivityLog.objects.count(), Notification.objects.count(), len(mail.outbox)) == counts


def test_only_security_offboards(leaver_estate, people):
    with pytest.raises(PermissionDenied):
        services.user_offboard(user=people["owner"], actor=people["hr_lead"])
    people["owner"].refresh_from_db()
    assert people["owner"].is_active is True
    assert not NonHumanIdentity.objects.filter(transfer_required=True).exists() and logs() == []


# --- permissions ---------------------------------------------------------------------------------------

ACTIONS = {
    "rotate": lambda nhi, user, teams: services.nhi_rotate(nhi=nhi, actor=user, evidence_link="https://x.test/r"),
    "revoke": lambda nhi, user, teams: services.nhi_revoke(nhi=nhi, actor=user, reason="No longer used"),
    "decommission": lambda nhi, user, teams: services.nhi_revoke(nhi=nhi, actor=user, reason="Gone",
                                                                 decommission=True),
    "transfer": lambda nhi, user, teams: services.nhi_transfer(nhi=nhi, actor=user, team=teams["legal"]),
    "update": lambda nhi, user, teams: services.nhi_update(nhi=nhi, actor=user, purpose="Something else"),
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("persona", ["other_team", "auditor", "leadership"])
def test_another_team_cannot_act_and_nothing_changes(key, teams, people, action, persona):
    before = row(key)

    with pytest.raises(PermissionDenied):
        ACTIONS[action](key, people[persona], teams)

    assert row(key) == before
    assert not RotationRecord.objects.exists() and logs() == [] and not Notification.objects.exists()


@pytest.mark.parametrize("action, verb", [
    ("rotate", "nhi.rotated"), ("revoke", "nhi.revoked"), ("decommission", "nhi.decommissioned"),
    ("transfer", "nhi.transferred"), ("update", "nhi.changed"),
])
@pytest.mark.parametrize("persona", ["owner", "security"])
def test_every_action_writes_one_log_row(key, teams, people, action, verb, persona):
    ACTIONS[action](key, people[persona], teams)

    assert [(e.verb, e.actor) for e in logs()] == [(verb, people[persona])]


def test_create_writes_one_log_row(teams, people):
    nhi = services.nhi_create(actor=people["owner"], name="hr-sftp", kind=NhiKind.SSH_KEY, provider="SFTP",
                              external_id="sftp-1", owner_team=teams["hr"], created_on=days(-1))

    assert [(e.verb, e.object_id) for e in logs()] == [("nhi.created", str(nhi.pk))]
