"""Segregation of duties: nobody approves, signs, recommends or accepts what their own team
requested, or what they created, submitted, uploaded or attested.

One matrix over every judging action × the three kinds of actor — a member of the requesting
(owning, answering) team, the person who made the thing, and someone independent — through
each door: the service, the page and the API. Every actor holds the role the action needs, so
a refusal can only be the independence rule's; a refusal names the stake and changes nothing
(status, signatures, evidence, campaign, activity log, notifications); the independent actor
succeeds through every door.

An attestation campaign has no requesting team (Security opens it over every team's
identities), so its row has no "in the team" actor: 8 actions, 23 actor cells, 69 cases.
"""

import dataclasses
import datetime as dt
import json
from collections.abc import Callable

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from audits import services as audit_services
from audits.models import Audit, AuditComment, AuditRequest
from evidence import services as evidence_services
from evidence.models import Evidence, EvidenceRequest
from exceptions import services as exception_services
from exceptions.models import ExceptionRecord, ExceptionSignature
from nhi import campaigns
from nhi.models import AttestationCampaign, NonHumanIdentity
from soc2hub.models import ActivityLog, Membership, Notification
from tests.evidence.factories import make_request, make_template, pdf
from tests.factories import PASSWORD, ControlFactory, CriterionFactory, Role, UserFactory, member_of, second_factor

pytestmark = pytest.mark.django_db

IN_TEAM, MAKER, INDEPENDENT = "in the team", "made it", "independent"
SERVICE, PAGE, API = "service", "page", "api"


@dataclasses.dataclass
class Case:
    """One judging action on a fresh row, ready to be tried by ``actor`` through each door."""

    actor: object
    service: Callable[[], object]
    page: tuple[str, dict]  # URL and form
    api: tuple[str, dict]  # URL and JSON body
    refusal: str = ""  # what a conflicted actor is told


def world() -> dict:
    """Everything a judging action could change."""
    return {
        "log": list(ActivityLog.objects.order_by("pk").values_list("pk", flat=True)),
        "notifications": Notification.objects.count(),
        "exceptions": list(ExceptionRecord.objects.order_by("pk").values_list(
            "pk", "status", "version", "recommendation", "recommended_by")),
        "signatures": list(ExceptionSignature.objects.order_by("pk").values_list("pk", "role", "decision")),
        "evidence": list(Evidence.objects.order_by("pk").values_list("pk", "status", "reviewed_by")),
        "requests": list(EvidenceRequest.objects.order_by("pk").values_list("pk", "status")),
        "campaigns": list(AttestationCampaign.objects.order_by("pk").values_list("pk", "status", "result_sha256")),
        "audit_requests": list(AuditRequest.objects.order_by("pk").values_list("pk", "status", "accepted_by")),
        "audit_comments": AuditComment.objects.count(),
    }


# --- the rows to judge --------------------------------------------------------------------------

def _exception(creator, team, *, type="policy", submitter=None, security=None, reviewed=True):
    exception = exception_services.exception_create(
        actor=creator, type=type, title=f"{team.name} needs an exception", description="What deviates.",
        justification="Why.", likelihood=2, impact=3, requesting_team=team, business_owner=team,
        expires_on=timezone.localdate() + dt.timedelta(days=60))
    exception_services.exception_submit(exception=exception, actor=submitter or creator)
    if reviewed:
        exception_services.exception_review(exception=exception, reviewer=security, recommendation="approve",
                                            note="Acceptable.")
    return ExceptionRecord.objects.get(pk=exception.pk)


def _sign_case(exception, actor, refusal) -> Case:
    code = second_factor(actor)
    form = {"decision": "approve", "typed_name": actor.get_full_name(), "password": PASSWORD, "otp_code": code,
            "content_sha256": exception.content_sha256()}
    return Case(actor=actor, refusal=refusal,
                service=lambda: exception_services.exception_sign(exception=exception, signer=actor, **form),
                page=(f"/exceptions/{exception.pk}/sign/", form),
                api=(f"/api/v1/exceptions/{exception.pk}/sign/", form))


