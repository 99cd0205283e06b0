"""The NHI API against the same rows as the pages (``estate`` from test_pages.py): the same
filters give the same lists, and the lifecycle actions (rotate, revoke, transfer) behave as
their forms do, answering 400 with the field named when the input is wrong."""

import hashlib
import json

import pytest

from nhi.models import NhiStatus, NonHumanIdentity, RotationRecord
from soc2hub.models import ActivityLog
from tests.evidence.factories import MINIMAL_PDF, pdf
from tests.factories import member_of
from tests.nhi.factories import days, today
from tests.nhi.test_pages import FILTERS, estate, world  # noqa: F401  (estate is a fixture)

pytestmark = pytest.mark.django_db


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


@pytest.fixture
def security(personas, client_for):
    return client_for(personas["security"])


@pytest.fixture
def owner(personas, client_for):
    return client_for(personas["owner"])


@pytest.fixture
def key(estate):  # noqa: F811
    return estate["hr-overdue-key"]


# --- filters, as the pages ------------------------------------------------------------------------

@pytest.mark.parametrize("query", FILTERS)
def test_filters_match_the_inventory_page(estate, security, query):  # noqa: F811
    api = names(security.get(f"/api/v1/nhis/?{query}"))
    page = [n.name for n in security.get(f"/nhi/?{query}").context["page"]]

    assert set(api) == FILTERS[query]
    assert api == page


@pytest.mark.parametrize("query", ["ordering=-name", "ordering=last_rotated&team=engineering",
                                   "ordering=-last_rotated&team=engineering", "ordering=kind&team=engineering"])
def test_ordering_matches_the_inventory_page(estate, security, query):  # noqa: F811
    assert names(security.get(f"/api/v1/nhis/?{query}")) == [
        n.name for n in security.get(f"/nhi/?{query}").context["page"]]


def test_the_list_carries_the_derived_state(estate, security):  # noqa: F811
    rows = {row["name"]: row for row in security.get("/api/v1/nhis/").json()["results"]}

    flags = ("is_rotation_overdue", "is_never_rotated", "is_stale", "is_orphaned", "is_expiring_soon")
    assert {flag for flag in flags if rows["hr-never-secret"][flag]} == {"is_rotation_overdue", "is_never_rotated"}
    assert {flag for flag in flags if rows["eng-expiring-cert"][flag]} == {"is_expiring_soon"}
    assert {flag for flag in flags if rows["unowned-key"][flag]} == {"is_orphaned"}
    assert {flag for flag in flags if rows["hr-revoked-key"][flag]} == set()
    assert rows["hr-overdue-key"]["rotation_due_on"] == days(-10).isoformat()


@pytest.mark.parametrize("query, field", [("kind=rocket", "kind"), ("team=nope", "team"),
                                          ("status=gone", "status"), ("ordering=secret", "ordering")])
def test_a_filter_the_api_cannot_read_is_a_400_naming_it(estate, security, query, field):  # noqa: F811
    response = security.get(f"/api/v1/nhis/?{query}")

    assert response.status_code == 400
    assert list(response.json()) == [field]


# --- rotate ---------------------------------------------------------------------------------------------

def test_rotate_with_a_link_as_json(key, owner, personas):
    response = post(owner, f"/api/v1/nhis/{key.pk}/rotate/", {
        "rotated_on": days(-1).isoformat(), "evidence_link": "https://git.example.com/pr/7",
        "new_fingerprint": "AKIA…NEW7", "note": "Scheduled rotation"})

    assert response.status_code == 200
    body = response.json()
    assert (body["last_rotated_on"], body["rotation_due_on"], body["credential_fingerprint"]) == (
        days(-1).isoformat(), days(89).isoformat(), "AKIA…NEW7")
    assert body["is_rotation_overdue"] is False
    record = RotationRecord.objects.get(nhi=key)
    assert (record.rotated_by, record.evidence_link, record.note) == (
        personas["owner"], "https://git.example.com/pr/7", "Scheduled rotation")


def test_rotate_with_a_file_as_multipart(key, owner):
    response = owner.post(f"/api/v1/nhis/{key.pk}/rotate/", {"evidence_file": pdf("vault-audit.pdf"),
                                                             "rotated_on": today().isoformat()})

    assert response.status_code == 200, response.content
    assert response.json()["last_rotated_on"] == today().isoformat()
    record = RotationRecord.objects.get(nhi=key)
    assert record.evidence_sha256 == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert ActivityLog.objects.get(verb="nhi.rotated").after["evidence_sha256"] == record.evidence_sha256


def test_rotate_defaults_to_today(key, owner):
    response = post(owner, f"/api/v1/nhis/{key.pk}/rotate/", {"evidence_link": "https://git.example.com/pr/8"})
    assert response.json()["last_rotated_on"] == today().isoformat()


