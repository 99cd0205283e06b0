"""An id that points at something the caller may not see, or at a person who may not be
chosen, is answered exactly as an id that points at nothing.

For every id-taking field of a form or an API body where some row is hidden from someone who
may post it (outside exceptions/, whose fields that app tests), post (a) a value that names
nothing and (b) values that name hidden rows: another team's evidence request, identity or
attestation item, another audit or what lies outside an auditor's audit, and for technical
owners a colleague in another team, a person who left and an external auditor. The answers
must be identical once the posted value itself is set aside, and must not name the hidden row.

Fields whose rows nobody who may post them is kept from (teams, controls, criteria, evidence
standards, role groups: the programme's structure, which every staff member reads) are
narrowed with ``permissions.restrict`` all the same; they have no hidden row to post here.
"""

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.utils import timezone

from nhi import campaigns
from nhi.models import NonHumanIdentity
from tests.audits.conftest import assign, make_audit
from tests.evidence.factories import make_request, make_template
from tests.factories import ControlFactory, CriterionFactory, UserFactory, member_of

TODAY = timezone.localdate()
NOTHING = 987654  # no row has this id
LEAVER = "Lee Nightingale"


@pytest.fixture
def world(teams, personas):
    security, owner = personas["security"], personas["owner"]
    hr, legal = teams["hr"], teams["legal"]
    leaver = member_of(hr, username="lee_leaver", first_name="Lee", last_name="Nightingale", is_active=False)
    member_of(teams["engineering"], username="erin_eng")

    cc61 = CriterionFactory(code="CC6.1", category="security", title="Logical access")
    p41 = CriterionFactory(code="P4.1", category="privacy", series="P4", title="Retention of personal data")
    hr_control = ControlFactory(ref="HR-01", name="Leaver access removal", business_owner=hr, control_owner=hr,
                                evidence_owner=hr, criteria=[cc61])
    legal_control = ControlFactory(ref="PRV-01", name="Privileged memo review", business_owner=legal,
                                   control_owner=legal, evidence_owner=legal, criteria=[p41])
    hr_template = make_template(hr, control=hr_control, title="Leaver access removals")
    legal_template = make_template(legal, control=legal_control, title="Quarterly memo privilege check")
    hr_request = make_request(hr_template, due_on=TODAY + dt.timedelta(days=14))
    legal_request = make_request(legal_template, due_on=TODAY + dt.timedelta(days=14))

    def identity(team, name):
        return NonHumanIdentity.objects.create(name=name, kind="access_key", provider="AWS", external_id=name,
                                               owner_team=team, created_on=TODAY - dt.timedelta(days=30))

    hr_key = identity(hr, "hr-payroll-key")
    legal_key = identity(legal, "counsel-vault-token")
    campaign = campaigns.campaign_open(actor=security, name="Quarterly review", due_on=TODAY + dt.timedelta(days=14))

    window = (TODAY - dt.timedelta(days=90), TODAY + dt.timedelta(days=90))
    audit_a = make_audit(security, window=window)
    audit_b = make_audit(security, name="Project Kestrel privacy audit", categories=("security", "privacy"),
                         window=window)
    assign(audit_a, security, personas["auditor"])
    return {
        "owner": owner, "leaver": leaver, "other_team": personas["other_team"], "auditor": personas["auditor"],
        "hr": hr, "legal": legal, "cc61": cc61, "p41": p41, "hr_control": hr_control,
        "legal_control": legal_control, "legal_template": legal_template, "hr_request": hr_request,
        "legal_request": legal_request, "hr_key": hr_key, "campaign": campaign,
        "legal_key": legal_key, "legal_item": campaign.items.get(nhi=legal_key), "audit_a": audit_a,
        "audit_b": audit_b,
    }


# --- how each answer is read --------------------------------------------------------------------

def api(response):
    return response.status_code, response.json()


def form(name: str):
    def read(response):
        return response.status_code, dict(response.context[name].errors)
    return read


def flashed(response):
    """After following the redirect: where it led, and the messages shown there."""
    return response.redirect_chain, [str(message) for message in response.context["messages"]]