def leadership_signs(kind, teams, personas) -> Case:
    """A Leadership member signs a policy exception (Leadership alone signs it)."""
    hr, security = teams["hr"], personas["security"]
    if kind == IN_TEAM:  # a Leadership member who is also in HR, the requesting team
        actor = member_of(hr, username="lena_leads_hr", roles=[Role.LEADERSHIP])
        return _sign_case(_exception(personas["owner"], hr, security=security), actor,
                          "You are in HR, the team that requested this exception; someone independent must sign.")
    if kind == MAKER:  # in Security and Leadership, outside HR: raised HR's exception for them
        actor = UserFactory(username="max_security_leader", roles=[Role.SECURITY, Role.LEADERSHIP])
        return _sign_case(_exception(actor, hr, security=security), actor,
                          "You created this exception; someone independent must sign.")
    return _sign_case(_exception(personas["owner"], hr, security=security), personas["leadership"], "")


def finance_signs(kind, teams, personas) -> Case:
    """A Finance team member signs an access exception (Leadership and Finance sign it)."""
    finance, security = teams["finance"], personas["security"]
    fran = member_of(finance, username="fran_finance")
    if kind == IN_TEAM:  # the Finance team's own access exception
        requester = member_of(finance, username="felix_finance")
        return _sign_case(_exception(requester, finance, type="access", security=security), fran,
                          "You are in Finance, the team that requested this exception; someone independent must "
                          "sign.")
    if kind == MAKER:  # in Security and Finance: raised HR's access exception for them
        actor = member_of(finance, username="sasha_security_finance", roles=[Role.SECURITY])
        return _sign_case(_exception(actor, teams["hr"], type="access", security=security), actor,
                          "You created this exception; someone independent must sign.")
    return _sign_case(_exception(personas["owner"], teams["hr"], type="access", security=security), fran, "")


def security_recommends(kind, teams, personas) -> Case:
    """Security records its recommendation on a submitted exception."""
    hr, owner = teams["hr"], personas["owner"]
    if kind == IN_TEAM:  # a Security member who is also in HR
        actor = member_of(hr, username="sid_security_hr", roles=[Role.SECURITY])
        exception = _exception(owner, hr, reviewed=False)
        refusal = "You are in HR, the team that requested this exception; someone independent must recommend."
    elif kind == MAKER:  # Security submitted HR's draft for them
        actor = UserFactory(username="sol_security", roles=[Role.SECURITY])
        exception = _exception(owner, hr, submitter=actor, reviewed=False)
        refusal = "You submitted this exception; someone independent must recommend."
    else:
        actor, exception, refusal = personas["security"], _exception(owner, hr, reviewed=False), ""
    body = {"recommendation": "approve", "note": "Acceptable."}
    return Case(actor=actor, refusal=refusal,
                service=lambda: exception_services.exception_review(exception=exception, reviewer=actor, **body),
                page=(f"/exceptions/{exception.pk}/review/", body),
                api=(f"/api/v1/exceptions/{exception.pk}/review/", body))


def _evidence_to_review(kind, teams, personas):
    hr_request = make_request(make_template(teams["hr"]), due_on=timezone.localdate() + dt.timedelta(days=10))
    if kind == IN_TEAM:  # a Security member who is also in HR reviews Harriet's upload
        actor = member_of(teams["hr"], username="sasha_security_hr", roles=[Role.SECURITY])
        evidence = evidence_services.evidence_submit(request=hr_request, actor=personas["owner"], files=[pdf()])
        return actor, evidence, ("You are in HR, the team that owns this evidence request; someone independent "
                                 "must review it.")
    if kind == MAKER:  # Security submitted a file soc2hub generated (as a campaign's close does)
        actor = personas["security"]
        evidence = evidence_services.evidence_submit_generated(request=hr_request, actor=actor, name="results.csv",
                                                               content=b"identity,decision\n", note="Generated.")
        return actor, evidence, "You submitted this evidence; someone independent must review it."
    evidence = evidence_services.evidence_submit(request=hr_request, actor=personas["owner"], files=[pdf()])
    return personas["security"], evidence, ""