@pytest.mark.parametrize("body, field, message", [
    ({"rotated_on": "FUTURE", "evidence_link": "https://git.example.com/pr/1"}, "rotated_on",
     "The rotation date is in the future."),
    ({"rotated_on": "2026-02-30", "evidence_link": "https://git.example.com/pr/1"}, "rotated_on", None),
    ({"evidence_link": "not a url"}, "evidence_link", "Enter a valid URL."),
    ({}, "non_field_errors", "Attach evidence of the rotation: a link to the change or a file."),
    ({"evidence_link": ""}, "non_field_errors", "Attach evidence of the rotation: a link to the change or a file."),
    ({"rotated_on": "1990-01-01", "evidence_link": "https://git.example.com/pr/1"}, "rotated_on",
     "The rotation date is before the identity was created."),
])
def test_a_refused_rotation_is_a_400_naming_the_field(key, owner, body, field, message):
    if body.get("rotated_on") == "FUTURE":
        body = {**body, "rotated_on": days(1).isoformat()}
    before = world()

    response = post(owner, f"/api/v1/nhis/{key.pk}/rotate/", body)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    if message:
        assert response.json()[field] == [message]
    assert world() == before


def test_a_disguised_file_is_refused(key, owner):
    from tests.evidence.factories import WINDOWS_EXE, upload

    before = world()
    response = owner.post(f"/api/v1/nhis/{key.pk}/rotate/", {"evidence_file": upload("ticket.pdf", WINDOWS_EXE)})

    assert response.status_code == 400
    assert "not a .pdf file" in json.dumps(response.json())
    assert world() == before


# --- revoke ---------------------------------------------------------------------------------------------

def test_revoke(key, owner):
    response = post(owner, f"/api/v1/nhis/{key.pk}/revoke/", {"reason": "Leaked in a CI log.",
                                                             "evidence_link": "https://x.example.com/inc/4"})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["is_rotation_overdue"]) == ("revoked", False)
    assert ActivityLog.objects.get(verb="nhi.revoked").message == "Leaked in a CI log."


def test_decommission(key, owner):
    response = post(owner, f"/api/v1/nhis/{key.pk}/revoke/", {"reason": "Retired.", "decommission": True})
    assert response.json()["status"] == NhiStatus.DECOMMISSIONED


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_revoke_needs_a_reason(key, owner, body):
    before = world()
    response = post(owner, f"/api/v1/nhis/{key.pk}/revoke/", body)

    assert response.status_code == 400
    assert list(response.json()) == ["reason"]
    assert world() == before


def test_revoking_twice_is_refused(estate, owner):  # noqa: F811
    nhi = estate["hr-revoked-key"]
    response = post(owner, f"/api/v1/nhis/{nhi.pk}/revoke/", {"reason": "Again."})

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["hr-revoked-key is already revoked."]}


# --- transfer -------------------------------------------------------------------------------------------

def test_transfer_marks_the_credential_for_rotation(key, teams, security):
    erin = member_of(teams["engineering"], username="erin_eng")
    response = post(security, f"/api/v1/nhis/{key.pk}/transfer/", {"team": "engineering",
                                                                   "technical_owner": "erin_eng",
                                                                   "note": "Engineering runs payroll now."})

    assert response.status_code == 200
    body = response.json()
    assert (body["owner_team"], body["technical_owner"], body["rotation_required"], body["is_rotation_overdue"]) == (
        "engineering", "erin_eng", True, True)
    key.refresh_from_db()
    assert (key.owner_team, key.technical_owner, key.rotation_required) == (teams["engineering"], erin, True)


def test_the_owner_team_can_transfer_through_the_api(key, teams, owner):
    response = post(owner, f"/api/v1/nhis/{key.pk}/transfer/", {"team": "engineering"})

    assert response.status_code == 200
    assert response.json()["rotation_required"] is True


@pytest.mark.parametrize("body, field, message", [
    ({"team": "engineering", "technical_owner": "olivia_legal"}, "technical_owner",
     "Choose an active member of Engineering."),
    ({"team": "nope"}, "team", "Object with slug=nope does not exist."),
    ({}, "team", "This field is required."),
    ({"team": "engineering", "technical_owner": "nobody"}, "technical_owner",
     "Choose an active member of Engineering."),
])
def test_a_refused_transfer_is_a_400_naming_the_field(key, security, body, field, message):
    before = world()
    response = post(security, f"/api/v1/nhis/{key.pk}/transfer/", body)

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert world() == before


# --- create and update -----------------------------------------------------------------------------------

CREATE = {"name": "hr-new-key", "kind": "access_key", "provider": "AWS", "external_id": "hr-new-1", "owner_team": "hr"}


