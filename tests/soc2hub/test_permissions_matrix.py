"""Who may open every page and endpoint, and who may write: one row per persona.

Personas (tests/conftest.py): anonymous; other_team (Legal); owner (HR, the team owning HR-01);
security; leadership; auditor. A refused write must change nothing and log nothing.
"""

import json

import pytest
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm

from controls.models import Control, Criterion
from soc2hub.models import ActivityLog
from tests.factories import ControlFactory, UserFactory

PERSONAS = ["anonymous", "other_team", "owner", "security", "leadership", "auditor"]
SIGNED_IN = PERSONAS[1:]


@pytest.fixture
def world(catalog, teams):
    hr, eng, security = teams["hr"], teams["engineering"], teams["security"]
    Criterion.objects.filter(code="CC6.1").update(business_owner=security, control_owner=security,
                                                  evidence_owner=security)
    hr_control = ControlFactory(ref="HR-01", name="Leaver access removal", business_owner=hr, control_owner=hr,
                                evidence_owner=hr, criteria=list(Criterion.objects.filter(code__in=["CC6.2"])))
    eng_control = ControlFactory(ref="ENG-01", name="Change review", business_owner=eng, control_owner=eng,
                                 evidence_owner=eng, criteria=list(Criterion.objects.filter(code="CC8.1")))
    return {"hr_control": hr_control, "eng_control": eng_control}


def snapshot() -> dict:
    """Every row a write in this file could touch."""
    return {
        "criteria": list(Criterion.objects.order_by("code").values_list(
            "code", "title", "business_owner", "control_owner", "evidence_owner")),
        "controls": list(Control.objects.order_by("ref").values_list(
            "ref", "name", "description", "status", "business_owner", "control_owner", "evidence_owner",
            "updated_at")),
        "control_criteria": sorted(Control.criteria.through.objects.values_list("control_id", "criterion_id")),
        "log": list(ActivityLog.objects.values_list("pk", "verb", "before", "after")),
    }


# --- reads -----------------------------------------------------------------------------------
# One test per persona over every URL, compared as {url: status}: a failure shows every URL
# whose answer differs, and the fixture is built once per persona rather than once per URL.

EVERYONE = set(SIGNED_IN)
# External auditors read the programme only through their audits (tests/audits/).
STAFF = EVERYONE - {"auditor"}
SECURITY = {"security"}
PAGES = {
    "/": STAFF,
    "/matrix/": STAFF,
    "/criteria/CC6.1/": STAFF,
    "/controls/": STAFF,
    "/controls/HR-01/": STAFF,
    "/controls/new/": SECURITY,
    "/controls/HR-01/edit/": SECURITY,
    "/controls/ENG-01/edit/": SECURITY,
    "/teams/": STAFF,
    "/teams/hr/": STAFF,
    "/activity/": {"security", "leadership"},
    "/jobs/": SECURITY,
}
API = {
    "/api/v1/teams/": STAFF,
    "/api/v1/teams/hr/": STAFF,
    "/api/v1/criteria/": STAFF,
    "/api/v1/criteria/CC6.1/": STAFF,
    "/api/v1/controls/": STAFF,
    "/api/v1/controls/HR-01/": STAFF,
    "/api/v1/activity/": {"security", "leadership"},
    "/api/v1/job-runs/": SECURITY,
    "/api/v1/": EVERYONE,
    "/api/v1/schema/": EVERYONE,
    "/api/v1/docs/": EVERYONE,
}


def _answer(response) -> int | str:
    """The status, with a redirect to sign-in shown as ``"login"`` (and any other redirect as
    its target, so it cannot pass for one)."""
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/accounts/login/?next="):
            return "login"
        if location.startswith("/admin/login/"):
            return "admin login"
        return f"302 to {location}"
    return response.status_code


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_access(world, personas, client_for, persona):
    client = client_for(personas[persona])
    expected = {
        url: "login" if persona == "anonymous" else (200 if persona in allowed else 403)
        for url, allowed in PAGES.items()
    }
    if persona == "auditor":
        expected["/"] = "302 to /audits/"  # an auditor's home is their audits
    assert {url: _answer(client.get(url)) for url in PAGES} == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_access(world, personas, client_for, persona):
    client = client_for(personas[persona])
    expected = {url: 200 if persona in allowed else 403 for url, allowed in API.items()}
    assert {url: _answer(client.get(url)) for url in API} == expected


def test_admin_opens_to_superusers_and_security_only(world, personas, client_for):
    # Security administers the programme there (soc2hub.admin_rights); everyone else is sent to
    # the admin's sign-in, except the external auditor, whom the portal guard refuses (and logs).
    answers = {persona: _answer(client_for(personas[persona]).get("/admin/")) for persona in PERSONAS}
    assert answers == {**dict.fromkeys(PERSONAS, "admin login"), "security": 200, "auditor": 403}


