"""Who may see and do what with a non-human identity, page by page and endpoint by endpoint.

Personas (tests/conftest.py): anonymous; other_team (Legal); owner (HR, the owning team of
``hr-payroll-key``); security; leadership (reads everything, acts on nothing of HR's); auditor
(refused outright: an external auditor sees the inventory summary of their audit, tests/audits/).

An identity the persona may not see answers 404; one they see but may not act on answers 403;
and a refused write changes nothing: no identity field, no rotation record, no activity-log
entry, no notification, no campaign decision.

Leadership is also a member of the Leadership team, so like any team member it may register
identities for its own team (as with exceptions); the auditor belongs to no team and may not.
"""

import datetime as dt
import json

import pytest
from django.utils import timezone

from nhi import campaigns
from nhi.models import (
    AttestationCampaign,
    AttestationItem,
    NhiStatus,
    NonHumanIdentity,
    RotationRecord,
)
from soc2hub.models import ActivityLog, Notification
from tests.factories import member_of
from tests.nhi.factories import days, make_nhi

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "other_team", "owner", "security", "leadership", "auditor"]
SIGNED_IN = set(PERSONAS) - {"anonymous"}
READERS = {"owner", "security", "leadership"}  # who sees HR's identity
ACTORS = {"owner", "security"}  # who edits, rotates, revokes and transfers it
TEAM_MEMBERS = {"owner", "other_team", "security", "leadership"}  # may register for their own team
SECURITY = {"security"}


@pytest.fixture
def estate(teams, personas):
    """HR's key (the identity under test), Legal's app, an identity with no owner team, an
    Engineering member to transfer to, and an open campaign over all three identities."""
    hr_key = make_nhi(teams["hr"], "hr-payroll-key", external_id="arn:aws:iam::1:user/payroll#access_key_1",
                      created_on=days(-400), last_rotated_on=days(-100), technical_owner=personas["owner"],
                      purpose="Exports payroll to the bank.")
    legal_app = make_nhi(teams["legal"], "legal-esign-app", kind="oauth_app")
    unowned = make_nhi(None, "mystery-key")
    eng = member_of(teams["engineering"], username="erin_eng")
    campaign = campaigns.campaign_open(actor=personas["security"], name="Q4 review", due_on=days(14))
    Notification.objects.all().delete()  # the campaign's own notices: not what these tests count
    return {"hr_key": hr_key, "legal_app": legal_app, "unowned": unowned, "eng": eng, "campaign": campaign,
            "hr_item": campaign.items.get(nhi=hr_key)}


def world() -> dict:
    """Everything a refused write must leave exactly as it was."""
    return {
        "identities": list(NonHumanIdentity.objects.order_by("pk").values()),
        "controls": list(NonHumanIdentity.controls.through.objects.order_by("pk").values_list("pk", flat=True)),
        "rotations": RotationRecord.objects.count(),
        "log": ActivityLog.objects.count(),
        "notifications": Notification.objects.count(),
        "campaigns": list(AttestationCampaign.objects.order_by("pk").values("pk", "status", "result_sha256")),
        "items": list(AttestationItem.objects.order_by("pk").values("pk", "decision", "decided_by", "comment")),
    }


def outcome(response):
    """A response as the matrix states it: the status code, or "login" for the sign-in redirect."""
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="):
        return "login"
    return response.status_code


def expected(persona, allowed, *, on_object=False, ok=200, refused=403):
    """Sign-in first, then whether the persona sees HR's identity, then the right to act."""
    if persona == "anonymous":
        return "login"
    if persona == "auditor":
        return 403  # the portal guard: external auditors reach the programme only through their audits
    if on_object and persona not in READERS:
        return 404
    return ok if persona in allowed else refused


# --- pages: reading --------------------------------------------------------------------------------

