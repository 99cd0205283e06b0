"""Who may see and do what with an exception, page by page and endpoint by endpoint.

Personas (tests/conftest.py): anonymous; other_team (Legal); owner (HR, the requesting team);
security; leadership; auditor (refused here: sees the register only through an audit, tests/audits/); plus
finance (a Finance team member: signs access exceptions, so sees the register).

Rows the persona may not see answer 404; rows they see but may not act on answer 403; and a
refused write changes nothing: status, version, signatures, versions, log, notifications.
"""

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exceptions.models import (
    ExceptionRecord,
    ExceptionSignature,
    ExceptionStatus,
    ExceptionType,
    ExceptionVersion,
)
from tests.exceptions.factories import advance, fresh, make_exception, state
from tests.factories import PASSWORD, second_factor

S = ExceptionStatus
pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "other_team", "owner", "security", "leadership", "auditor", "finance"]
SIGNED_IN = set(PERSONAS) - {"anonymous"}
VISIBLE = {"owner", "security", "leadership", "finance"}  # who sees HR's access exception
REQUESTERS = {"owner", "security"}
SIGNERS = {"leadership", "finance"}


@pytest.fixture(autouse=True)
def _no_pdf_rendering(monkeypatch):
    """Access to the PDFs is tested here; what is in them, in test_pdf.py."""
    monkeypatch.setattr("exceptions.reports.render_pdf", lambda template, context: b"%PDF-1.7 stand-in")


@pytest.fixture
def hr_exception(people, teams, controls):
    def make(status, **fields):
        exception = make_exception(people["owner"], teams["hr"], controls=[controls["hr"]], **fields)
        return advance(exception, status, people)
    return make


def expected(persona, allowed, *, on_object=True, ok=200, refused=403):
    """The status code a persona should get: sign-in first, then visibility, then the right."""
    if persona == "anonymous":
        return "login"
    if persona == "auditor":
        return 403  # the portal guard: external auditors reach the programme only through their audits
    if on_object and persona not in VISIBLE:
        return 404
    return ok if persona in allowed else refused


# --- pages: reading ----------------------------------------------------------------------------

PAGES = [
    ("/exceptions/", SIGNED_IN, False),
    ("/exceptions/{pk}/", VISIBLE, True),
    ("/exceptions/{pk}/edit/", REQUESTERS, True),
    ("/exceptions/{pk}/sign/", SIGNERS, True),
    ("/exceptions/new/", SIGNED_IN - {"auditor"}, False),  # any team member requests for their team
    ("/exceptions/{pk}/pdf/", VISIBLE, True),
    ("/exceptions/register.pdf", SIGNED_IN, False),
]


def outcome(response):
    """A response as the matrix states it: the status code, or "login" for the sign-in redirect."""
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="):
        return "login"
    return response.status_code


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_access(hr_exception, people, client_for, persona):
    exception = hr_exception(S.UNDER_REVIEW)
    client = client_for(people[persona])
    before = state(exception)

    got = {url: outcome(client.get(url.format(pk=exception.pk))) for url, _, _ in PAGES}

    assert got == {url: expected(persona, allowed, on_object=on_object) for url, allowed, on_object in PAGES}
    assert state(exception) == before


@pytest.mark.parametrize("persona", sorted(SIGNED_IN))
def test_the_register_lists_only_what_the_persona_may_see(hr_exception, people, teams, controls, client_for,
                                                          persona):
    hr = hr_exception(S.APPROVED)
    legal = make_exception(people["other_team"], teams["legal"], controls=[controls["legal"]], type="policy",
                           title="Legal keeps a shared mailbox")
    page = client_for(people[persona]).get("/exceptions/")
    api = client_for(people[persona]).get("/api/v1/exceptions/")
    if persona == "auditor":  # the register reaches auditors through their audit (tests/audits/)
        assert (page.status_code, api.status_code) == (403, 403)
        return
    page, api = page.content.decode(), api.json()

    sees = {
        "owner": {hr.reference}, "other_team": {legal.reference}, "security": {hr.reference, legal.reference},
        "leadership": {hr.reference, legal.reference}, "finance": {hr.reference, legal.reference}, "auditor": set(),
    }[persona]
    assert {e["reference"] for e in api["results"]} == sees
    for exception in (hr, legal):
        assert (exception.reference in page) == (exception.reference in sees)


# --- pages: writing ----------------------------------------------------------------------------

def _edit_form(exception):
    return {"type": exception.type, "title": exception.title, "business_owner": exception.business_owner_id,
            "description": exception.description, "justification": "Changed through the page.",
            "likelihood": exception.likelihood, "impact": exception.impact,
            "compensating_controls": exception.compensating_controls,
            "controls": [c.pk for c in exception.controls.all()], "expires_on": exception.expires_on.isoformat()}


def _sign_form(exception, user):
    return {"decision": "approve", "typed_name": user.get_full_name(), "password": PASSWORD,
            "otp_code": second_factor(user),
            "content_sha256": exception.content_sha256()}


