"""Bad input gets a clear error and changes nothing, whichever door it comes through: the
service, the request form, or the API."""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from controls.models import Control
from exceptions import services
from exceptions.models import ExceptionRecord, ExceptionSignature, ExceptionStatus, ExceptionVersion
from soc2hub.models import ActivityLog, Notification
from tests.exceptions.factories import advance, clock, fields_for, fresh, make_exception, state
from tests.factories import PASSWORD, second_factor

S = ExceptionStatus
pytestmark = pytest.mark.django_db


def counts() -> dict:
    return {
        "exceptions": ExceptionRecord.objects.count(),
        "controls": ExceptionRecord.controls.through.objects.count(),
        "criteria": ExceptionRecord.criteria.through.objects.count(),
        "versions": ExceptionVersion.objects.count(),
        "signatures": ExceptionSignature.objects.count(),
        "log": ActivityLog.objects.count(),
        "notifications": Notification.objects.count(),
    }


def days_ahead(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


# --- the three doors --------------------------------------------------------------------------

def via_service(user, teams, controls=("HR-01",), **overrides):
    """Returns the field errors, or {} when the exception was created."""
    fields = fields_for(overrides.pop("requesting_team", teams["hr"]), **overrides)
    try:
        services.exception_create(actor=user, controls=Control.objects.filter(ref__in=controls), **fields)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def via_api(user, teams, controls=("HR-01",), client=None, **overrides):
    fields = fields_for(overrides.pop("requesting_team", teams["hr"]), **overrides)
    body = {**fields, "requesting_team": fields["requesting_team"].slug,
            "business_owner": fields["business_owner"].slug, "controls": list(controls), "criteria": [],
            "expires_on": str(fields["expires_on"])}
    response = client.post("/api/v1/exceptions/", json.dumps(body), content_type="application/json")
    if response.status_code == 201:
        return {}
    assert response.status_code == 400, response.content
    return response.json()


def via_page(user, teams, controls=("HR-01",), client=None, **overrides):
    fields = fields_for(overrides.pop("requesting_team", teams["hr"]), **overrides)
    data = {**fields, "requesting_team": fields["requesting_team"].pk, "business_owner": fields["business_owner"].pk,
            "controls": list(Control.objects.filter(ref__in=controls).values_list("pk", flat=True)),
            "criteria": [], "expires_on": str(fields["expires_on"])}
    response = client.post("/exceptions/new/", data)
    if response.status_code == 302:
        return {}
    assert response.status_code == 400
    assert "nothing was saved" in response.content.decode()
    return {name: list(errors) for name, errors in response.context["form"].errors.items()}


DOORS = [via_service, via_api, via_page]


@pytest.fixture
def request_as(people, teams, controls, client_for):
    """``request_as(door, persona, **fields)``: the field errors of one request (empty when created)."""
    def attempt(door, persona, **overrides):
        user = people[persona]
        return door(user, teams, client=client_for(user), **overrides) if door is not via_service \
            else door(user, teams, **overrides)
    return attempt


def messages_in(errors) -> str:
    return " ".join(str(m) for messages in errors.values() for m in (messages if isinstance(messages, list)
                                                                     else [messages]))


# --- expiry ------------------------------------------------------------------------------------

@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("offset, message", [
    (-30, "The expiry date must be in the future."),
    (-1, "The expiry date must be in the future."),
    (0, "The expiry date must be in the future."),
    (366, "An exception may run at most 365 days"),
    (5000, "An exception may run at most 365 days"),
])
def test_an_expiry_in_the_past_today_or_beyond_the_maximum_is_refused(request_as, door, offset, message):
    before = counts()
    errors = request_as(door, "owner", expires_on=days_ahead(offset))
    assert list(errors) == ["expires_on"]
    assert message in messages_in(errors)
    assert counts() == before


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("offset", [1, 365])
def test_an_expiry_from_tomorrow_up_to_the_maximum_is_accepted(request_as, door, offset):
    assert request_as(door, "owner", expires_on=days_ahead(offset)) == {}
    assert ExceptionRecord.objects.get().expires_on == days_ahead(offset)


def test_the_maximum_is_configurable(settings, request_as):
    settings.EXCEPTION_MAX_DAYS = 90
    errors = request_as(via_api, "owner", expires_on=days_ahead(91))
    assert errors["expires_on"][0].startswith("An exception may run at most 90 days")
    assert request_as(via_api, "owner", expires_on=days_ahead(90)) == {}


def test_a_draft_whose_date_passed_cannot_be_submitted(people, teams):
    with clock(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)):
        draft = make_exception(people["owner"], teams["hr"], expires_on=dt.date(2026, 7, 1))
    before = state(draft)
    with clock(dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)), pytest.raises(ValidationError) as caught:
        services.exception_submit(exception=draft, actor=people["owner"])
    assert caught.value.message_dict == {"expires_on": ["The expiry date must be in the future."]}
    assert state(draft) == before