def evidence_approved(kind, teams, personas) -> Case:
    actor, evidence, refusal = _evidence_to_review(kind, teams, personas)
    return Case(actor=actor, refusal=refusal,
                service=lambda: evidence_services.evidence_approve(evidence=evidence, reviewer=actor),
                page=(f"/evidence/submissions/{evidence.pk}/approve/", {}),
                api=(f"/api/v1/evidence/{evidence.pk}/approve/", {}))


def evidence_returned(kind, teams, personas) -> Case:
    actor, evidence, refusal = _evidence_to_review(kind, teams, personas)
    body = {"reason": "The export covers the wrong quarter."}
    return Case(actor=actor, refusal=refusal,
                service=lambda: evidence_services.evidence_return(evidence=evidence, reviewer=actor, **body),
                page=(f"/evidence/submissions/{evidence.pk}/return/", body),
                api=(f"/api/v1/evidence/{evidence.pk}/reject/", body))


def campaign_closed(kind, teams, personas) -> Case:
    """Security closes a campaign, accepting its attestations."""
    NonHumanIdentity.objects.create(name="hr-payroll-key", kind="access_key", provider="AWS",
                                    external_id="hr-payroll-key", owner_team=teams["hr"])
    unowned = NonHumanIdentity.objects.create(name="mystery-key", kind="access_key", provider="AWS",
                                              external_id="mystery-key")
    opener = personas["security"]
    campaign = campaigns.campaign_open(actor=opener, name="Q3 access review",
                                       due_on=timezone.localdate() + dt.timedelta(days=14))
    if kind == MAKER:  # Security confirmed the identity nobody owns, then closes
        actor, refusal = opener, "You confirmed identities in this campaign; someone independent must close it."
        campaigns.item_attest(item=campaign.items.get(nhi=unowned), actor=actor, decision="keep",
                              scopes_confirmed=True)
    else:  # HR confirmed theirs; Security closes
        actor, refusal = opener, ""
        campaigns.item_attest(item=campaign.items.get(nhi__owner_team=teams["hr"]), actor=personas["owner"],
                              decision="keep", scopes_confirmed=True)
    return Case(actor=actor, refusal=refusal,
                service=lambda: campaigns.campaign_close(campaign=campaign, actor=actor),
                page=(f"/nhi/campaigns/{campaign.pk}/close/", {}),
                api=(f"/api/v1/attestation-campaigns/{campaign.pk}/close/", {}))


def _answered_audit_request(kind, teams, personas):
    """An auditor's request HR answered and Security approved, waiting for the auditor."""
    security, hr = personas["security"], teams["hr"]
    criterion = CriterionFactory(code="CC6.1", category="security")
    control = ControlFactory(ref="HR-01", business_owner=hr, control_owner=hr, evidence_owner=hr, criteria=[criterion])
    audit = audit_services.audit_create(actor=security, name="FY26 SOC 2", firm="Example & Co LLP", type="type2",
                                        period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 6, 30),
                                        categories=["security"])
    if kind == IN_TEAM:  # an internal auditor who is in HR, the answering team
        actor, submitter = member_of(hr, username="ines_internal_audit", roles=[Role.AUDITORS]), personas["owner"]
        refusal = "You are in HR, the team that answers this request; someone independent must accept or return it."
    elif kind == MAKER:  # submitted HR's answer, then moved from HR to internal audit
        actor = submitter = member_of(hr, username="hugo_moved_to_audit", roles=[Role.AUDITORS])
        refusal = "You submitted evidence for this request; someone independent must accept or return it."
    else:
        actor, submitter, refusal = personas["auditor"], personas["owner"], ""
    audit_services.audit_auditor_set(audit=audit, actor=security, user=actor,
                                     access_ends_on=timezone.localdate() + dt.timedelta(days=30))
    audit_request = audit_services.audit_request_raise(
        audit=audit, actor=actor, title="Leavers", description="Every leaver and their access removal.",
        control=control, due_on=timezone.localdate() + dt.timedelta(days=10))
    evidence = evidence_services.evidence_submit(request=audit_request.evidence_request, actor=submitter,
                                                 files=[pdf()])
    evidence_services.evidence_approve(evidence=evidence, reviewer=security)
    if kind == MAKER:
        Membership.objects.filter(user=actor, team=hr).delete()
        actor = type(actor).objects.get(pk=actor.pk)  # forget the cached teams
    return actor, AuditRequest.objects.get(pk=audit_request.pk), refusal