PAGE_WRITES = {
    # name: (start, path, form, who may, status after)
    "submit": (S.DRAFT, "submit/", lambda e, u: {}, REQUESTERS, S.SUBMITTED),
    "review": (S.SUBMITTED, "review/", lambda e, u: {"recommendation": "approve", "note": "Fine."}, {"security"},
               S.UNDER_REVIEW),
    "sign": (S.UNDER_REVIEW, "sign/", _sign_form, SIGNERS, S.UNDER_REVIEW),
    "revoke": (S.APPROVED, "revoke/", lambda e, u: {"reason": "Stop."}, {"security", "leadership"}, S.REVOKED),
    "close": (S.APPROVED, "close/", lambda e, u: {"reason": "Remediated."}, REQUESTERS, S.CLOSED),
    "edit": (S.APPROVED, "edit/", lambda e, u: _edit_form(e), REQUESTERS, S.SUBMITTED),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_writes(hr_exception, people, client_for, persona):
    """Each write on a fresh exception: (response, whether anything changed)."""
    user = people[persona]
    got, want = {}, {}
    unchanged = {}  # start status → an exception no write has changed yet, reused by the next refusal
    for name, (start, path, form, allowed, after) in PAGE_WRITES.items():
        exception = unchanged.pop(start, None) or hr_exception(start)
        before = state(exception)
        response = client_for(user).post(f"/exceptions/{exception.pk}/{path}",
                                         form(exception, user or people["owner"]))
        got[name] = (outcome(response), state(exception) != before, fresh(exception).status)
        if state(exception) == before:
            unchanged[start] = exception
        code = expected(persona, allowed, ok=302)
        want[name] = (code, code == 302, after if code == 302 else start)
        if code == 302:
            assert response["Location"] == f"/exceptions/{exception.pk}/"
    assert got == want


# --- the API -----------------------------------------------------------------------------------

def api(client, method, url, body=None):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json")


def expected_api(persona, allowed, *, on_object=True, ok=200):
    want = expected(persona, allowed, on_object=on_object, ok=ok)
    return 403 if want == "login" else want  # session auth: no challenge, so 403


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_list_and_retrieve(hr_exception, people, client_for, persona):
    exception = hr_exception(S.UNDER_REVIEW)
    client = client_for(people[persona])

    listed = client.get("/api/v1/exceptions/")
    retrieved = client.get(f"/api/v1/exceptions/{exception.pk}/")

    assert listed.status_code == expected_api(persona, SIGNED_IN, on_object=False)
    if listed.status_code == 200:
        assert listed.json()["count"] == (1 if persona in VISIBLE else 0)
    assert retrieved.status_code == expected_api(persona, VISIBLE)
    if retrieved.status_code == 200:
        assert retrieved.json()["content_sha256"] == exception.content_sha256()


API_WRITES = {
    # name: (start, method, path, body, who may, status after)
    "patch": (S.UNDER_REVIEW, "patch", "", lambda e, u: {"justification": "Changed through the API."}, REQUESTERS,
              S.SUBMITTED),
    "submit": (S.DRAFT, "post", "submit/", lambda e, u: {}, REQUESTERS, S.SUBMITTED),
    "review": (S.SUBMITTED, "post", "review/", lambda e, u: {"recommendation": "approve", "note": "Fine."},
               {"security"}, S.UNDER_REVIEW),
    "sign": (S.UNDER_REVIEW, "post", "sign/", _sign_form, SIGNERS, S.UNDER_REVIEW),
    "revoke": (S.APPROVED, "post", "revoke/", lambda e, u: {"reason": "Stop."}, {"security", "leadership"},
               S.REVOKED),
    "close": (S.APPROVED, "post", "close/", lambda e, u: {"reason": "Remediated."}, REQUESTERS, S.CLOSED),
    "put": (S.APPROVED, "put", "", lambda e, u: {"title": "Replaced"}, set(), None),
    "delete": (S.APPROVED, "delete", "", lambda e, u: {}, set(), None),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_writes(hr_exception, people, client_for, persona):
    """Each write on a fresh exception: (status code, whether anything changed, status after)."""
    user = people[persona]
    got, want = {}, {}
    unchanged = {}  # start status → an exception no write has changed yet, reused by the next refusal
    for name, (start, method, path, body, allowed, after) in API_WRITES.items():
        exception = unchanged.pop(start, None) or hr_exception(start)
        before = state(exception)
        response = api(client_for(user), method, f"/api/v1/exceptions/{exception.pk}/{path}",
                       body(exception, user or people["owner"]))
        got[name] = (response.status_code, state(exception) != before, fresh(exception).status)
        if state(exception) == before:
            unchanged[start] = exception
        code = expected_api(persona, allowed)
        if method in ("put", "delete") and persona not in ("anonymous", "auditor"):
            code = 405  # no such method, for anyone: exceptions are never replaced or deleted
        want[name] = (code, code == 200, after if code == 200 else start)
        if code == 200:
            assert response.json()["status"] == after
    assert got == want


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_create(people, teams, controls, client_for, persona):
    body = {"type": "access", "title": "New request", "description": "d", "justification": "j", "likelihood": 2,
            "impact": 2, "requesting_team": "hr", "business_owner": "hr", "controls": ["HR-01"],
            "expires_on": str(timezone.localdate() + dt.timedelta(days=30))}

    response = api(client_for(people[persona]), "post", "/api/v1/exceptions/", body)

    # Outside HR, a team member's request for HR is bad input (400, see test_bad_input.py);
    # someone in no team at all may not request anything.
    want = {"anonymous": 403, "auditor": 403, "owner": 201, "security": 201}.get(persona, 400)
    assert response.status_code == want
    assert ExceptionRecord.objects.count() == (1 if want == 201 else 0)
    if want == 201:
        assert response.json()["status"] == "draft"


@pytest.mark.parametrize("persona, action, start, reason", [
    ("leadership", "close", S.APPROVED, "Only the requesting team or Security can do this."),
    ("finance", "patch", S.UNDER_REVIEW, "Only the requesting team or Security can do this."),
    ("security", "sign", S.UNDER_REVIEW, "You are not a required signer for access exceptions."),
])
def test_an_api_refusal_says_why(hr_exception, people, client_for, persona, action, start, reason):
    exception = hr_exception(start)
    _, method, path, body, _, _ = API_WRITES[action]
    response = api(client_for(people[persona]), method, f"/api/v1/exceptions/{exception.pk}/{path}",
                   body(exception, people[persona]))
    assert response.status_code == 403
    assert response.json() == {"detail": reason}


def test_an_exception_owned_by_hr_but_requested_by_engineering_is_seen_by_both(people, teams, client_for):
    from tests.factories import member_of

    engineer = member_of(teams["engineering"], username="ed_engineering")
    exception = make_exception(people["security"], teams["engineering"], business_owner=teams["hr"])
    for user in (engineer, people["owner"]):
        assert client_for(user).get(f"/exceptions/{exception.pk}/").status_code == 200
    # ...but only the requesting team edits it.
    assert client_for(people["owner"]).get(f"/exceptions/{exception.pk}/edit/").status_code == 403
    assert client_for(engineer).get(f"/exceptions/{exception.pk}/edit/").status_code == 200


# --- query counts ------------------------------------------------------------------------------

def grow_to(total: int, people, teams, controls, criterion) -> None:
    """Add exceptions until there are ``total``, in every status and type, half of them HR's,
    each with a control, a criterion, a version, and signatures where they were signed."""
    start = ExceptionRecord.objects.count()
    statuses, kinds = list(S), list(ExceptionType)
    today = timezone.localdate()
    new = ExceptionRecord.objects.bulk_create([
        ExceptionRecord(
            type=kinds[i % len(kinds)], title=f"Bulk exception {i}", description="Bulk made.", justification="Test.",
            likelihood=1 + i % 5, impact=1 + (i // 5) % 5, status=statuses[i % len(statuses)],
            requesting_team=teams["hr"] if i % 2 else teams["engineering"],
            business_owner=teams["legal"] if i % 3 == 0 else teams["hr"],
            expires_on=today + dt.timedelta(days=1 + i), created_by=people["security"],
        )
        for i in range(start, total)
    ])
    control = [controls["hr"], controls["eng"], controls["legal"]]
    ExceptionRecord.controls.through.objects.bulk_create([
        ExceptionRecord.controls.through(exceptionrecord_id=e.pk, control_id=control[i % 3].pk)
        for i, e in enumerate(new)
    ])
    ExceptionRecord.criteria.through.objects.bulk_create([
        ExceptionRecord.criteria.through(exceptionrecord_id=e.pk, criterion_id=criterion.pk) for e in new
    ])
    ExceptionVersion.objects.bulk_create([
        ExceptionVersion(exception=e, version=1, content={"title": e.title}, content_sha256="0" * 64,
                         created_by=people["owner"]) for e in new
    ])
    ExceptionSignature.objects.bulk_create([
        ExceptionSignature(exception=e, version=1, role="leadership", signer=people["leadership"],
                           typed_name=people["leadership"].get_full_name(), decision="approve",
                           content_sha256="0" * 64, ip_address="192.0.2.1")
        for e in new if e.status in (S.APPROVED, S.EXPIRED, S.CLOSED, S.REVOKED)
    ])


URLS = ["/exceptions/", "/exceptions/?status=approved", "/exceptions/?expiring_within=30&team=hr&ordering=-status",
        "/api/v1/exceptions/", "/api/v1/exceptions/?status=approved&ordering=-expires_on"]


@pytest.mark.parametrize("persona", ["security", "owner", "finance"])
def test_lists_take_the_same_queries_for_5_and_60_exceptions(people, teams, controls, criterion, client_for,
                                                             persona):
    client = client_for(people[persona])

    def queries():
        counted = {}
        for url in URLS:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url)
            assert response.status_code == 200
            assert b"Bulk exception" in response.content, url  # an empty page would hide a difference
            counted[url] = len(captured)
        return counted

    grow_to(5, people, teams, controls, criterion)
    small = queries()
    grow_to(60, people, teams, controls, criterion)
    large = queries()
    assert large == small
