"""The REST API for criteria and controls: shapes, validation, and refusing bad input cleanly."""

import json

import pytest

from controls.models import Control, Criterion
from soc2hub.models import ActivityLog
from tests.factories import ControlFactory


@pytest.fixture
def api(personas, client_for):
    """``api(persona)``: a client with JSON helpers."""

    class Api:
        def __init__(self, user):
            self.client = client_for(user)

        def get(self, url, **params):
            return self.client.get(url, params)

        def patch(self, url, data):
            return self.client.patch(url, json.dumps(data), content_type="application/json")

        def post(self, url, data):
            return self.client.post(url, json.dumps(data), content_type="application/json")

    return lambda persona="security": Api(personas[persona])


@pytest.fixture
def cc61(catalog, teams):
    Criterion.objects.filter(code="CC6.1").update(
        business_owner=teams["security"], control_owner=teams["security"], evidence_owner=None
    )
    return Criterion.objects.get(code="CC6.1")


def owners(code):
    return tuple(Criterion.objects.filter(code=code).values_list(
        "business_owner__slug", "control_owner__slug", "evidence_owner__slug").get())


# --- criteria --------------------------------------------------------------------------------


def test_criterion_by_code(cc61, api):
    response = api("leadership").get("/api/v1/criteria/CC6.1/")
    assert response.status_code == 200
    body = response.json()
    assert {"code", "category", "title", "business_owner", "control_owner", "evidence_owner"} <= set(body)
    assert body["code"] == "CC6.1"
    assert body["category"] == "security"
    assert body["title"] == cc61.title
    assert (body["business_owner"], body["control_owner"], body["evidence_owner"]) == ("security", "security", None)
    assert (body["is_unassigned"], body["is_security_only"]) == (True, True)


def test_unknown_criterion_is_404(catalog, api):
    assert api().get("/api/v1/criteria/CC6.9/").status_code == 404


def test_criteria_list_is_the_catalog_and_filters(cc61, api):
    body = api("owner").get("/api/v1/criteria/").json()
    assert body["count"] == 61
    body = api("owner").get("/api/v1/criteria/", flag="security_only").json()
    assert [c["code"] for c in body["results"]] == ["CC6.1"]
    body = api("owner").get("/api/v1/criteria/", category="privacy").json()
    assert body["count"] == 18


def test_security_patches_an_owner(cc61, api, teams):
    response = api().patch("/api/v1/criteria/CC6.1/", {"control_owner": "hr"})
    assert response.status_code == 200
    assert response.json()["control_owner"] == "hr"
    assert response.json()["is_security_only"] is False
    assert owners("CC6.1") == ("security", "hr", None)
    entry = ActivityLog.objects.get(verb="owners.changed")
    assert (entry.before, entry.after) == ({"control_owner": "security"}, {"control_owner": "hr"})


@pytest.mark.parametrize("value", ["no-such-team", 12345, ["hr"], {"slug": "hr"}])
def test_unknown_team_is_400_naming_the_field(cc61, api, value):
    log = ActivityLog.objects.count()
    response = api().patch("/api/v1/criteria/CC6.1/", {"business_owner": "hr", "control_owner": value})
    assert response.status_code == 400
    assert set(response.json()) == {"control_owner"}
    assert owners("CC6.1") == ("security", "security", None)  # the valid business_owner did not land either
    assert ActivityLog.objects.count() == log


def test_unknown_team_message_names_the_slug(cc61, api):
    response = api().patch("/api/v1/criteria/CC6.1/", {"evidence_owner": "nope"})
    assert response.status_code == 400
    assert "nope" in response.json()["evidence_owner"][0]


def test_catalog_fields_are_read_only(cc61, api):
    log = ActivityLog.objects.count()
    response = api().patch("/api/v1/criteria/CC6.1/", {"title": "Pwned", "code": "CC6.99", "category": "privacy"})
    assert response.status_code == 200
    criterion = Criterion.objects.get(pk=cc61.pk)
    assert (criterion.code, criterion.title, criterion.category) == ("CC6.1", cc61.title, "security")
    assert ActivityLog.objects.count() == log


def test_patch_null_unassigns(cc61, api):
    response = api().patch("/api/v1/criteria/CC6.1/", {"business_owner": None, "control_owner": None})
    assert response.status_code == 200
    assert owners("CC6.1") == (None, None, None)
    assert response.json()["is_unassigned"] is True
    assert response.json()["is_security_only"] is False


def test_criteria_cannot_be_created_or_deleted(cc61, api):
    assert api().post("/api/v1/criteria/", {"code": "CC6.9", "title": "x"}).status_code == 405
    assert api().client.delete("/api/v1/criteria/CC6.1/").status_code == 405
    assert Criterion.objects.count() == 61


# --- controls --------------------------------------------------------------------------------