def audit_request_accepted(kind, teams, personas) -> Case:
    actor, audit_request, refusal = _answered_audit_request(kind, teams, personas)
    return Case(actor=actor, refusal=refusal,
                service=lambda: audit_services.audit_request_accept(audit_request=audit_request, actor=actor),
                page=(f"/audits/{audit_request.audit_id}/requests/{audit_request.number}/decide/",
                      {"decision": "accept", "comment": ""}),
                api=(f"/api/v1/audit-requests/{audit_request.pk}/accept/", {"comment": ""}))


def audit_request_returned(kind, teams, personas) -> Case:
    actor, audit_request, refusal = _answered_audit_request(kind, teams, personas)
    comment = "Two leavers are missing."
    return Case(actor=actor, refusal=refusal,
                service=lambda: audit_services.audit_request_return(audit_request=audit_request, actor=actor,
                                                                    comment=comment),
                page=(f"/audits/{audit_request.audit_id}/requests/{audit_request.number}/decide/",
                      {"decision": "return", "comment": comment}),
                api=(f"/api/v1/audit-requests/{audit_request.pk}/return/", {"comment": comment}))


ACTIONS = {
    "Leadership signs an exception": (leadership_signs, [IN_TEAM, MAKER, INDEPENDENT]),
    "Finance signs an access exception": (finance_signs, [IN_TEAM, MAKER, INDEPENDENT]),
    "Security recommends on an exception": (security_recommends, [IN_TEAM, MAKER, INDEPENDENT]),
    "evidence is approved": (evidence_approved, [IN_TEAM, MAKER, INDEPENDENT]),
    "evidence is returned": (evidence_returned, [IN_TEAM, MAKER, INDEPENDENT]),
    "an attestation campaign is closed": (campaign_closed, [MAKER, INDEPENDENT]),
    "an auditor accepts an answer": (audit_request_accepted, [IN_TEAM, MAKER, INDEPENDENT]),
    "an auditor returns an answer": (audit_request_returned, [IN_TEAM, MAKER, INDEPENDENT]),
}
CELLS = [(action, kind) for action, (_, kinds) in ACTIONS.items() for kind in kinds]


def test_the_matrix_covers_every_judging_action():
    assert len(ACTIONS) == 8 and len(CELLS) == 23


def attempt(case: Case, door: str, client_for):
    """Try the action through ``door``: (allowed, what the actor was told when refused)."""
    if door == SERVICE:
        try:
            case.service()
        except PermissionDenied as refused:
            return False, str(refused)
        return True, ""
    client = client_for(case.actor)
    if door == PAGE:
        url, form = case.page
        response = client.post(url, form)
        if response.status_code == 403:
            return False, response.content.decode()
        assert response.status_code == 302, response.content.decode()[:2000]
        return True, ""
    url, body = case.api
    response = client.post(url, json.dumps(body), content_type="application/json")
    if response.status_code == 403:
        return False, response.json()["detail"]
    assert response.status_code in (200, 201), response.content
    return True, ""