def post_json(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


# --- who may not be chosen, and what is hidden -----------------------------------------------------

def _strangers(w):
    return [("a colleague in another team", w["other_team"]), ("a person who left", w["leaver"]),
            ("an external auditor", w["auditor"])]


def strangers(w):
    """People who are not active members of the owning team, by username, with their names."""
    return [(what, person.username, [person.get_full_name()]) for what, person in _strangers(w)]


def strangers_by_id(w):
    return [(what, person.pk, [person.get_full_name()]) for what, person in _strangers(w)]


def request_of_legal(w):
    return [("another team's request", w["legal_request"].pk, [w["legal_request"].title])]


def audit_b(w):
    return [("another audit", w["audit_b"].pk, [w["audit_b"].name])]


def control_outside(w, attribute="pk"):
    return [("a control outside the audit", getattr(w["legal_control"], attribute), [w["legal_control"].name])]


def criterion_outside(w, attribute="pk"):
    return [("a criterion outside the audit", getattr(w["p41"], attribute), [w["p41"].title])]


NHI_FORM = {"name": "hr-new-key", "kind": "access_key", "provider": "AWS", "environment": "production",
            "external_id": "hr-new-1"}
RAISE = {"title": "Onboarding tickets", "description": "Every joiner with their approver.",
         "due_on": (TODAY + dt.timedelta(days=10)).isoformat()}


@dataclass
class Case:
    persona: str
    send: Callable  # (client, world, value) -> response
    read: Callable  # response -> the answer to compare
    missing: object  # a value that names nothing
    hidden: Callable  # world -> [(what it is, the value naming it, names the answer must not show)]


CASES = {
    # evidence
    "evidence API: submit to a request": Case(
        "owner", lambda c, w, v: c.post("/api/v1/evidence/", {"request": v, "link": "https://tickets.example/1"}),
        api, NOTHING, request_of_legal),
    "evidence API: list filtered by request": Case(
        "owner", lambda c, w, v: c.get("/api/v1/evidence/", {"request": v}),
        api, NOTHING, request_of_legal),

    # non-human identities
    "NHI API: register with a technical owner": Case(
        "owner", lambda c, w, v: post_json(c, "/api/v1/nhis/", {**NHI_FORM, "owner_team": "hr",
                                                               "technical_owner": v}),
        api, "nobody_here", strangers),
    "NHI API: change the technical owner": Case(
        "owner", lambda c, w, v: c.patch(f"/api/v1/nhis/{w['hr_key'].pk}/", json.dumps({"technical_owner": v}),
                                         content_type="application/json"),
        api, "nobody_here", strangers),
    "NHI API: transfer with a technical owner": Case(
        "owner", lambda c, w, v: post_json(c, f"/api/v1/nhis/{w['hr_key'].pk}/transfer/",
                                           {"team": "engineering", "technical_owner": v}),
        api, "nobody_here", strangers),
    "NHI page: register with a technical owner": Case(
        "owner", lambda c, w, v: c.post("/nhi/new/", {**NHI_FORM, "owner_team": w["hr"].pk, "technical_owner": v}),
        form("form"), NOTHING, strangers_by_id),
    "NHI page: register for a team": Case(
        "owner", lambda c, w, v: c.post("/nhi/new/", {**NHI_FORM, "owner_team": v}),
        form("form"), NOTHING, lambda w: [("a team the owner is not in", w["legal"].pk, [])]),
    "NHI page: change the technical owner": Case(
        "owner", lambda c, w, v: c.post(f"/nhi/{w['hr_key'].pk}/edit/", {**NHI_FORM, "name": "hr-payroll-key",
                                                                         "external_id": "hr-payroll-key",
                                                                         "technical_owner": v}),
        form("form"), NOTHING, strangers_by_id),
    "NHI page: transfer with a technical owner": Case(
        "owner", lambda c, w, v: c.post(f"/nhi/{w['hr_key'].pk}/transfer/",
                                        {"team": w["hr"].__class__.objects.get(slug="engineering").pk,
                                         "technical_owner": v}),
        form("transfer_form"), NOTHING, strangers_by_id),
    "NHI API: attest an item": Case(
        "owner", lambda c, w, v: post_json(c, f"/api/v1/attestation-campaigns/{w['campaign'].pk}/attest/",
                                           {"item": v, "decision": "keep"}),
        api, NOTHING, lambda w: [("another team's identity", w["legal_item"].pk, [w["legal_key"].name])]),

    # audits, as the auditor of audit A
    "audit API: raise a request on an audit": Case(
        "auditor", lambda c, w, v: post_json(c, "/api/v1/audit-requests/", {**RAISE, "audit": v,
                                                                            "control": "HR-01"}),
        api, NOTHING, audit_b),
    "audit API: raise a request about a control": Case(
        "auditor", lambda c, w, v: post_json(c, "/api/v1/audit-requests/", {**RAISE, "audit": w["audit_a"].pk,
                                                                            "control": v}),
        api, "NOPE-99", lambda w: control_outside(w, "ref")),
    "audit API: raise a request about a criterion": Case(
        "auditor", lambda c, w, v: post_json(c, "/api/v1/audit-requests/", {**RAISE, "audit": w["audit_a"].pk,
                                                                            "criterion": v}),
        api, "P9.9", lambda w: criterion_outside(w, "code")),
    "audit API: request a report": Case(
        "auditor", lambda c, w, v: post_json(c, "/api/v1/reports/", {"audit": v, "kind": "ownership_matrix"}),
        api, NOTHING, audit_b),
    "audit API: requests filtered by audit": Case(
        "auditor", lambda c, w, v: c.get("/api/v1/audit-requests/", {"audit": v}),
        api, NOTHING, audit_b),
    "audit page: raise a request about a control": Case(
        "auditor", lambda c, w, v: c.post(f"/audits/{w['audit_a'].pk}/requests/new/", {**RAISE, "control": v}),
        form("form"), NOTHING, control_outside),
    "audit page: raise a request about a criterion": Case(
        "auditor", lambda c, w, v: c.post(f"/audits/{w['audit_a'].pk}/requests/new/", {**RAISE, "criterion": v}),
        form("form"), NOTHING, criterion_outside),
    "audit page: sample a control's evidence": Case(
        "auditor", lambda c, w, v: c.post(f"/audits/{w['audit_a'].pk}/samples/new/",
                                          {"population": "control_evidence", "control": v, "size": 1}),
        form("form"), NOTHING, control_outside),
    "audit page: sample a standard's requests": Case(
        "auditor", lambda c, w, v: c.post(f"/audits/{w['audit_a'].pk}/samples/new/",
                                          {"population": "template_requests", "template": v, "size": 1}),
        form("form"), NOTHING, lambda w: [("a standard outside the audit", w["legal_template"].pk,
                                            [w["legal_template"].title])]),
    "audit page: end an auditor's access": Case(
        "security", lambda c, w, v: c.post(f"/audits/{w['audit_a'].pk}/auditors/end/", {"user": v}, follow=True),
        flashed, NOTHING, lambda w: [("someone who is not its auditor", w["leaver"].pk, [LEAVER])]),
}


def _set_aside(answer, value) -> str:
    """The answer as text, with the value the caller posted (which some messages repeat) replaced."""
    text = json.dumps(answer, sort_keys=True, default=str)
    return re.sub(rf"(?<!\w){re.escape(str(value))}(?!\w)", "<posted>", text)


@pytest.mark.parametrize("name", CASES)
def test_a_hidden_row_is_answered_as_a_missing_one(world, personas, client_for, name):
    case = CASES[name]
    client = client_for(personas[case.persona])

    missing = case.send(client, world, case.missing)
    expected = _set_aside(case.read(missing), case.missing)

    for what, value, names in case.hidden(world):
        response = case.send(client, world, value)
        assert _set_aside(case.read(response), value) == expected, what
        for name in names:
            assert name not in missing.content.decode() and name not in response.content.decode(), (what, name)


def test_every_case_is_a_refusal_except_the_filters(world, personas, client_for):
    """The answers compared above are refusals (or, for list filters, empty lists): a case
    whose 'missing' value were accepted would prove nothing."""
    for name, case in CASES.items():
        status, answer = case.read(case.send(client_for(personas[case.persona]), world, case.missing))
        if "filtered by" in name and status == 200:
            assert answer["results"] == [], name
        elif case.read is flashed:
            assert answer, name
        else:
            assert status in (400, 404), (name, status, answer)


def test_the_technical_owner_refusal_names_the_owning_team_only(world, personas, client_for):
    response = post_json(client_for(personas["owner"]), "/api/v1/nhis/",
                         {**NHI_FORM, "owner_team": "hr", "technical_owner": world["other_team"].username})
    assert response.json() == {"technical_owner": ["Choose an active member of HR."]}


def test_the_right_people_are_accepted(world, personas, client_for):
    """The picker is not simply closed: an active member of the owning team is taken, and the
    technical owner on record may stay after leaving until someone changes it."""
    client = client_for(personas["owner"])
    created = post_json(client, "/api/v1/nhis/", {**NHI_FORM, "owner_team": "hr",
                                                  "technical_owner": world["owner"].username})
    assert created.status_code == 201 and created.json()["technical_owner"] == world["owner"].username

    NonHumanIdentity.objects.filter(pk=world["hr_key"].pk).update(technical_owner=world["leaver"])
    kept = client.patch(f"/api/v1/nhis/{world['hr_key'].pk}/", json.dumps(
        {"technical_owner": world["leaver"].username, "purpose": "Payroll export."}), content_type="application/json")
    assert kept.status_code == 200, kept.content
    page = client.post(f"/nhi/{world['hr_key'].pk}/edit/", {**NHI_FORM, "name": "hr-payroll-key",
                                                             "external_id": "hr-payroll-key",
                                                             "technical_owner": world["leaver"].pk})
    assert page.status_code == 302
    erin = UserFactory(username="erin_eng")
    moved = post_json(client, f"/api/v1/nhis/{world['hr_key'].pk}/transfer/",
                      {"team": "engineering", "technical_owner": erin.username})
    assert moved.status_code == 200 and moved.json()["technical_owner"] == "erin_eng"
