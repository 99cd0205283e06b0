"""Ids the caller may not see answer exactly like ids that do not exist, through the API and
the request form: the answer names nothing the caller may not see (an identity's name, whose
it is). HR's Harriet (``owner``) may not see Engineering's identities; Security sees them all."""

import json

import pytest

from exceptions.models import ExceptionRecord
from nhi.models import NonHumanIdentity
from tests.exceptions.factories import fields_for, make_exception

pytestmark = pytest.mark.django_db

@pytest.fixture
def engineering_key(teams):
    return NonHumanIdentity.objects.create(name="root account access key 1", kind="access_key", provider="AWS",
                                           external_id="AKIAROOT", owner_team=teams["engineering"])


def _api_body(teams, **overrides):
    fields = fields_for(teams["hr"])
    return {**fields, "requesting_team": "hr", "business_owner": "hr", "controls": [], "criteria": [],
            "expires_on": str(fields["expires_on"]), **overrides}


def test_another_teams_identity_answers_like_one_that_does_not_exist_through_the_api(
        people, teams, client_for, engineering_key):
    client = client_for(people["owner"])
    missing_pk = NonHumanIdentity.objects.order_by("-pk").first().pk + 100

    answers = [client.post("/api/v1/exceptions/", json.dumps(_api_body(teams, nhis=[pk])),
                           content_type="application/json") for pk in (engineering_key.pk, missing_pk)]

    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].content == answers[1].content
    assert answers[0].json() == {"nhis": ["No such identity."]}
    assert ExceptionRecord.objects.count() == 0

    exception = make_exception(people["owner"], teams["hr"])
    patches = [client.patch(f"/api/v1/exceptions/{exception.pk}/", json.dumps({"nhis": [pk]}),
                            content_type="application/json") for pk in (engineering_key.pk, missing_pk)]
    assert [p.status_code for p in patches] == [400, 400]
    assert patches[0].content == patches[1].content == answers[0].content
    assert "root account" not in answers[0].content.decode()


def test_another_teams_identity_answers_like_one_that_does_not_exist_on_the_form(
        people, teams, client_for, engineering_key):
    client = client_for(people["owner"])
    fields = fields_for(teams["hr"])
    form = {**fields, "requesting_team": teams["hr"].pk, "business_owner": teams["hr"].pk,
            "expires_on": str(fields["expires_on"])}
    missing_pk = engineering_key.pk + 100

    pages = [client.post("/exceptions/new/", {**form, "nhis": [pk]}) for pk in (engineering_key.pk, missing_pk)]

    assert [p.status_code for p in pages] == [400, 400]
    assert [dict(p.context["form"].errors) for p in pages] == [{"nhis": ["No such identity."]}] * 2
    assert all("root account" not in p.content.decode() for p in pages)
    assert ExceptionRecord.objects.count() == 0


def test_an_unknown_control_gets_the_same_short_answer(people, teams, controls, client_for):
    client = client_for(people["owner"])
    api = client.post("/api/v1/exceptions/", json.dumps(_api_body(teams, controls=["HR-01", "NOPE-99"])),
                      content_type="application/json")
    assert (api.status_code, api.json()) == (400, {"controls": ["No such control."]})
    fields = fields_for(teams["hr"])
    page = client.post("/exceptions/new/", {**fields, "requesting_team": teams["hr"].pk,
                                            "business_owner": teams["hr"].pk, "expires_on": str(fields["expires_on"]),
                                            "controls": [controls["hr"].pk + 1000]})
    assert dict(page.context["form"].errors) == {"controls": ["No such control."]}


def test_an_identity_the_caller_sees_is_still_named(people, teams, client_for, engineering_key):
    """Security sees every identity, and may cover any team's: nothing to hide, nothing refused."""
    body = _api_body(teams, nhis=[engineering_key.pk])
    response = client_for(people["security"]).post("/api/v1/exceptions/", json.dumps(body),
                                                   content_type="application/json")
    assert response.status_code == 201
    assert response.json()["nhis"] == [engineering_key.pk]