# --- whose controls, which team ------------------------------------------------------------------

@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("refs, message", [
    (["HR-01", "ENG-01"], "ENG-01 is not owned by HR; ask Security to raise an exception for another team's controls."),
    (["LEG-01", "HR-01", "ENG-01"], "ENG-01, LEG-01 are not owned by HR;"),
])
def test_a_team_member_cannot_request_for_another_teams_controls(request_as, door, refs, message):
    before = counts()
    errors = request_as(door, "owner", controls=refs)
    assert list(errors) == ["controls"]
    assert message in messages_in(errors)
    assert counts() == before


@pytest.mark.parametrize("door", [via_service, via_api])
def test_a_team_member_cannot_request_for_another_team(request_as, teams, door):
    before = counts()
    errors = request_as(door, "owner", requesting_team=teams["legal"], controls=["HR-01"])
    assert errors["requesting_team"] == ["You can request exceptions only for a team you belong to."]
    assert "HR-01 is not owned by Legal" in messages_in(errors)
    assert counts() == before


def test_the_request_form_offers_only_your_own_teams(request_as, people, teams, client_for):
    page = client_for(people["owner"]).get("/exceptions/new/")
    assert [t.slug for t in page.context["form"].fields["requesting_team"].queryset] == ["hr"]
    before = counts()
    errors = request_as(via_page, "owner", requesting_team=teams["legal"], controls=["LEG-01"])
    assert "requesting_team" in errors
    assert counts() == before


@pytest.mark.parametrize("door", DOORS)
def test_security_may_request_for_any_team_and_any_controls(request_as, teams, door):
    assert request_as(door, "security", controls=["HR-01", "ENG-01", "LEG-01"]) == {}
    assert request_as(door, "security", requesting_team=teams["legal"], controls=["HR-01"], title="For Legal") == {}
    assert sorted(ExceptionRecord.objects.values_list("requesting_team__slug", flat=True)) == ["hr", "legal"]


def test_adding_another_teams_control_to_an_approved_exception_is_refused_and_voids_nothing(
    people, teams, controls, client_for
):
    exception = advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]]), S.APPROVED, people)
    before = state(exception)
    response = client_for(people["owner"]).patch(f"/api/v1/exceptions/{exception.pk}/",
                                                 json.dumps({"controls": ["HR-01", "ENG-01"]}),
                                                 content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"controls": [
        "ENG-01 is not owned by HR; ask Security to raise an exception for another team's controls."]}
    assert state(exception) == before


# --- missing and out-of-range fields --------------------------------------------------------------

@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("field", ["title", "description", "justification"])
def test_empty_text_is_refused(request_as, door, field):
    before = counts()
    errors = request_as(door, "owner", **{field: ""})
    assert list(errors) == [field]
    assert counts() == before


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("field, value", [("likelihood", 0), ("likelihood", 6), ("impact", 0), ("impact", 6)])
def test_likelihood_and_impact_run_from_1_to_5(request_as, door, field, value):
    before = counts()
    errors = request_as(door, "owner", **{field: value})
    assert list(errors) == [field]
    assert counts() == before