@pytest.mark.parametrize("door", [SERVICE, PAGE, API])
@pytest.mark.parametrize("action, kind", CELLS)
def test_only_someone_independent_may_judge(teams, personas, client_for, action, kind, door):
    build, _ = ACTIONS[action]
    case = build(kind, teams, personas)
    before = world()

    allowed, told = attempt(case, door, client_for)

    if kind == INDEPENDENT:
        assert allowed, told
        assert world() != before
        assert ActivityLog.objects.filter(actor=case.actor).exclude(pk__in=before["log"]).exists()
    else:
        assert not allowed
        assert case.refusal in told.replace("&#x27;", "'")  # the page escapes it; the reason is the same
        assert world() == before


# --- around the matrix ----------------------------------------------------------------------

def test_whoever_changed_a_version_cannot_sign_it(teams, personas):
    """Changing an exception's content resubmits it: its author has a stake in that version."""
    editor = UserFactory(username="max_security_leader", roles=[Role.SECURITY, Role.LEADERSHIP])
    exception = _exception(personas["owner"], teams["hr"], security=personas["security"])
    exception_services.exception_update(exception=exception, actor=editor, justification="Wider.")
    exception_services.exception_review(exception=exception, reviewer=personas["security"],
                                        recommendation="approve", note="Still fine.")
    with pytest.raises(PermissionDenied, match="You submitted this exception; someone independent must sign."):
        _sign_case(ExceptionRecord.objects.get(pk=exception.pk), editor, "").service()


def test_the_pages_say_why_instead_of_offering_the_action(teams, personas, client_for):
    lena = member_of(teams["hr"], username="lena_leads_hr", roles=[Role.LEADERSHIP])
    exception = _exception(personas["owner"], teams["hr"], security=personas["security"])
    page = client_for(lena).get(f"/exceptions/{exception.pk}/").content.decode().replace("&#x27;", "'")
    assert "You are in HR, the team that requested this exception; someone independent must sign." in page
    assert f"/exceptions/{exception.pk}/sign/" not in page
    sign_page = client_for(lena).get(f"/exceptions/{exception.pk}/sign/")
    assert sign_page.status_code == 403
    assert "someone independent must sign" in sign_page.content.decode()

    sid = member_of(teams["hr"], username="sid_security_hr", roles=[Role.SECURITY])
    draft = _exception(personas["owner"], teams["hr"], reviewed=False)
    page = client_for(sid).get(f"/exceptions/{draft.pk}/").content.decode().replace("&#x27;", "'")
    assert "You are in HR, the team that requested this exception; someone independent must recommend." in page
    assert "Record recommendation" not in page


def test_a_campaign_page_says_who_may_not_close_it(teams, personas, client_for):
    case = campaign_closed(MAKER, teams, personas)
    campaign = AttestationCampaign.objects.get()
    page = client_for(case.actor).get(f"/nhi/campaigns/{campaign.pk}/").content.decode()
    assert "You confirmed identities in this campaign; someone independent must close it." in page
    assert "Close and record the results" not in page
    other = UserFactory(username="sol_security", roles=[Role.SECURITY])
    assert "Close and record the results" in client_for(other).get(f"/nhi/campaigns/{campaign.pk}/").content.decode()


def test_the_review_queue_offers_nothing_from_your_own_team(teams, personas, client_for):
    actor, evidence, _ = _evidence_to_review(IN_TEAM, teams, personas)
    queue = client_for(actor).get("/evidence/review/")
    assert [e.pk for e in queue.context["page"].object_list] == []
    queue = client_for(personas["security"]).get("/evidence/review/")
    assert [e.pk for e in queue.context["page"].object_list] == [evidence.pk]


def test_an_audit_request_page_says_why_a_conflicted_auditor_may_not_decide(teams, personas, client_for):
    actor, audit_request, refusal = _answered_audit_request(IN_TEAM, teams, personas)
    page = client_for(actor).get(f"/audits/{audit_request.audit_id}/requests/{audit_request.number}/")
    assert page.status_code == 200
    assert refusal in page.content.decode()
    assert Audit.objects.count() == 1