def test_the_admin_signs_people_in_on_soc2hubs_page(db, client):
    """The admin's own password form would skip the second factor and the lockout page."""
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/admin/"
    assert client.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 302


def test_admin_open_to_staff_security(world, client_for):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    assert client_for(admin).get("/admin/").status_code == 200


@pytest.mark.parametrize("persona", ["other_team", "owner", "auditor"])
def test_activity_api_never_leaks_rows(world, personas, client_for, persona):
    # Whatever the status code, nobody outside Security and Leadership reads an entry.
    assert ActivityLog.objects.exists()
    response = client_for(personas[persona]).get("/api/v1/activity/")
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert response.json()["count"] == 0


def test_activity_api_lists_entries_for_security(world, personas, client_for):
    body = client_for(personas["security"]).get("/api/v1/activity/").json()
    assert body["count"] == ActivityLog.objects.count() > 0


# --- writes ----------------------------------------------------------------------------------


def _post_owner_page(client, world, teams):
    return client.post("/criteria/CC6.1/owners/", {"role": "control_owner", "team": teams["hr"].pk})


def _patch_criterion_api(client, world, teams):
    return client.patch("/api/v1/criteria/CC6.1/", json.dumps({"control_owner": "hr"}),
                        content_type="application/json")


def _create_control_api(client, world, teams):
    return client.post("/api/v1/controls/", json.dumps({
        "ref": "NEW-01", "name": "A new control", "description": "Made in a test.", "criteria": ["CC6.1"],
        "control_owner": "hr",
    }), content_type="application/json")


def _patch_control_api(client, world, teams):
    return client.patch("/api/v1/controls/HR-01/", json.dumps({"description": "Rewritten."}),
                        content_type="application/json")


def _control_form(**overrides):
    data = {
        "ref": "NEW-02", "name": "A new control", "description": "Made in a test.",
        "criteria": [Criterion.objects.get(code="CC6.1").pk], "frequency": "quarterly", "automation": "manual",
        "status": "implemented", "evidence_standard": "",
    }
    data.update(overrides)
    return data


def _create_control_page(client, world, teams):
    return client.post("/controls/new/", _control_form())


def _edit_control_page(client, world, teams):
    control = world["hr_control"]
    return client.post("/controls/HR-01/edit/", _control_form(
        ref="HR-01", name=control.name, description="Rewritten.",
        criteria=[Criterion.objects.get(code="CC6.2").pk],
        business_owner=teams["hr"].pk, control_owner=teams["hr"].pk, evidence_owner=teams["hr"].pk,
    ))


# name -> (request, status for security, check after a successful write)
WRITES = {
    "page: criterion owner": (
        _post_owner_page, 302,
        lambda teams: Criterion.objects.get(code="CC6.1").control_owner == teams["hr"],
    ),
    "api: criterion owner": (
        _patch_criterion_api, 200,
        lambda teams: Criterion.objects.get(code="CC6.1").control_owner == teams["hr"],
    ),
    "api: create control": (
        _create_control_api, 201,
        lambda teams: Control.objects.filter(ref="NEW-01", control_owner=teams["hr"]).exists(),
    ),
    "api: edit control": (
        _patch_control_api, 200, lambda teams: Control.objects.get(ref="HR-01").description == "Rewritten.",
    ),
    "page: create control": (_create_control_page, 302, lambda teams: Control.objects.filter(ref="NEW-02").exists()),
    "page: edit control": (
        _edit_control_page, 302, lambda teams: Control.objects.get(ref="HR-01").description == "Rewritten.",
    ),
}


def _write_cases():
    for name in WRITES:
        for persona in PERSONAS:
            yield pytest.param(name, persona, id=f"{name}-{persona}")


@pytest.mark.parametrize("name, persona", list(_write_cases()))
def test_write(world, teams, personas, client_for, name, persona):
    send, ok_status, landed = WRITES[name]
    before = snapshot()
    log_count = ActivityLog.objects.count()

    response = send(client_for(personas[persona]), world, teams)

    if persona == "security":
        assert response.status_code == ok_status, response.content[:500]
        assert landed(teams)
        assert ActivityLog.objects.count() == log_count + 1
        return
    if persona == "anonymous":
        if name.startswith("page"):
            assert response.status_code == 302
            assert response["Location"].startswith("/accounts/login/")
        else:
            assert response.status_code == 403
    else:
        assert response.status_code == 403
    assert not landed(teams)
    assert snapshot() == before