@pytest.mark.parametrize("field, value, message", [
    ("controls", ["HR-01", "NOPE-99"], "No such control."),
    ("criteria", ["ZZ9.9"], "Object with code=ZZ9.9 does not exist."),
    ("business_owner", "no-such-team", "Object with slug=no-such-team does not exist."),
    ("type", "loophole", '"loophole" is not a valid choice.'),
])
def test_the_api_names_the_field_that_refers_to_nothing(people, teams, controls, client_for, field, value,
                                                        message):
    body = {**fields_for(teams["hr"]), "requesting_team": "hr", "business_owner": "hr", "controls": ["HR-01"],
            "expires_on": str(days_ahead(60)), field: value}
    before = counts()
    response = client_for(people["owner"]).post("/api/v1/exceptions/", json.dumps(body),
                                                content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert counts() == before


def test_the_api_ignores_status_and_version_on_create(people, teams, controls, client_for):
    body = {**fields_for(teams["hr"]), "requesting_team": "hr", "business_owner": "hr",
            "expires_on": str(days_ahead(60)), "status": "approved", "version": 9, "recommendation": "approve"}
    response = client_for(people["owner"]).post("/api/v1/exceptions/", json.dumps(body),
                                                content_type="application/json")
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["version"], response.json()["recommendation"]) == (
        "draft", 1, "")


@pytest.mark.parametrize("patch, field", [
    ({"expires_on": "2020-01-01"}, "expires_on"),
    ({"expires_on": "not a date"}, "expires_on"),
    ({"likelihood": 6}, "likelihood"),
    ({"title": ""}, "title"),
    ({"controls": ["NOPE-99"]}, "controls"),
    ({"business_owner": "no-such-team"}, "business_owner"),
])
def test_a_bad_edit_of_an_approved_exception_voids_nothing(people, teams, controls, client_for, patch, field):
    exception = advance(make_exception(people["owner"], teams["hr"], controls=[controls["hr"]]), S.APPROVED, people)
    before = state(exception)
    response = client_for(people["owner"]).patch(f"/api/v1/exceptions/{exception.pk}/", json.dumps(patch),
                                                 content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert state(exception) == before
    assert fresh(exception).status == S.APPROVED


@pytest.mark.parametrize("body, field", [
    ({"decision": "maybe"}, "decision"),
    ({"password": ""}, "password"),
    ({"typed_name": ""}, "typed_name"),
    ({"content_sha256": ""}, "content_sha256"),
])
def test_a_malformed_signature_through_the_api_signs_nothing(people, teams, client_for, body, field):
    exception = advance(make_exception(people["owner"], teams["hr"]), S.UNDER_REVIEW, people)
    full = {"decision": "approve", "typed_name": people["finance"].get_full_name(), "password": PASSWORD,
            "otp_code": second_factor(people["finance"]), "content_sha256": exception.content_sha256(), **body}
    before = state(exception)
    response = client_for(people["finance"]).post(f"/api/v1/exceptions/{exception.pk}/sign/", json.dumps(full),
                                                  content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert state(exception) == before


@pytest.mark.parametrize("action, start, persona, body, field", [
    ("review", S.SUBMITTED, "security", {"recommendation": "approve", "note": ""}, "note"),
    ("review", S.SUBMITTED, "security", {"recommendation": "shrug", "note": "Why not."}, "recommendation"),
    ("revoke", S.APPROVED, "security", {"reason": ""}, "reason"),
    ("close", S.APPROVED, "owner", {}, "reason"),
])
def test_an_action_without_its_reason_changes_nothing(people, teams, client_for, action, start, persona, body,
                                                       field):
    exception = advance(make_exception(people["owner"], teams["hr"]), start, people)
    before = state(exception)
    response = client_for(people[persona]).post(f"/api/v1/exceptions/{exception.pk}/{action}/", json.dumps(body),
                                                content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert state(exception) == before


def test_submitting_an_approved_exception_through_the_api_is_a_clear_400(people, teams, client_for):
    exception = advance(make_exception(people["owner"], teams["hr"]), S.APPROVED, people)
    before = state(exception)
    response = client_for(people["owner"]).post(f"/api/v1/exceptions/{exception.pk}/submit/")
    assert response.status_code == 400
    assert state(exception) == before


def test_an_absurd_expiring_within_is_ignored_on_the_register(people, client_for):
    response = client_for(people["owner"]).get("/exceptions/?expiring_within=100000000")
    assert response.status_code == 200
    assert "Some filters were not understood" in response.content.decode()


def test_an_absurd_expiring_within_is_a_400_from_the_api(people, client_for):
    response = client_for(people["owner"]).get("/api/v1/exceptions/?expiring_within=100000000")
    assert response.status_code == 400
    assert "expiring_within" in response.json()