PAGES = [
    # url, who gets 200, whether it is about HR's identity (others get 404)
    ("/nhi/", SIGNED_IN, False),
    ("/nhi/summary/", SIGNED_IN, False),
    ("/nhi/export.csv", SIGNED_IN, False),
    ("/nhi/new/", TEAM_MEMBERS, False),
    ("/nhi/{pk}/", READERS, True),
    ("/nhi/{pk}/edit/", ACTORS, True),
    ("/nhi/imports/", SECURITY, False),
    ("/nhi/imports/new/", SECURITY, False),
    ("/nhi/campaigns/", SIGNED_IN, False),
    ("/nhi/campaigns/new/", SECURITY, False),
    ("/nhi/campaigns/{campaign}/", SIGNED_IN, False),
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_access(estate, personas, client_for, persona):
    client = client_for(personas[persona])
    before = world()

    got = {url: outcome(client.get(url.format(pk=estate["hr_key"].pk, campaign=estate["campaign"].pk)))
           for url, _, _ in PAGES}

    assert got == {url: expected(persona, allowed, on_object=on_object) for url, allowed, on_object in PAGES}
    assert world() == before


@pytest.mark.parametrize("persona", sorted(READERS))
def test_the_detail_page_offers_actions_only_to_the_owner_team_and_security(estate, personas, client_for,
                                                                            persona):
    nhi = estate["hr_key"]
    page = client_for(personas[persona]).get(f"/nhi/{nhi.pk}/").content.decode()

    acts = persona in ACTORS
    for action in ("edit", "rotate", "revoke", "transfer"):
        assert (f'/nhi/{nhi.pk}/{action}/' in page) == acts, action


LISTED = {
    "owner": {"hr-payroll-key"},
    "other_team": {"legal-esign-app"},
    "security": {"hr-payroll-key", "legal-esign-app", "mystery-key"},
    "leadership": {"hr-payroll-key", "legal-esign-app", "mystery-key"},
}


@pytest.mark.parametrize("persona", sorted(SIGNED_IN - {"auditor"}))
def test_every_list_shows_only_what_the_persona_may_see(estate, personas, client_for, persona):
    client = client_for(personas[persona])

    page = {n.name for n in client.get("/nhi/").context["page"]}
    api = {n["name"] for n in client.get("/api/v1/nhis/").json()["results"]}
    export = b"".join(client.get("/nhi/export.csv").streaming_content).decode("utf-8-sig")
    summary = client.get("/nhi/summary/").context["summary"]

    assert page == api == LISTED[persona]
    for name in ("hr-payroll-key", "legal-esign-app", "mystery-key"):
        assert (name in export) == (name in LISTED[persona]), name
    assert summary["overall"]["total"] == len(LISTED[persona])


ATTESTABLE = {
    "owner": {"hr-payroll-key"},
    "other_team": {"legal-esign-app"},
    "security": {"hr-payroll-key", "legal-esign-app", "mystery-key"},
    "leadership": set(),
}


@pytest.mark.parametrize("persona", sorted(SIGNED_IN - {"auditor"}))
def test_a_campaign_shows_each_persona_only_the_items_they_confirm(estate, personas, client_for, persona):
    client = client_for(personas[persona])
    campaign = estate["campaign"]

    page = {item.nhi.name for item in client.get(f"/nhi/campaigns/{campaign.pk}/").context["page"]}
    api = {item["nhi_name"] for item in
           client.get(f"/api/v1/attestation-campaigns/{campaign.pk}/items/").json()["results"]}

    assert page == api == ATTESTABLE[persona]


# --- pages: writing ----------------------------------------------------------------------------------

def _edit_form(estate):
    nhi = estate["hr_key"]
    return {"name": nhi.name, "kind": nhi.kind, "provider": nhi.provider, "environment": nhi.environment,
            "external_id": nhi.external_id, "technical_owner": nhi.technical_owner_id,
            "purpose": "Changed through the page.", "created_on": nhi.created_on.isoformat(),
            "last_used_on": nhi.last_used_on.isoformat(), "last_rotated_on": nhi.last_rotated_on.isoformat(),
            "rotation_interval_days": nhi.rotation_interval_days}


def _register_form(estate, teams):
    return {"name": "hr-new-key", "kind": "access_key", "provider": "AWS", "environment": "production",
            "external_id": "hr-new-1", "owner_team": teams["hr"].pk}


PAGE_WRITES = {
    # name: (url, form, who may, status when refused to someone who sees the identity)
    "edit": ("/nhi/{pk}/edit/", lambda e, t: _edit_form(e), ACTORS, True),
    "rotate": ("/nhi/{pk}/rotate/",
               lambda e, t: {"rotated_on": timezone.localdate().isoformat(),
                             "evidence_link": "https://tickets.example.com/SEC-1"}, ACTORS, True),
    "revoke": ("/nhi/{pk}/revoke/", lambda e, t: {"reason": "No longer used."}, ACTORS, True),
    "transfer": ("/nhi/{pk}/transfer/", lambda e, t: {"team": t["engineering"].pk, "technical_owner": e["eng"].pk},
                 ACTORS, True),
    "attest": ("/nhi/campaigns/{campaign}/attest/",
               lambda e, t: {"item": e["hr_item"].pk, "decision": "keep", "scopes_confirmed": "on"}, ACTORS, False),
    "close": ("/nhi/campaigns/{campaign}/close/", lambda e, t: {}, SECURITY, False),
    "open_campaign": ("/nhi/campaigns/new/", lambda e, t: {"name": "Another review",
                                                           "due_on": days(30).isoformat()}, SECURITY, False),
}


def _want_page_write(persona, name, allowed, on_object):
    if persona == "anonymous":
        return "login"
    if name == "attest" and persona != "auditor":
        # Only the items a persona may confirm exist for them: the rest answer 404.
        return 302 if persona in allowed else 404
    return expected(persona, allowed, on_object=on_object, ok=302)


@pytest.mark.parametrize("name", PAGE_WRITES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_page_writes(estate, teams, personas, client_for, persona, name):
    url, form, allowed, on_object = PAGE_WRITES[name]
    client = client_for(personas[persona])
    before = world()

    response = client.post(url.format(pk=estate["hr_key"].pk, campaign=estate["campaign"].pk), form(estate, teams))

    want = _want_page_write(persona, name, allowed, on_object)
    assert outcome(response) == want, response.content[:2000]
    assert (world() != before) == (want == 302)


def test_what_each_allowed_page_write_did(estate, teams, personas, client_for):
    """The matrix above only says something changed; here is what, done by the owner team."""
    client = client_for(personas["owner"])
    nhi, item = estate["hr_key"], estate["hr_item"]

    client.post(f"/nhi/{nhi.pk}/rotate/", PAGE_WRITES["rotate"][1](estate, teams))
    nhi.refresh_from_db()
    assert nhi.last_rotated_on == timezone.localdate() and RotationRecord.objects.filter(nhi=nhi).count() == 1

    client.post(f"/nhi/campaigns/{estate['campaign'].pk}/attest/", PAGE_WRITES["attest"][1](estate, teams))
    item.refresh_from_db()
    assert (item.decision, item.decided_by) == ("keep", personas["owner"])

    client.post(f"/nhi/{nhi.pk}/transfer/", PAGE_WRITES["transfer"][1](estate, teams))
    nhi.refresh_from_db()
    assert (nhi.owner_team, nhi.technical_owner, nhi.rotation_required) == (teams["engineering"], estate["eng"], True)
    # HR no longer owns it: every further action is as another team's.
    assert client.post(f"/nhi/{nhi.pk}/revoke/", {"reason": "x"}).status_code == 404
    assert NonHumanIdentity.objects.get(pk=nhi.pk).status == NhiStatus.ACTIVE


@pytest.mark.parametrize("persona", PERSONAS)
def test_registering_for_a_team_is_for_its_members_and_security(estate, teams, personas, client_for, persona):
    client = client_for(personas[persona])
    before = world()

    response = client.post("/nhi/new/", _register_form(estate, teams))

    # A member of another team is offered only their own teams: HR is not a valid choice (400).
    want = {"anonymous": "login", "auditor": 403, "owner": 302, "security": 302}.get(persona, 400)
    assert outcome(response) == want
    assert (world() != before) == (want == 302)
    assert NonHumanIdentity.objects.filter(external_id="hr-new-1").exists() == (want == 302)
    if want == 400:
        assert response.context["form"].errors["owner_team"]


@pytest.mark.parametrize("url", ["/nhi/{pk}/rotate/", "/nhi/{pk}/revoke/", "/nhi/{pk}/transfer/",
                                 "/nhi/campaigns/{campaign}/attest/", "/nhi/campaigns/{campaign}/close/"])
def test_actions_answer_only_to_post(estate, personas, client_for, url):
    response = client_for(personas["security"]).get(url.format(pk=estate["hr_key"].pk,
                                                               campaign=estate["campaign"].pk))
    assert response.status_code == 405


# --- the API ---------------------------------------------------------------------------------------

def api(client, method, url, body=None):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json")


def expected_api(persona, allowed, *, on_object=False, ok=200, refused=403):
    want = expected(persona, allowed, on_object=on_object, ok=ok, refused=refused)
    return 403 if want == "login" else want  # session authentication sends no challenge: 403


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_reads(estate, personas, client_for, persona):
    client = client_for(personas[persona])
    nhi, campaign = estate["hr_key"], estate["campaign"]
    before = world()

    got = {
        "list": client.get("/api/v1/nhis/").status_code,
        "retrieve": client.get(f"/api/v1/nhis/{nhi.pk}/").status_code,
        "campaigns": client.get("/api/v1/attestation-campaigns/").status_code,
        "campaign": client.get(f"/api/v1/attestation-campaigns/{campaign.pk}/").status_code,
        "items": client.get(f"/api/v1/attestation-campaigns/{campaign.pk}/items/").status_code,
    }

    assert got == {
        "list": expected_api(persona, SIGNED_IN),
        "retrieve": expected_api(persona, READERS, on_object=True),
        "campaigns": expected_api(persona, SIGNED_IN),
        "campaign": expected_api(persona, SIGNED_IN),
        "items": expected_api(persona, SIGNED_IN),
    }
    assert world() == before


API_WRITES = {
    # name: (method, url, body, who may, about HR's identity)
    "patch": ("patch", "/api/v1/nhis/{pk}/", lambda e: {"purpose": "Changed through the API."}, ACTORS, True),
    "rotate": ("post", "/api/v1/nhis/{pk}/rotate/",
               lambda e: {"evidence_link": "https://tickets.example.com/SEC-2"}, ACTORS, True),
    "revoke": ("post", "/api/v1/nhis/{pk}/revoke/", lambda e: {"reason": "No longer used."}, ACTORS, True),
    "transfer": ("post", "/api/v1/nhis/{pk}/transfer/", lambda e: {"team": "engineering"}, ACTORS, True),
    "attest": ("post", "/api/v1/attestation-campaigns/{campaign}/attest/",
               lambda e: {"item": e["hr_item"].pk, "decision": "keep", "scopes_confirmed": True}, ACTORS, False),
    "close": ("post", "/api/v1/attestation-campaigns/{campaign}/close/", lambda e: {}, SECURITY, False),
    "open_campaign": ("post", "/api/v1/attestation-campaigns/",
                      lambda e: {"name": "Another review", "due_on": days(30).isoformat()}, SECURITY, False),
}


def _want_api_write(persona, name, allowed, on_object):
    ok = 201 if name == "open_campaign" else 200
    if name == "attest" and persona not in ("anonymous", "auditor"):
        return ok if persona in allowed else 404  # only the items they may confirm exist for them
    return expected_api(persona, allowed, on_object=on_object, ok=ok)




@pytest.mark.parametrize("persona, name", [
    pytest.param(persona, name)
    for persona in PERSONAS for name in API_WRITES
])
def test_api_writes(estate, personas, client_for, persona, name):
    method, url, body, allowed, on_object = API_WRITES[name]
    client = client_for(personas[persona])
    before = world()

    response = api(client, method, url.format(pk=estate["hr_key"].pk, campaign=estate["campaign"].pk), body(estate))

    want = _want_api_write(persona, name, allowed, on_object)
    assert response.status_code == want, response.content[:2000]
    assert (world() != before) == (want in (200, 201))


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_create(estate, personas, client_for, persona):
    before = world()
    response = api(client_for(personas[persona]), "post", "/api/v1/nhis/",
                   {"name": "hr-new-key", "kind": "access_key", "provider": "AWS", "external_id": "hr-new-1",
                    "owner_team": "hr"})

    # Another team's member registering for HR is bad input naming the field (400); someone in
    # no team at all may not register anything (403).
    want = {"anonymous": 403, "auditor": 403, "owner": 201, "security": 201}.get(persona, 400)
    assert response.status_code == want
    assert (world() != before) == (want == 201)
    if want == 400:
        assert "owner_team" in response.json()


@pytest.mark.parametrize("persona, action", [("leadership", "rotate"), ("leadership", "revoke"),
                                             ("leadership", "patch")])
def test_an_api_refusal_says_why(estate, personas, client_for, persona, action):
    method, url, body, _, _ = API_WRITES[action]
    response = api(client_for(personas[persona]), method, url.format(pk=estate["hr_key"].pk), body(estate))
    assert response.status_code == 403
    assert response.json() == {"detail": "Only the owning team or Security can do this."}


def test_a_refused_page_write_says_why(estate, personas, client_for):
    response = client_for(personas["leadership"]).post(f"/nhi/{estate['hr_key'].pk}/rotate/",
                                                    {"evidence_link": "https://x.example.com"})
    assert response.status_code == 403
    assert "Only the owning team or Security can do this." in response.content.decode()


def test_due_on_in_the_past_is_the_only_thing_wrong_with_a_campaign_security_opens(estate, personas, client_for):
    """Security's refusal is about the input, not the right: a 400 naming the field."""
    response = api(client_for(personas["security"]), "post", "/api/v1/attestation-campaigns/",
                   {"name": "Late", "due_on": (timezone.localdate() - dt.timedelta(days=1)).isoformat()})
    assert response.status_code == 400
    assert "due_on" in response.json()