@pytest.mark.parametrize("persona", SIGNED_IN)
def test_forged_owner_change_in_control_edit_is_refused(world, teams, personas, client_for, persona):
    """Even someone allowed to edit a control may not move its owners through the API."""
    user = personas[persona]
    assign_perm("controls.change_control", user, world["hr_control"])
    before = snapshot()
    response = client_for(user).patch("/api/v1/controls/HR-01/", json.dumps({"control_owner": "legal"}),
                                      content_type="application/json")
    if persona == "security":
        assert response.status_code == 200
        assert Control.objects.get(ref="HR-01").control_owner == teams["legal"]
    else:
        assert response.status_code == 403
        assert snapshot() == before


# --- a per-object grant ----------------------------------------------------------------------


@pytest.fixture
def delegated(world, personas):
    """HR's person is granted ``change_control`` on HR-01 only."""
    owner = personas["owner"]
    assign_perm("controls.change_control", owner, world["hr_control"])
    assert not Permission.objects.filter(user=owner).exists()  # an object grant, not a global one
    return owner


def test_grant_lets_owner_edit_description_via_page(world, teams, delegated, client_for):
    client = client_for(delegated)
    assert client.get("/controls/HR-01/edit/").status_code == 200
    assert client.get("/controls/HR-01/").context["can_edit"] is True
    response = client.post("/controls/HR-01/edit/", _control_form(
        ref="HR-01", name="Leaver access removal", description="Maintained by HR now.",
        criteria=[Criterion.objects.get(code="CC6.2").pk],
        # Forged: the owner fields are disabled for this person and must be ignored.
        business_owner=teams["legal"].pk, control_owner=teams["legal"].pk, evidence_owner=teams["legal"].pk,
    ))
    assert response.status_code == 302
    control = Control.objects.get(ref="HR-01")
    assert control.description == "Maintained by HR now."
    assert (control.business_owner, control.control_owner, control.evidence_owner) == (teams["hr"],) * 3
    entry = ActivityLog.objects.filter(verb="control.changed").get()
    assert entry.actor == delegated
    assert set(entry.after) == {"description"}


def test_grant_lets_owner_edit_description_via_api(world, teams, delegated, client_for):
    response = client_for(delegated).patch("/api/v1/controls/HR-01/", json.dumps({"description": "Via API."}),
                                           content_type="application/json")
    assert response.status_code == 200
    assert response.json()["description"] == "Via API."
    assert Control.objects.get(ref="HR-01").description == "Via API."


@pytest.mark.parametrize("field", ["business_owner", "control_owner", "evidence_owner"])
def test_grant_does_not_allow_owner_changes(world, teams, delegated, client_for, field):
    before = snapshot()
    response = client_for(delegated).patch(
        "/api/v1/controls/HR-01/", json.dumps({field: "legal", "description": "Sneaky."}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert snapshot() == before


def test_grant_does_not_reach_another_control(world, delegated, client_for):
    client = client_for(delegated)
    before = snapshot()
    assert client.get("/controls/ENG-01/edit/").status_code == 403
    assert client.post("/controls/ENG-01/edit/", _control_form(ref="ENG-01", description="No.")).status_code == 403
    response = client.patch("/api/v1/controls/ENG-01/", json.dumps({"description": "No."}),
                            content_type="application/json")
    assert response.status_code == 403
    assert client.get("/controls/ENG-01/").context["can_edit"] is False
    assert snapshot() == before


def test_grant_does_not_allow_creating_or_criterion_owners(world, teams, delegated, client_for):
    client = client_for(delegated)
    before = snapshot()
    assert _create_control_api(client, world, teams).status_code == 403
    assert client.get("/controls/new/").status_code == 403
    assert _patch_criterion_api(client, world, teams).status_code == 403
    assert snapshot() == before


# --- the activity log has no write methods ---------------------------------------------------


ACTIVITY_WRITES = [
    ("post", "/api/v1/activity/"),
    ("put", "/api/v1/activity/{pk}/"),
    ("patch", "/api/v1/activity/{pk}/"),
    ("delete", "/api/v1/activity/{pk}/"),
    ("delete", "/api/v1/activity/"),
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_activity_api_is_read_only(world, personas, client_for, persona):
    entry = ActivityLog.objects.first()
    before = snapshot()
    client = client_for(personas[persona])
    answers = {
        f"{method} {path}": getattr(client, method)(
            path.format(pk=entry.pk), json.dumps({"verb": "forged", "message": "x"}), content_type="application/json"
        ).status_code
        for method, path in ACTIVITY_WRITES
    }
    # 405 for those who may read the log, 403 (or 405) for everyone else: never a write.
    allowed = {"security": {405}, "leadership": {405}, "anonymous": {403}}.get(persona, {403, 405})
    assert set(answers.values()) <= allowed, answers
    assert snapshot() == before