def test_create(teams, owner):
    response = post(owner, "/api/v1/nhis/", {**CREATE, "owasp_tags": ["NHI7:2025"], "last_rotated_on":
                                             days(-5).isoformat(), "scopes": "s3:GetObject"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["owner_team"], body["source"], body["rotation_interval_days"], body["rotation_due_on"]) == (
        "hr", "manual", 90, days(85).isoformat())
    assert body["status"] == "active" and body["owasp_tags"] == ["NHI7:2025"]


@pytest.mark.parametrize("body, field", [
    ({**CREATE, "owner_team": None}, "owner_team"),
    ({k: v for k, v in CREATE.items() if k != "owner_team"}, "owner_team"),
    ({**CREATE, "kind": "rocket"}, "kind"),
    ({**CREATE, "name": ""}, "name"),
    ({**CREATE, "last_rotated_on": "FUTURE"}, "last_rotated_on"),
    ({**CREATE, "created_on": "2026-13-01"}, "created_on"),
    ({**CREATE, "owasp_tags": ["NHI99:2025"]}, "owasp_tags"),
    ({**CREATE, "owner_team": "nope"}, "owner_team"),
])
def test_a_refused_create_is_a_400_naming_the_field(teams, owner, body, field):
    if body.get("last_rotated_on") == "FUTURE":
        body = {**body, "last_rotated_on": days(2).isoformat()}
    before = world()

    response = post(owner, "/api/v1/nhis/", body)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert world() == before


def test_an_identity_needs_an_owner_team_says_why(teams, security):
    response = post(security, "/api/v1/nhis/", {**CREATE, "owner_team": None})
    assert response.json() == {"owner_team": ["An active identity needs an owner team: someone must answer for it."]}


def test_the_same_natural_key_twice_is_refused(teams, owner):
    assert post(owner, "/api/v1/nhis/", CREATE).status_code == 201
    before = world()

    response = post(owner, "/api/v1/nhis/", {**CREATE, "name": "again"})

    assert response.status_code == 400
    assert "external_id" in response.json()["non_field_errors"][0]
    assert NonHumanIdentity.objects.filter(external_id="hr-new-1").count() == 1
    assert world() == before


def test_patch(key, owner):
    response = patch(owner, f"/api/v1/nhis/{key.pk}/", {"purpose": "Exports payroll.", "has_admin_access": True})

    assert response.status_code == 200
    assert (response.json()["purpose"], response.json()["has_admin_access"]) == ("Exports payroll.", True)
    assert ActivityLog.objects.get(verb="nhi.changed").after == {"purpose": "Exports payroll.",
                                                                 "has_admin_access": True}


def test_patching_the_owner_team_is_refused_with_use_transfer(key, owner, teams):
    before = world()
    response = patch(owner, f"/api/v1/nhis/{key.pk}/", {"owner_team": "engineering"})

    assert response.status_code == 400
    assert response.json() == {"owner_team": [
        "Use “Transfer ownership”: a transfer also marks the credential for rotation."]}
    assert world() == before
    assert NonHumanIdentity.objects.get(pk=key.pk).owner_team == teams["hr"]


def test_patching_the_same_owner_team_is_harmless(key, owner):
    response = patch(owner, f"/api/v1/nhis/{key.pk}/", {"owner_team": "hr", "purpose": "Same team."})
    assert response.status_code == 200 and response.json()["owner_team"] == "hr"


@pytest.mark.parametrize("body, field, message", [
    ({"last_rotated_on": "FUTURE"}, "last_rotated_on", "This date is in the future."),
    ({"last_rotated_on": "2000-01-01"}, "last_rotated_on", "It cannot have been rotated before it was created."),
    ({"environment": "moon"}, "environment", '"moon" is not a valid choice.'),
    ({"rotation_interval_days": -5}, "rotation_interval_days", None),
    ({"technical_owner": "nobody"}, "technical_owner", "Choose an active member of HR."),
])
def test_a_refused_patch_is_a_400_naming_the_field(key, owner, body, field, message):
    if body.get("last_rotated_on") == "FUTURE":
        body = {"last_rotated_on": days(1).isoformat()}
    before = world()

    response = patch(owner, f"/api/v1/nhis/{key.pk}/", body)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    if message:
        assert response.json()[field] == [message]
    assert world() == before


def test_lifecycle_fields_move_only_through_their_actions(key, owner):
    """status, rotation_required and source are read-only: a PATCH cannot revoke or clear a flag."""
    before = world()
    response = patch(owner, f"/api/v1/nhis/{key.pk}/", {"status": "revoked", "rotation_required": True,
                                                          "source": "csv"})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["rotation_required"], response.json()["source"]) == (
        "active", False, "manual")
    after = world()
    for snapshot in (before, after):  # an empty update still saves, so only updated_at may move
        for row in snapshot["identities"]:
            row.pop("updated_at")
    assert after == before


def test_put_and_delete_are_not_offered(key, security):
    assert security.put(f"/api/v1/nhis/{key.pk}/", json.dumps({}), content_type="application/json"
                        ).status_code == 405
    assert security.delete(f"/api/v1/nhis/{key.pk}/").status_code == 405
    assert NonHumanIdentity.objects.filter(pk=key.pk).exists()