GOOD_CONTROL = {
    "ref": "HR-03", "name": "Background checks", "description": "New hires are screened before day one.",
    "criteria": ["CC1.4", "CC6.2"], "business_owner": "hr", "control_owner": "hr", "evidence_owner": "hr",
    "frequency": "event_driven", "crosswalk": ["GV.RR-04"],
}


def test_security_creates_a_control(catalog, teams, api):
    response = api().post("/api/v1/controls/", GOOD_CONTROL)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["ref"] == "HR-03"
    assert sorted(body["criteria"]) == ["CC1.4", "CC6.2"]
    assert body["crosswalk"] == ["GV.RR-04"]
    assert (body["is_unassigned"], body["is_security_only"]) == (False, False)
    control = Control.objects.get(ref="HR-03")
    assert control.control_owner == teams["hr"]
    entry = ActivityLog.objects.get(verb="control.created")
    assert entry.after["criteria"] == ["CC1.4", "CC6.2"]


@pytest.mark.parametrize("data, field", [
    ({k: v for k, v in GOOD_CONTROL.items() if k != "criteria"}, "criteria"),
    ({**GOOD_CONTROL, "criteria": []}, "criteria"),
    ({**GOOD_CONTROL, "criteria": ["CC6.9"]}, "criteria"),
    ({**GOOD_CONTROL, "ref": "bad ref"}, "ref"),
    ({**GOOD_CONTROL, "ref": "hr-03"}, "ref"),
    ({k: v for k, v in GOOD_CONTROL.items() if k != "name"}, "name"),
    ({**GOOD_CONTROL, "control_owner": "no-such-team"}, "control_owner"),
    ({**GOOD_CONTROL, "status": "done"}, "status"),
    ({**GOOD_CONTROL, "crosswalk": ["NHI-03"]}, "crosswalk"),
])
def test_bad_control_is_400_naming_the_field(catalog, teams, api, data, field):
    log = ActivityLog.objects.count()
    response = api().post("/api/v1/controls/", data)
    assert response.status_code == 400
    assert field in response.json()
    assert not Control.objects.exists()
    assert ActivityLog.objects.count() == log


def test_duplicate_ref_is_400(catalog, teams, api):
    ControlFactory(ref="HR-03")
    response = api().post("/api/v1/controls/", GOOD_CONTROL)
    assert response.status_code == 400
    assert "ref" in response.json()
    assert Control.objects.count() == 1


def test_control_ref_cannot_change(catalog, teams, api):
    ControlFactory(ref="HR-03", criteria=[Criterion.objects.get(code="CC1.4")])
    response = api().patch("/api/v1/controls/HR-03/", {"ref": "HR-04"})
    assert response.status_code == 400
    assert "ref" in response.json()
    assert Control.objects.filter(ref="HR-03").exists()


def test_security_edits_a_control_and_the_change_is_logged(catalog, teams, api):
    ControlFactory(ref="HR-03", criteria=[Criterion.objects.get(code="CC1.4")], control_owner=teams["hr"])
    response = api().patch("/api/v1/controls/HR-03/", {"status": "needs_attention", "control_owner": "legal",
                                                      "criteria": ["CC1.4", "CC1.5"]})
    assert response.status_code == 200, response.json()
    control = Control.objects.get(ref="HR-03")
    assert (control.status, control.control_owner) == ("needs_attention", teams["legal"])
    entry = ActivityLog.objects.get(verb="control.changed")
    assert entry.before == {"status": "implemented", "control_owner": "hr", "criteria": ["CC1.4"]}
    assert entry.after == {"status": "needs_attention", "control_owner": "legal", "criteria": ["CC1.4", "CC1.5"]}


def test_controls_list_filters(catalog, teams, api):
    ControlFactory(ref="HR-01", control_owner=teams["hr"], criteria=[Criterion.objects.get(code="CC1.4")])
    ControlFactory(ref="ENG-01", control_owner=teams["engineering"], criteria=[Criterion.objects.get(code="CC8.1")])
    def refs(**params):
        return [c["ref"] for c in api("leadership").get("/api/v1/controls/", **params).json()["results"]]

    assert refs() == ["ENG-01", "HR-01"]
    assert refs(team="hr") == ["HR-01"]
    assert refs(criterion="CC8.1") == ["ENG-01"]
    assert refs(ordering="-ref") == ["HR-01", "ENG-01"]
    assert refs(flag="unassigned") == ["ENG-01", "HR-01"]


# --- schema ----------------------------------------------------------------------------------


def test_schema_is_openapi_with_the_criterion_path(db, api):
    response = api("auditor").get("/api/v1/schema/", format="json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/v1/criteria/{code}/" in paths
    assert {"get", "patch"} <= set(paths["/api/v1/criteria/{code}/"])
    assert {"/api/v1/controls/", "/api/v1/controls/{ref}/", "/api/v1/teams/", "/api/v1/activity/"} <= set(paths)
    assert not {"post", "put", "patch", "delete"} & set(paths["/api/v1/activity/"])


def test_docs_page(db, api):
    response = api("auditor").get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
